"""ClientPanel with a real wsplay.Client against a real host, and its raw-frame form against a fake client."""

from __future__ import annotations

from typing import Any

import wsplay.client
from wsplay.observe import Recorder
from wsplay.widgets import ClientPanel, ServerPanel

EVIL = "<img src=x onerror=alert(1)>"


def test_connect_send_everything_and_see_the_server_close_on_rsv1(comms, hosts, kit, browser) -> None:
    host = hosts()
    server_panel = ServerPanel(host)
    panel = ClientPanel(host.url, compression=None)  # uncompressed: RSV1 is then a protocol error
    view = browser(panel)
    assert panel.status["state"] is None and panel.status["url"] == host.url  # not connected
    kit.click(panel, "text", text="hello")
    assert "not connected" in panel.error

    kit.click(panel, "connect", url=host.url)
    assert panel.error == "" and panel.client is not None and panel.client.state == "open"
    kit.wait_for(lambda: panel.status["state"] == "open", what="the open status")

    kit.click(panel, "text", text="hello")
    kit.click(panel, "binary", text="01 02 ff", hex=True)
    kit.click(panel, "fragmented", text="fragment", size=3)
    kit.click(panel, "ping", text="are you there")
    assert panel.error == ""
    kit.wait_for(lambda: any(" in PONG " in label for label in view.labels()), what="the pong")
    kit.wait_for(lambda: sum(" in TEXT " in label for label in view.labels()) == 2, what="the echoes")
    labels = view.labels()
    assert any(" out TEXT " in label and "hello" in label for label in labels)
    assert any(" out BINARY " in label and "01 02 ff" in label for label in labels)
    assert sum(" out CONTINUE " in label for label in labels) == 2  # "fra", "gme", then "nt"
    assert any(" out PING " in label and "are you there" in label for label in labels)
    kit.wait_for(lambda: panel._feed.get("rtt") or any(f.get("rtt") for f in view.feeds()), what="the ping's round trip")
    rtt = [r for f in view.feeds() for r in f.get("rtt", [])]
    assert rtt and 0 <= rtt[0][1] < 2000  # milliseconds, for the sparkline
    sent = [r for r in panel.client.frames if r.direction == "out" and r.type_name == "TEXT"][0]
    panel.selected = sent.index
    shown = view.custom("frame")[-1][0]
    assert shown["masked"] is True and shown["direction"] == "out"
    key = str(panel.client.id)
    assert key in panel.handshakes and panel.handshakes[key]["status_line"].startswith("HTTP/1.1 101")

    # A raw frame with RSV1 set: a strict server fails the connection with 1002.
    kit.click(panel, "raw", opcode=1, payload="hi", rsv1=True)
    assert panel.error == ""
    kit.wait_for(lambda: panel.status.get("close_code") == 1002, what="the client's close status")
    assert panel.status["close_name"] == "protocol error" and panel.status["state"] == "closed"
    kit.wait_for(lambda: any((c["close"] or {}).get("code") == 1002 for c in server_panel.connections), what="the close in the server panel")
    raw = [r for r in panel.client.frames if r.direction == "out" and r.rsv[0]][0]
    panel.selected = raw.index
    assert view.custom("frame")[-1][0]["rsv"] == [True, False, False]
    assert "closed 1002 protocol error" in repr(panel)


def test_a_client_object_and_a_close_reason_from_the_server(comms, hosts, kit, browser) -> None:
    host = hosts()
    client = wsplay.client.connect(host.url)
    try:
        panel = ClientPanel(client)
        view = browser(panel)
        assert panel.status["url"] == host.url
        kit.wait_for(lambda: host.connections, what="the server's side")
        host.connections[0].close(4001, EVIL)
        kit.wait_for(lambda: panel.status["state"] == "closed", what="the close")
        assert panel.status["close_code"] == 4001 and panel.status["close_name"] == "private use"
        assert panel.status["close_reason"] == EVIL  # as text: the front end shows it with textContent
        close = [r for r in client.frames if r.direction == "in" and r.type_name == "CLOSE"][0]
        panel.selected = close.index
        assert view.custom("frame")[-1][0]["close"]["reason"] == EVIL
    finally:
        client.close()


class _FakeClient:
    """Records what the panel asks of a client (the API of wsplay.Client)."""

    def __init__(self) -> None:
        self.id = 1
        self.url = "ws://127.0.0.1:9/"
        self.state = "open"
        self.close_code: int | None = None
        self.close_reason = ""
        self.recorder = Recorder()
        self.calls: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = []

    def __getattr__(self, name: str) -> Any:
        if name in ("send", "send_fragmented", "ping", "close", "send_raw"):
            return lambda *args, **kwargs: self.calls.append((name, args, kwargs))
        raise AttributeError(name)


def test_the_raw_frame_form_maps_to_send_raw(comms, kit) -> None:
    fake = _FakeClient()
    panel = ClientPanel(fake)
    form = dict(opcode=0x3, fin=False, rsv1=False, rsv2=True, rsv3=True, masked=False, payload="c3 28", hex=True)
    kit.click(panel, "raw", **form)
    kit.click(panel, "raw", **form, length=70000)
    assert fake.calls == [
        ("send_raw", (3, b"\xc3\x28"), dict(fin=False, rsv1=False, rsv2=True, rsv3=True, masked=False, length=None)),
        ("send_raw", (3, b"\xc3\x28"), dict(fin=False, rsv1=False, rsv2=True, rsv3=True, masked=False, length=70000)),
    ]
    kit.click(panel, "raw", **{**form, "payload": "not hex"})
    assert "not hex" in panel.error and len(fake.calls) == 2

    kit.click(panel, "close", code=3001, reason="done")
    assert fake.calls[-1] == ("close", (3001, "done"), {})
    kit.click(panel, "text", text="ff fe", hex=True)
    assert "not UTF-8" in panel.error
    kit.click(panel, "binary", text="ff fe", hex=True)
    assert fake.calls[-1] == ("send", (b"\xff\xfe",), {}) and panel.error == ""
    assert panel.status["opcodes"][3] == [3, "0x3 reserved"]
