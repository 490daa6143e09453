"""The notebooks' pictures survive where widgets do not: nbconvert's HTML has them (as SVG images), and every
picture output carries a text version for plain-text front ends (a terminal, `nbconvert --to script`'s
readers, CI logs).
"""

from __future__ import annotations

import base64
import re
from pathlib import Path

import pytest

NOTEBOOK = Path(__file__).resolve().parents[2] / "notebooks" / "01-handshake-and-frame.ipynb"


@pytest.mark.timeout(120)
def test_the_frame_notebooks_pictures_are_in_its_html_export_and_in_plain_text(run_notebook_file) -> None:
    from nbconvert import HTMLExporter

    run = run_notebook_file(NOTEBOOK)
    assert run.errors() == []
    pictures = [
        out
        for cell in run.notebook.cells
        for out in cell.get("outputs", [])
        if "image/svg+xml" in out.get("data", {})
    ]
    assert len(pictures) >= 4  # the handshake, two frames, the 16-bit form, the 64-bit form (a solution)
    for out in pictures:
        assert out["data"]["text/plain"].strip(), "a picture without its text version"
    assert any("Sec-WebSocket-Accept = base64(sha1(" in out["data"]["text/plain"] for out in pictures)
    assert any("masking key" in out["data"]["text/plain"] and "37 fa 21 3d" in out["data"]["text/plain"] for out in pictures)

    html, _ = HTMLExporter().from_notebook_node(run.notebook)
    # nbconvert puts each SVG output into an <img> with a base64 data: URL
    images = re.findall(r'<div class="jp-RenderedSVG[^"]*"[^>]*>\s*<img [^>]*src="data:image/svg\+xml;base64,([^"]+)"', html)
    svgs = [base64.b64decode(data).decode("utf-8") for data in images]
    assert len(svgs) == len(pictures)
    assert any("101 Switching Protocols" in svg for svg in svgs)
    assert any("masking key = 37 fa 21 3d" in svg for svg in svgs)
