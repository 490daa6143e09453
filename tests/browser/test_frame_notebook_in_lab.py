"""notebooks/01-handshake-and-frame.ipynb in JupyterLab (chromium): Run All draws its pictures, the
handshake side by side and a frame bit by bit, as images in the outputs (the SVG that nbconvert and
GitHub show too); screenshots in artifacts/jupyterlab-handshake.png and artifacts/jupyterlab-frame-bits.png.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from labpictures import show, svg_of

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = [pytest.mark.browser, pytest.mark.timeout(120)]

NOTEBOOK = Path(__file__).resolve().parents[2] / "notebooks" / "01-handshake-and-frame.ipynb"
LAST_OUTPUT = "<Host stopped"


def test_the_frame_notebook_draws_the_handshake_and_the_bits_in_lab(
    jupyterlab: Any,
    new_page: Callable[..., Page],
    run_notebook_in_lab: Callable[..., None],
    screenshot: Callable[[Page, str], Path],
) -> None:
    path = Path(shutil.copy(NOTEBOOK, jupyterlab.root_dir / NOTEBOOK.name))
    page = new_page(viewport={"width": 1400, "height": 1000})
    run_notebook_in_lab(page, jupyterlab, path, f".jp-OutputArea-output:has-text('{LAST_OUTPUT}')", timeout=60)
    errors = page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']").all_inner_texts()
    assert not [text for text in errors if "Traceback" in text or "Error" in text], errors

    images = page.locator(".jp-RenderedSVG img")
    svgs = [svg_of(images.nth(i)) for i in range(images.count())]
    handshake = next(i for i, svg in enumerate(svgs) if "Sec-WebSocket-Accept" in svg)
    bits = next(i for i, svg in enumerate(svgs) if "a masked text frame" in svg)
    assert "101 Switching Protocols" in svgs[handshake] and "✓ matches" in svgs[handshake]
    assert "masking key = 37 fa 21 3d" in svgs[bits] and "7f 9f 4d 51 58" in svgs[bits]  # RFC 6455 5.7's frame
    assert sum("the 16-bit form" in svg for svg in svgs) == 1

    shot = show(page, images.nth(handshake), "jupyterlab-handshake", screenshot)
    assert shot.stat().st_size > 10_000
    shot = show(page, images.nth(bits), "jupyterlab-frame-bits", screenshot)
    assert shot.stat().st_size > 10_000
    page.keyboard.press("Escape")
