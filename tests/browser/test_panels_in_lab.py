"""The panels' front end in JupyterLab, driven in chromium: the table, the inspector, the pictures, export.

One notebook fills a server panel with 10,000+ frames and a handful of known ones; the test then
uses the panel as a person would (search box, clicks, tabs, the Export button) and checks what is
drawn against what the kernel recorded. Screenshots go to artifacts/.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from testenv import MS

if TYPE_CHECKING:
    from playwright.sync_api import Locator, Page

pytestmark = [pytest.mark.browser, pytest.mark.timeout(240)]

CELLS = [
    "import json, time\n"
    "import msgpack\n"
    "import wsplay\n"
    "from wsplay import Host\n"
    "from wsplay.examples import echo\n"
    "host = Host.create().handler(echo()).port(0).record(frames=20000).start()\n"
    "host.decoder('upper', lambda payload: payload.decode().upper())\n"
    "host",
    # 5,000 frames while the panel is on the page, then the frames the test inspects.
    "client = wsplay.connect(host.url, queue=False, compression=None)  # frames as RFC 6455 draws them\n"
    "for i in range(5000):\n"
    "    client.send(f'frame {i}')\n"
    "client.send('x' * 300)  # masked, 16-bit extended length\n"
    "client.send(b'big!' + bytes(70000))  # masked, 64-bit extended length\n"
    "client.send(json.dumps({'name': 'wsplay', 'list': [1, 2, 3], 'nested': {'deep': True}}))\n"
    "client.send(b'\\x00\\x01hello\\xff')\n"
    "client.send(msgpack.packb({'packed': [1, 2]}))\n"
    "client.send('hello decoder')\n"
    "client.send('needle-42 in a haystack')\n"
    "time.sleep(0.5)\n"
    "print('recorded', host.recorder.recorded)",
    # A short conversation with fragments, a ping and a pause, for the sequence diagram.
    "seq = wsplay.connect(host.url, queue=False)\n"
    "seq.send('one')\n"
    "seq.send_fragmented('fragmented', sizes=[4, 3])\n"
    "seq.ping(b'p')\n"
    "time.sleep(1.0)\n"
    "seq.send('after a pause')\n"
    "seq.close(1000, 'bye')\n"
    "time.sleep(0.3)\n"
    "seq_id = [e.connection for e in host.recorder.events('open')][-1]\n"
    "print(f'seq connection {seq_id} frames {len(host.recorder.frames(connection=seq_id))}')",
    "host.recorder.export('expected.har')\nprint('exported')",
]


def _panel(page: Page) -> Locator:
    return page.locator(".jp-OutputArea-output .wsp-panel").first


def _search(panel: Locator, text: str, regex: bool = False, expect: str | None = None, rows: int = 2) -> None:
    """Type into the search box; wait for the table to show `rows` rows, one of them showing `expect`."""
    box = panel.locator(".wsp-toolbar input[type=checkbox]").first
    if box.is_checked() != regex:
        box.click()
    panel.locator("input.wsp-search").fill(text)
    if expect is not None:
        panel.locator(".wsp-scroll .wsp-row.wsp-in", has_text=expect).first.wait_for(timeout=15 * MS)
    _wait_rows(panel, rows)


def _rows(panel: Locator) -> Locator:
    return panel.locator(".wsp-scroll .wsp-row")


def _wait_rows(panel: Locator, count: int) -> None:
    try:
        panel.locator(f".wsp-table-head:has-text('{count:,} rows here')").wait_for(timeout=15 * MS)
    except Exception as exc:
        head = panel.locator(".wsp-table-head").inner_text()
        panel.page.screenshot(path="artifacts/failed-panel.png")
        raise AssertionError(f"the table did not show {count:,} rows; its head says {head!r}") from exc


def _bits(panel: Locator, field: str) -> str:
    return "".join(panel.locator(f".wsp-inspector .wsp-bit[data-field='{field}']").all_inner_texts())


def _inspect_in_row(panel: Locator) -> None:
    row = panel.locator(".wsp-scroll .wsp-row.wsp-in").first
    index = row.get_attribute("data-index")
    row.click()
    panel.locator(f".wsp-inspector .wsp-title:has-text('#{index} ')").wait_for(timeout=10 * MS)


def _element_shot(locator: Locator, name: str) -> None:
    """A screenshot of one part of the panel (artifacts/<name>.png); the README's pictures are these."""
    Path("artifacts").mkdir(exist_ok=True)
    locator.scroll_into_view_if_needed()
    locator.screenshot(path=f"artifacts/{name}.png")


def test_the_server_panel_in_lab(
    jupyterlab: Any,
    new_page: Callable[..., Page],
    write_notebook: Callable[[Path, list[str]], Path],
    run_notebook_in_lab: Callable[..., None],
    screenshot: Callable[[Page, str], Path],
) -> None:
    path = write_notebook(jupyterlab.root_dir / "panels.ipynb", CELLS)
    page = new_page(viewport={"width": 1500, "height": 1100}, accept_downloads=True)
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    run_notebook_in_lab(page, jupyterlab, path, ".jp-OutputArea-output:has-text('exported')", timeout=120)
    outputs = "\n".join(page.locator(".jp-OutputArea-output").all_inner_texts())
    recorded = int(re.search(r"recorded (\d+)", outputs).group(1))
    seq_id, seq_frames = map(int, re.search(r"seq connection (\d+) frames (\d+)", outputs).groups())
    assert recorded == 2 * 5007
    total = recorded + seq_frames

    # The table filled: every frame reached the browser (in batches of at most 500 a push).
    panel = _panel(page)
    _wait_rows(panel, total)
    assert 10 < _rows(panel).count() < 100  # virtualised: only the rows in view exist
    panel.scroll_into_view_if_needed()
    screenshot(page, "panel-table")
    _element_shot(panel.locator(".wsp-bar"), "docs-status")
    scroller = panel.locator(".wsp-scroll")
    scroller.hover()
    for _ in range(40):  # the mouse wheel, as a reader scrolls back to the first frame
        page.mouse.wheel(0, -20_000)
        if _rows(panel).first.get_attribute("data-index") == "0":
            break
        page.wait_for_timeout(50)
    assert not panel.locator(".wsp-toolbar input[type=checkbox]").nth(1).is_checked()  # no longer following the tail
    assert _rows(panel).first.get_attribute("data-index") == "0"
    assert "frame 0" in _rows(panel).first.inner_text()

    # A masked frame with a 16-bit extended length, drawn bit by bit.
    _search(panel, "^x{300}$", regex=True, expect="xxxxxxxx")
    _inspect_in_row(panel)
    assert _bits(panel, "fin") == "1" and _bits(panel, "rsv1") + _bits(panel, "rsv2") + _bits(panel, "rsv3") == "000"
    assert _bits(panel, "opcode") == "0001" and _bits(panel, "mask") == "1"
    assert _bits(panel, "len") == "1111110"
    assert _bits(panel, "ext16") == format(300, "016b")
    key_label = panel.locator(".wsp-inspector .wsp-field[data-field='key']").first.inner_text()
    key = bytes.fromhex(key_label.split("=", 1)[1].strip())
    assert _bits(panel, "key") == "".join(format(b, "08b") for b in key)
    assert panel.locator(".wsp-inspector .wsp-bit[data-field='ext64']").count() == 0
    # Hovering a field highlights its bytes in the dump.
    panel.locator(".wsp-inspector .wsp-field[data-field='ext16']").first.hover()
    assert [b.inner_text() for b in panel.locator(".wsp-dump .wsp-byte.wsp-hl").all()] == ["01", "2c"]
    screenshot(page, "panel-bits-16")
    _element_shot(panel.locator(".wsp-inspector"), "docs-inspector")

    # A 64-bit extended length.
    _search(panel, "big!", expect="62 69 67 21")
    _inspect_in_row(panel)
    assert _bits(panel, "len") == "1111111"
    assert _bits(panel, "ext64") == format(70004, "064b")
    assert _bits(panel, "mask") == "1" and len(_bits(panel, "key")) == 32
    screenshot(page, "panel-bits-64")

    # JSON: a collapsible tree and pretty text.
    _search(panel, "nested", expect="nested")
    _inspect_in_row(panel)
    panel.locator(".wsp-tab[data-view='json']").click()
    tree = panel.locator(".wsp-view .wsp-tree")
    tree.wait_for()
    assert "deep: true" in tree.inner_text() and "list: [3]" in tree.inner_text()
    screenshot(page, "panel-json-tree")
    _element_shot(panel.locator(".wsp-view"), "docs-json-tree")
    panel.locator(".wsp-tab[data-view='json text']").click()
    assert '"deep": true' in panel.locator(".wsp-view pre").inner_text()

    # Hex (masked and unmasked side by side) and base64 of a known binary payload.
    _search(panel, "00 01 68 65 6c 6c 6f ff", expect="00 01 68 65")
    _inspect_in_row(panel)
    panel.locator(".wsp-tab[data-view='hex']").click()
    hexes = panel.locator(".wsp-view pre.wsp-hex").all_inner_texts()
    assert len(hexes) == 2 and "00 01 68 65 6c 6c 6f ff" in hexes[1] and "00 01 68 65" not in hexes[0]
    panel.locator(".wsp-tab[data-view='base64']").click()
    assert panel.locator(".wsp-view pre").inner_text() == "AAFoZWxsb/8="

    # MessagePack, decoded in the kernel.
    _search(panel, "packed", expect="81 a6 70 61")
    _inspect_in_row(panel)
    panel.locator(".wsp-tab[data-view='msgpack']").click()
    panel.locator(".wsp-view .wsp-tree:has-text('packed')").wait_for(timeout=10 * MS)
    assert "packed: [2]" in panel.locator(".wsp-view .wsp-tree").inner_text()

    # A decoder registered from Python.
    _search(panel, "hello decoder", expect="hello decoder")
    _inspect_in_row(panel)
    panel.locator(".wsp-tab[data-view='upper']").click()
    panel.locator(".wsp-view pre:has-text('HELLO DECODER')").wait_for(timeout=10 * MS)

    # The regex search finds the one known row (and its echo).
    _search(panel, r"needle-\d+", regex=True, expect="needle-42")
    assert all("needle-42" in t for t in _rows(panel).all_inner_texts())

    # The sequence diagram of the short conversation: one arrow per frame, the pause as a gap.
    _search(panel, "", rows=total)
    panel.locator(f".wsp-conns tr[data-id='{seq_id}']").click()
    arrows = panel.locator(".wsp-seq line.wsp-arrow")
    assert arrows.count() == seq_frames
    assert panel.locator(".wsp-seq line.wsp-arrow.wsp-frag").count() == 3  # TEXT fin=0 and two CONTINUE
    assert panel.locator(".wsp-seq line.wsp-arrow.wsp-ctl").count() == 4  # ping, pong, close, close
    assert panel.locator(".wsp-seq .wsp-seq-gaplabel").count() >= 1
    panel.locator(".wsp-sequence").scroll_into_view_if_needed()
    screenshot(page, "panel-sequence")
    _element_shot(panel.locator(".wsp-pictures"), "docs-pictures")
    panel.locator(".wsp-scroll .wsp-row").first.click()
    _element_shot(panel.locator(".wsp-frames"), "docs-frames")

    # Export: the button downloads a HAR whose messages match the recorder's.
    with page.expect_download() as info:
        panel.locator("button.wsp-export").click()
    download = info.value
    assert download.suggested_filename.endswith(".har")
    har = json.loads(Path(download.path()).read_text(encoding="utf-8"))
    expected = json.loads((jupyterlab.root_dir / "expected.har").read_text(encoding="utf-8"))
    got = [e["_webSocketMessages"] for e in har["log"]["entries"]]
    want = [e["_webSocketMessages"] for e in expected["log"]["entries"]]
    assert got == want and len(got) == 2 and len(got[0]) == 2 * 5007
    assert har["log"]["version"] == "1.2" and har["log"]["entries"][0]["_resourceType"] == "websocket"
    assert dialogs == []
