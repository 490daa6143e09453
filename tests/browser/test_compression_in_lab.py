"""permessage-deflate in the server panel, in JupyterLab, driven in chromium.

A kernel-side client (which offers permessage-deflate as browsers do) sends compressible text through
a host; the test clicks the frame in the panel and reads what is drawn: the deflate badge in the row,
RSV1 lit in the bit diagram, the wire payload in hex beside the inflated text with the ratio, and
`permessage-deflate` in the connection table (and in a client panel's status line). The hex on the page is compared with the recorder's
wire bytes, which the notebook prints. Screenshots go to artifacts/.
"""

from __future__ import annotations

import json
import re
import urllib.request
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from testenv import MS

if TYPE_CHECKING:
    from playwright.sync_api import Locator, Page

pytestmark = [pytest.mark.browser, pytest.mark.timeout(180)]

TEXT = "compress me, " * 100

CELLS = [
    "import time\n"
    "import wsplay\n"
    "from wsplay import Host\n"
    "from wsplay.examples import echo\n"
    "host = Host.create().handler(echo()).port(0).start()\n"
    "host",
    "client = wsplay.connect(host.url, queue=False)  # offers permessage-deflate, as browsers do\n"
    f"client.send({TEXT!r})\n"
    "time.sleep(0.5)\n"
    "sent = next(f for f in host.frames if f.direction == 'in' and f.type_name == 'TEXT')\n"
    "print('extension', host.connections[0].extension.header())\n"
    "print(f'frame {sent.index} compressed {sent.compressed} wire {sent.wire.hex()}')",
    "from wsplay.widgets import ClientPanel\n"
    "other = wsplay.connect(host.url)\n"
    f"other.send({TEXT!r})\n"
    "ClientPanel(other)",
]


def _panel(page: Page) -> Locator:
    return page.locator(".jp-OutputArea-output .wsp-panel").first


def _hex_bytes(dump: str) -> bytes:
    """The bytes of a hex dump drawn 8 a line: 'OFFS  xx xx xx xx xx xx xx xx  ascii'."""
    return bytes.fromhex("".join(line[6:29] for line in dump.splitlines()))


def _shot(locator: Locator, name: str) -> None:
    Path("artifacts").mkdir(exist_ok=True)
    locator.scroll_into_view_if_needed()
    locator.screenshot(path=f"artifacts/{name}.png")


def _shut_down_kernel(lab: Any, notebook: str) -> None:
    """End the notebook's kernel (and its host), so it does not load the browser tests that follow."""
    with urllib.request.urlopen(f"{lab.url}api/sessions?token={lab.token}", timeout=10) as response:
        sessions = [s for s in json.load(response) if s.get("path") == notebook]
    for session in sessions:
        request = urllib.request.Request(f"{lab.url}api/sessions/{session['id']}?token={lab.token}", method="DELETE")
        urllib.request.urlopen(request, timeout=10).close()


def test_the_inspector_shows_a_compressed_frame_in_lab(
    jupyterlab: Any,
    new_page: Callable[..., Page],
    write_notebook: Callable[[Path, list[str]], Path],
    run_notebook_in_lab: Callable[..., None],
    screenshot: Callable[[Page, str], Path],
) -> None:
    path = write_notebook(jupyterlab.root_dir / "compression.ipynb", CELLS)
    page = new_page(viewport={"width": 1500, "height": 1100})
    try:
        _check_the_panel(page, jupyterlab, path, run_notebook_in_lab, screenshot)
    finally:
        _shut_down_kernel(jupyterlab, path.name)


def _check_the_panel(page: Page, jupyterlab: Any, path: Path, run_notebook_in_lab: Callable[..., None], screenshot: Callable[[Page, str], Path]) -> None:
    run_notebook_in_lab(page, jupyterlab, path, ".jp-OutputArea-output:has-text('compressed True')", timeout=90)
    outputs = "\n".join(page.locator(".jp-OutputArea-output").all_inner_texts())
    extension = re.search(r"extension (.+)", outputs).group(1).strip()
    index, wire_hex = re.search(r"frame (\d+) compressed True wire ([0-9a-f]+)", outputs).groups()
    wire = bytes.fromhex(wire_hex)
    assert zlib.decompressobj(-15).decompress(wire + b"\x00\x00\xff\xff") == TEXT.encode()  # what the page must show

    panel = _panel(page)
    # The connection table: the extension the handshake agreed on.
    conns = panel.locator(".wsp-conns .wsp-conn-compression").first
    conns.wait_for()
    assert extension.startswith("permessage-deflate")
    assert "permessage-deflate" in conns.inner_text()
    panel.locator(".wsp-conns .wsp-ratio").first.wait_for(timeout=10 * MS)
    assert re.search(r"ratio in 0\.\d\d · out 0\.\d\d", conns.inner_text()), conns.inner_text()

    # The row: a deflate badge, the wire size (header included) and the inflated size.
    row = panel.locator(f".wsp-scroll .wsp-row[data-index='{index}']")
    row.wait_for(timeout=15 * MS)
    cells = row.locator(":scope > div").all_inner_texts()
    assert cells[7] == "deflate" and int(cells[8]) == len(wire) + 6 and int(cells[9]) == len(TEXT)  # masked: 2 + 4 header bytes
    row.click()
    inspector = panel.locator(".wsp-inspector")
    inspector.locator(f".wsp-title:has-text('#{index} ')").wait_for(timeout=10 * MS)

    # RSV1 lit in the bit diagram, as it was on the wire.
    rsv1 = inspector.locator(".wsp-bit[data-field='rsv1']")
    assert rsv1.inner_text() == "1" and "wsp-lit" in (rsv1.get_attribute("class") or "")
    assert "compressed message" in (rsv1.get_attribute("title") or "")
    assert inspector.locator(".wsp-bit[data-field='rsv2']").inner_text() == "0"

    # The wire payload in hex beside the inflated text, with the ratio.
    view = inspector.locator(".wsp-deflate-view")
    assert _hex_bytes(view.locator(".wsp-deflate-wire pre").inner_text()) == wire
    assert view.locator(".wsp-deflate-inflated pre").inner_text() == TEXT
    left, right = view.locator(".wsp-deflate-wire").bounding_box(), view.locator(".wsp-deflate-inflated").bounding_box()
    assert left and right and left["x"] + left["width"] <= right["x"] and abs(left["y"] - right["y"]) < 5  # side by side
    ratio = view.locator(".wsp-ratio").inner_text()
    assert f"{len(wire)} → {len(TEXT)} bytes, ratio {len(wire) / len(TEXT):.3f}" in ratio and "% smaller" in ratio

    # The handshake view still shows both heads, offer and answer marked.
    handshake = panel.locator(".wsp-handshake")
    assert handshake.locator(".wsp-hs-ext").count() == 2
    assert extension in handshake.inner_text() and "GET / HTTP/1.1" in handshake.inner_text()

    screenshot(page, "panel-compression")
    # For the README: the inspector from its title to the side-by-side view.
    view.scroll_into_view_if_needed()
    top, bottom = inspector.bounding_box(), view.bounding_box()
    assert top and bottom
    page.screenshot(path="artifacts/docs-compression.png", clip={"x": top["x"], "y": top["y"], "width": top["width"], "height": bottom["y"] + bottom["height"] - top["y"] + 4})
    _shot(panel.locator(".wsp-conns"), "panel-compression-connections")

    # The client panel's status line says the same for its connection.
    status = page.locator(".jp-OutputArea-output .wsp-kind-client .wsp-status").first
    status.locator(".wsp-ratio").first.wait_for(timeout=15 * MS)
    assert "permessage-deflate" in status.inner_text() and re.search(r"ratio in 0\.\d\d · out 0\.\d\d", status.inner_text()), status.inner_text()
    _shot(status, "panel-compression-client-status")
