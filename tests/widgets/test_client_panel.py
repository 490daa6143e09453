"""ClientPanel with a real wsplay.Client against a real host, and its raw-frame form against a fake client."""

from __future__ import annotations

from typing import Any

import wsplay.client
from wsplay.observe import Recorder
from wsplay.widgets import ClientPanel, ServerPanel

EVIL = "<img src=x onerror=alert(1)>"


def _labels(panel: ClientPanel) -> list[str]:
    return list(panel.frame_log._rows._options_labels)


def test_connect_send_everything_and_see_the_server_close_on_rsv1(comms, hosts, kit) -> None:
    host = hosts()
    server_panel = ServerPanel(host)
    panel = ClientPanel(host.url, compression=None)  # uncompressed: RSV1 is then a protocol error
    assert "not connected" in panel._status.value and panel._disconnect.disabled
    panel._send_text.click()
    assert "not connected" in panel.error

    panel._connect.click()
    assert panel.error == "" and panel.client is not None and panel.client.state == "open"
    kit.wait_for(lambda: "open to" in panel._status.value, what="the open status")
    assert panel._connect.disabled and not panel._disconnect.disabled

    panel._text.value = "hello"
    panel._send_text.click()
    panel._text.value = "01 02 ff"
    panel._hex.value = True
    panel._send_binary.click()
    panel._hex.value = False
    panel._text.value = "fragment"
    panel._fragment_size.value = 3
    panel._send_fragmented.click()
    panel._text.value = "are you there"
    panel._ping.click()
    assert panel.error == ""
    kit.wait_for(lambda: any(" in  PONG " in label for label in _labels(panel)), what="the pong")
    kit.wait_for(lambda: sum(" in  TEXT " in label for label in _labels(panel)) == 2, what="the echoes")
    labels = _labels(panel)
    assert any(" out TEXT " in label and "hello" in label for label in labels)
    assert any(" out BINARY " in label and "01 02 ff" in label for label in labels)
    assert sum(" out CONTINUE " in label for label in labels) == 2  # "fra", "gme", then "nt"
    assert any(" out PING " in label and "are you there" in label for label in labels)
    sent = [r for r in panel.client.frames if r.direction == "out" and r.type_name == "TEXT"][0]
    panel.frame_log.select(sent.index)
    assert "<td>MASK</td><td>1</td>" in panel.frame_log.inspector._html.value

    # A raw frame with RSV1 set: a strict server fails the connection with 1002.
    panel._raw_payload.value = "hi"
    panel._rsv[0].value = True
    panel._send_raw.click()
    assert panel.error == ""
    kit.wait_for(lambda: "1002 protocol error" in panel._status.value, what="the client's close status")
    kit.wait_for(lambda: "1002 protocol error" in server_panel._conns.value, what="the close in the server panel")
    raw = [r for r in panel.client.frames if r.direction == "out" and r.rsv[0]][0]
    panel.frame_log.select(raw.index)
    assert "<td>RSV1 RSV2 RSV3</td><td>1 0 0 <span" in panel.frame_log.inspector._html.value
    assert not panel._connect.disabled and panel._disconnect.disabled


def test_a_client_object_and_a_close_reason_from_the_server(comms, hosts, kit) -> None:
    host = hosts()
    client = wsplay.client.connect(host.url)
    try:
        panel = ClientPanel(client)
        assert panel._url.value == host.url
        kit.wait_for(lambda: host.connections, what="the server's side")
        host.connections[0].close(4001, EVIL)
        kit.wait_for(lambda: "closed" in panel._status.value, what="the close")
        assert "4001 private use" in panel._status.value
        assert "&lt;img src=x onerror=alert(1)&gt;" in panel._status.value and "<img" not in panel._status.value
        close = [r for r in client.frames if r.direction == "in" and r.type_name == "CLOSE"][0]
        panel.frame_log.select(close.index)
        assert "&lt;img" in panel.frame_log.inspector._html.value and "<img" not in panel.frame_log.inspector._html.value
    finally:
        client.close()


class _FakeClient:
    """Records what the panel asks of a client (the API of wsplay.Client)."""

    def __init__(self) -> None:
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


def test_the_raw_frame_form_maps_to_send_raw(comms) -> None:
    fake = _FakeClient()
    panel = ClientPanel(fake)
    panel._opcode.value = 0x3
    panel._fin.value = False
    panel._rsv[1].value = True
    panel._rsv[2].value = True
    panel._masked.value = False
    panel._raw_payload.value = "c3 28"
    panel._raw_hex.value = True
    panel._send_raw.click()
    panel._lie.value = True
    panel._length.value = 70000
    panel._send_raw.click()
    assert fake.calls == [
        ("send_raw", (3, b"\xc3\x28"), dict(fin=False, rsv1=False, rsv2=True, rsv3=True, masked=False, length=None)),
        ("send_raw", (3, b"\xc3\x28"), dict(fin=False, rsv1=False, rsv2=True, rsv3=True, masked=False, length=70000)),
    ]
    panel._raw_payload.value = "not hex"
    panel._send_raw.click()
    assert "not hex" in panel.error and len(fake.calls) == 2

    panel._code.value = 3001
    panel._reason.value = "done"
    panel._close.click()
    assert fake.calls[-1] == ("close", (3001, "done"), {})
    panel._text.value = "ff fe"
    panel._hex.value = True
    panel._send_text.click()
    assert "not UTF-8" in panel.error
    panel._send_binary.click()
    assert fake.calls[-1] == ("send", (b"\xff\xfe",), {}) and panel.error == ""
