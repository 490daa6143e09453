"""Export a recorded session (HAR, JSON lines) and replay its client side against a fresh host."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import wsplay
from wsplay import Host
from wsplay.examples import chat, echo
from wsplay.observe.export import load_session

from testenv import wait_for


@pytest.fixture
def hosts() -> Iterator:
    made: list[Host] = []

    def make(websocket) -> Host:
        host = Host.create().handler(websocket).port(0).start()
        made.append(host)
        return host

    yield make
    for host in made:
        host.stop()


def _conversation(host: Host) -> None:
    """Two chat clients talk: text, a fragmented message, binary, a ping, and a close each."""
    alice = wsplay.connect(host.url, queue=False)
    bob = wsplay.connect(host.url, queue=False)
    alice.send("hello bob")
    time.sleep(0.05)
    bob.send("hi alice <3")
    time.sleep(0.05)
    alice.send_fragmented("a message in three parts", sizes=[2, 9])
    bob.ping(b"still there?")
    alice.send(b"\x00\x01binary\xff")
    time.sleep(0.2)
    bob.close(4000, "bye now")
    alice.close(1000, "")
    wait_for(lambda: not host.connections, what="both connections closed")


def _received(host: Host) -> list[list[tuple[str, bool, bytes]]]:
    """What the server received on each connection, in connection order: (type, fin, payload)."""
    per: dict[int, list[tuple[str, bool, bytes]]] = {}
    for r in host.frames:
        if r.direction == "in" and r.type_name != "PONG":
            per.setdefault(r.connection, []).append((r.type_name, r.fin, r.payload))
    return [per[c] for c in sorted(per)]


def _sent_text(host: Host) -> list[list[str]]:
    per: dict[int, list[str]] = {}
    for r in host.frames:
        if r.direction == "out" and r.type_name == "TEXT":
            per.setdefault(r.connection, []).append(r.payload.decode())
    return [sorted(per[c]) for c in sorted(per)]


@pytest.mark.parametrize("timing", ["fast", "recorded"])
def test_a_chat_replayed_from_har_gives_the_same_server_records(hosts, tmp_path: Path, timing: str) -> None:
    original = hosts(chat())
    _conversation(original)
    har_path = original.recorder.export(tmp_path / "chat.har")
    har = json.loads(har_path.read_text())
    assert har["log"]["version"] == "1.2" and len(har["log"]["entries"]) == 2

    fresh = hosts(chat())
    started = time.monotonic()
    result = wsplay.replay(har_path, fresh.url, timing=timing)
    took = time.monotonic() - started
    wait_for(lambda: not fresh.connections, what="the replayed connections closed")
    assert result.messages == 4 and result.skipped == [] and result.cut == 0 and len(result.clients) == 2
    assert _received(fresh) == _received(original)  # every frame the server got, fragments and close included
    assert _sent_text(fresh) == _sent_text(original)  # and what the chat broadcast to each (order may differ)
    closes = [(e.code, e.reason) for e in fresh.events if e.kind == "close"]
    assert sorted(closes) == [(1000, ""), (4000, "bye now")]
    if timing == "recorded":
        assert took > 0.25  # the recorded pauses were kept


def test_jsonl_export_and_replay(hosts, tmp_path: Path) -> None:
    original = hosts(echo())
    client = wsplay.connect(original.url, queue=False)
    client.send("one")
    client.send(b"\x01\x02")
    client.send_fragmented(b"abcdef", sizes=[3])
    client.close(1000, "done")
    wait_for(lambda: not original.connections, what="the close")
    path = original.recorder.export(tmp_path / "session.jsonl")
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert lines[0] == {"kind": "session", "format": "wsplay-jsonl", "version": 1, "side": "server"}
    assert [x["kind"] for x in lines].count("open") == 1 and lines[-1]["kind"] == "close"
    frames = [x for x in lines if x["kind"] == "frame"]
    assert frames[0]["data"] == "one" and frames[0]["type"] == "send" and frames[0]["masked"]
    binary = next(f for f in frames if f["opcode"] == 2)
    assert base64.b64decode(binary["data"]) == b"\x01\x02" and binary["base64"]

    fresh = hosts(echo())
    wsplay.replay(path, fresh.url)
    wait_for(lambda: not fresh.connections, what="the replayed close")
    assert _received(fresh) == _received(original)


def test_a_client_side_recording_exports_from_the_clients_point_of_view(hosts) -> None:
    host = hosts(echo())
    client = wsplay.connect(host.url)
    client.send("ping?")
    assert client.receive_text(timeout=2) == "ping?"
    client.close()
    har = client.recorder.to_har()
    (entry,) = har["log"]["entries"]
    assert entry["request"]["url"] == host.url and entry["_wsplay"]["side"] == "client"
    assert [(m["type"], m["data"]) for m in entry["_webSocketMessages"]] == [("send", "ping?"), ("receive", "ping?")]
    assert any(h["name"] == "Sec-WebSocket-Key" for h in entry["request"]["headers"])
    assert entry["response"]["status"] == 101 and any(h["name"] == "Sec-WebSocket-Accept" for h in entry["response"]["headers"])


def test_a_har_saved_by_chrome_replays_its_messages(hosts) -> None:
    # Chrome's HAR has only _webSocketMessages: data messages, binary ones in base64.
    chrome = {"log": {"version": "1.2", "entries": [{"_resourceType": "websocket", "_webSocketMessages": [
        {"type": "send", "time": 1.0, "opcode": 1, "data": "from chrome"},
        {"type": "receive", "time": 1.1, "opcode": 1, "data": "from chrome"},
        {"type": "send", "time": 1.2, "opcode": 2, "data": base64.b64encode(b"\xff\x00").decode()},
    ]}]}}  # fmt: skip
    side, sessions = load_session(chrome)
    assert side == "client" and len(sessions) == 1
    host = hosts(echo())
    result = wsplay.replay(chrome, host.url)
    wait_for(lambda: not host.connections, what="the replay's close")
    assert result.messages == 2
    assert [(r.type_name, r.payload) for r in host.frames if r.direction == "in" and r.type_name != "CLOSE"] == [("TEXT", b"from chrome"), ("BINARY", b"\xff\x00")]
