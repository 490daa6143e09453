"""What a peer sends reaches HTML widgets escaped, everywhere it shows; plain-text widgets show it as text."""

from __future__ import annotations

import ipywidgets as widgets
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from wsplay.widgets import ServerPanel
from wsplay.widgets.refresh import _descendants

from testenv import echo_endpoint

EVIL = "<img src=x onerror=alert(1)>"
ESCAPED = "&lt;img src=x onerror=alert(1)&gt;"


def _html_values(panel) -> list[str]:
    return [w.value for w in _descendants(panel) if isinstance(w, widgets.HTML)]


def test_a_peer_cannot_put_markup_into_the_panel(comms, hosts, boom, kit) -> None:
    host = hosts(echo_endpoint(), routes={"/boom": boom})
    panel = ServerPanel(host)
    with connect(host.url, compression=None) as ws:
        ws.send(EVIL)
        assert ws.recv(timeout=2 * kit.UNIT) == EVIL
        ws.close(4000, EVIL)  # the close reason is the peer's too
    with connect(host.url.rstrip("/") + "/boom", compression=None) as ws:
        ws.send(EVIL)  # the handler raises with it in the message: the warnings list shows the error
        with pytest.raises(ConnectionClosed):
            ws.recv(timeout=2 * kit.UNIT)

    kit.wait_for(lambda: "error" in panel._warnings.value and panel._conns.value.count(ESCAPED) >= 1, what="the warning and the close")
    texts = [r for r in host.frames if r.direction == "in" and r.type_name == "TEXT"]
    assert texts and all(r.preview == EVIL.encode() for r in texts)

    # The inspector, for the frame, the echo and the close frame carrying the reason.
    shown = []
    for record in host.frames:
        if record.type_name in ("TEXT", "CLOSE") and EVIL.encode() in record.preview:
            panel.frame_log.select(record.index)
            shown.append(panel.frame_log.inspector._html.value)
    assert len(shown) >= 4  # in and out on the first connection, the close with the reason, the boom frame
    assert all(ESCAPED in html for html in shown)

    assert ESCAPED in panel._conns.value  # the close reason in the connection table
    assert ESCAPED in panel._warnings.value  # the handler's error text (and its traceback)
    for value in _html_values(panel) + shown:
        assert "<img" not in value, value

    # The frame log is a Select: the browser renders its rows with textContent, never as HTML, so
    # the text is shown as sent (escaping it there would show "&lt;img" to the reader).
    rows = [label for label in panel.frame_log._rows._options_labels if "TEXT" in label]
    assert rows and all(EVIL in label for label in rows)


def test_escaping_helpers() -> None:
    from wsplay.widgets.html import esc, hexdump, preview, printable

    assert esc('<a href="x">') == "&lt;a href=&quot;x&quot;&gt;"
    assert printable("a\nb\x00c", 60) == "a\\nb\\x00c"
    assert printable("x" * 100, 10) == "x" * 10 + "…"
    assert hexdump(b"<ab>\x00") == "00000000  3c 61 62 3e 00" + " " * 33 + "  <ab>."
    assert preview(8, b"\x03\xe8bye") == "1000 normal closure 'bye'"
    assert preview(2, bytes(range(20))).endswith(" …")
