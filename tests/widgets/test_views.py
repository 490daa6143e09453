"""What the inspector's views and the Export button get from the kernel: decoders, cut payloads, downloads."""

from __future__ import annotations

import json
import time

import cbor2
import msgpack
import pytest

from wsplay import decoders
from wsplay.observe import ConnectionOpened
from wsplay.protocol.frames import encode_header
from wsplay.widgets import ServerPanel
from wsplay.widgets.frames import CUT, ROWS_PER_PUSH


@pytest.fixture
def panel(comms, hosts):
    host = hosts(start=False)
    host.recorder.event(ConnectionOpened(time.time(), 1, "127.0.0.1:5555", "/", url="ws://127.0.0.1:1/"))
    return ServerPanel(host)


def _record(panel, payload: bytes, opcode: int = 2) -> int:
    rec = panel.host.recorder
    rec.frame(1, "in", encode_header(opcode, len(payload), True, mask_key=b"\x01\x02\x03\x04"), payload)
    return rec.frames(last=1)[-1].index


def test_builtin_and_registered_decoders(panel, kit, browser) -> None:
    view = browser(panel)
    packed = _record(panel, msgpack.packb({"a": [1, b"\x00\xff"], 2: "two"}))
    cbored = _record(panel, cbor2.dumps({"temp": 21.5, "tags": ["x"]}))
    text = _record(panel, b'{"deep": {"er": [true, null]}}', opcode=1)
    decoders.register("upper", lambda b: b.decode().upper())
    decoders.register("boom", lambda b: 1 / 0)
    decoders.register("evil", lambda b: {"<b>key</b>": "<img src=x onerror=alert(1)>"})
    try:
        panel.refresh()
        assert panel.decoders[:3] == ["json", "msgpack", "cbor"] and {"upper", "boom", "evil"} <= set(panel.decoders)
        for index, name in [(packed, "msgpack"), (cbored, "cbor"), (text, "json"), (text, "upper"), (text, "boom"), (text, "evil"), (text, "nope")]:
            kit.message(panel, kind="decode", index=index, name=name)
        got = {(c["index"], c["name"]): c for c, _ in view.custom("decoded")}
        assert got[packed, "msgpack"]["tree"] == {"a": [1, {"$bytes": "00 ff"}], "2": "two"}
        assert got[cbored, "cbor"]["tree"] == {"temp": 21.5, "tags": ["x"]}
        assert got[text, "json"]["tree"] == {"deep": {"er": [True, None]}}
        assert got[text, "upper"] == {"kind": "decoded", "index": text, "name": "upper", "ok": True, "text": '{"DEEP": {"ER": [TRUE, NULL]}}'}
        assert got[text, "boom"]["ok"] is False and "ZeroDivisionError" in got[text, "boom"]["error"]
        assert got[text, "evil"]["tree"] == {"<b>key</b>": "<img src=x onerror=alert(1)>"}  # as text, for textContent
        assert "no decoder named 'nope'" in got[text, "nope"]["error"]
    finally:
        for name in ("upper", "boom", "evil"):
            decoders.unregister(name)
    panel.refresh()
    assert "upper" not in panel.decoders


def test_a_payload_past_the_budget_is_cut_and_says_so(comms, hosts, kit, browser) -> None:
    host = hosts(start=False).record(frames=100, payload_bytes=1000)
    panel = ServerPanel(host)
    view = browser(panel)
    whole = _record(panel, b"a" * 900)
    cut = _record(panel, b"b" * 900)
    panel.refresh()
    flags = {r[0]: r[5] for r in view.rows}
    assert not flags[whole] & CUT and flags[cut] & CUT
    assert panel.recording["kept_bytes"] == 900 and panel.recording["payload_bytes"] == 1000
    panel.selected = cut
    shown, buffers = view.custom("frame")[-1]
    assert shown["cut"] and shown["kept"] == 256 and shown["length"] == 900 and buffers[0] == b"b" * 256
    kit.message(panel, kind="decode", index=cut, name="json")
    assert view.custom("decoded")[-1][0]["cut"] is True


def test_the_export_button_sends_a_har_to_the_view_that_asked(panel, kit, browser) -> None:
    view = browser(panel)
    _record(panel, b"hello", opcode=1)
    panel.host.recorder.frame(1, "out", encode_header(1, 5, True), b"hello")
    kit.message(panel, kind="export", format="har", view="view-a")
    content, buffers = view.custom("download")[-1]
    assert content["view"] == "view-a" and content["name"].endswith(".har") and content["mime"] == "application/json"
    har = json.loads(buffers[0])
    assert har == json.loads(json.dumps(panel.host.recorder.to_har()))
    messages = har["log"]["entries"][0]["_webSocketMessages"]
    assert [(m["type"], m["opcode"], m["data"]) for m in messages] == [("send", 1, "hello"), ("receive", 1, "hello")]
    kit.message(panel, kind="export", format="jsonl", view="view-a")
    content, buffers = view.custom("download")[-1]
    lines = [json.loads(line) for line in buffers[0].decode().splitlines()]
    assert content["name"].endswith(".jsonl") and lines[0]["kind"] == "session" and [x["kind"] for x in lines[1:]] == ["open", "frame", "frame"]


def test_a_burst_larger_than_a_push_arrives_newest_first_then_complete(panel, browser) -> None:
    view = browser(panel)
    n = ROWS_PER_PUSH * 2 + 7
    for i in range(n):
        _record(panel, f"m{i}".encode(), opcode=1)
    panel.refresh()
    first = view.feeds()[-1]
    assert [r[0] for r in first["rows"]] == list(range(n - ROWS_PER_PUSH, n)) and first["back"] == []
    assert panel.table["backlog"] == n - ROWS_PER_PUSH
    panel.refresh()
    panel.refresh()
    assert panel.table["backlog"] == 0 and [r[0] for r in view.rows] == list(range(n))
