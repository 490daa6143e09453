"""Peer text reaches the front end as data, and the front end only ever inserts it as text.

The panels send what a peer controls (payloads, close reasons, paths, headers, error text) as
it is, in traits and messages; the JavaScript puts strings into the page with text nodes and
attributes, never as HTML. The browser-side proof is tests/browser/test_panel_xss.py; here the
Python side is checked, and the front end's source for every way of inserting HTML.
"""

from __future__ import annotations

import json
import re

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from wsplay.widgets import ServerPanel
from wsplay.widgets.assets import ESM, STATIC

from testenv import echo_endpoint

EVIL = "<img src=x onerror=alert(1)>"
ESCAPED = "&lt;img src=x onerror=alert(1)&gt;"


def test_a_peer_s_text_is_sent_as_text(comms, hosts, boom, kit, browser) -> None:
    host = hosts(echo_endpoint(), routes={"/boom": boom})
    panel = ServerPanel(host)
    view = browser(panel)
    with connect(host.url, additional_headers={"X-Evil": EVIL}, compression=None) as ws:
        ws.send(EVIL)
        assert ws.recv(timeout=2 * kit.UNIT) == EVIL
        ws.close(4000, EVIL)  # the close reason is the peer's too
    with connect(host.url.rstrip("/") + "/boom", compression=None) as ws:
        ws.send(EVIL)  # the handler raises with it in the message: the warnings list shows the error
        with pytest.raises(ConnectionClosed):
            ws.recv(timeout=2 * kit.UNIT)

    kit.wait_for(lambda: panel.warnings and any((c["close"] or {}).get("reason") == EVIL for c in panel.connections), what="the warning and the close")
    texts = [r for r in host.frames if r.direction == "in" and r.type_name == "TEXT"]
    assert texts and all(r.preview == EVIL.encode() for r in texts)
    assert any(EVIL in w["summary"] for w in panel.warnings)  # the handler's error text, as it is
    assert any(["X-Evil", EVIL] in hs["request_headers"] for hs in panel.handshakes.values())
    kit.wait_for(lambda: sum(EVIL in label for label in view.labels()) >= 3, what="the rows")

    everything = json.dumps([m for _, _, m in comms.sent])
    assert ESCAPED not in everything  # never escaped twice: the front end shows it as the peer sent it
    for record in host.frames:
        if record.type_name in ("TEXT", "CLOSE") and EVIL.encode() in record.preview:
            panel.selected = record.index
            content, buffers = view.custom("frame")[-1]
            assert EVIL.encode() in buffers[0]


def test_the_front_end_never_inserts_html() -> None:
    # Every way of turning a string into markup; the panels' modules use none of them.
    forbidden = re.compile(r"innerHTML|outerHTML|insertAdjacentHTML|document\.write|createContextualFragment|DOMParser|srcdoc|\beval\(|new Function")
    for path in sorted(STATIC.glob("*.js")):
        found = [(n, line.strip()) for n, line in enumerate(path.read_text().splitlines(), 1) if forbidden.search(line)]
        assert found == [], (path.name, found)
    assert not forbidden.search(ESM)
    assert "https://" not in ESM and "http://" not in ESM.replace('"http://www.w3.org/2000/svg"', "")  # nothing from a CDN


def test_escaping_helpers() -> None:
    from wsplay.widgets.html import esc, hexdump, preview, printable

    assert esc('<a href="x">') == "&lt;a href=&quot;x&quot;&gt;"
    assert printable("a\nb\x00c", 60) == "a\\nb\\x00c"
    assert printable("x" * 100, 10) == "x" * 10 + "…"
    assert hexdump(b"<ab>\x00") == "00000000  3c 61 62 3e 00" + " " * 33 + "  <ab>."
    assert preview(8, b"\x03\xe8bye") == "1000 normal closure 'bye'"
    assert preview(2, bytes(range(20))).endswith(" …")
