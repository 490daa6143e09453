"""The kernel-side client against real servers on 127.0.0.1: wsplay's own host, websockets' server, raw sockets.

websockets' server checks our client codec against another implementation; the raw server
(tests/rawws.py) completes the handshake by hand (no WebSocket library) and then only listens, to see
the exact bytes we send and to stay silent on purpose. Every host, thread and socket is stopped by its
fixture; every wait is a multiple of UNIT.
"""

from __future__ import annotations

import asyncio
import os
import socket
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest


import wsplay
import wsplay.examples
from wsplay import ConnectionClosed, FrameType, HandshakeError, Host, InvalidState
from wsplay.client import Client, connect, connect_async

from testenv import UNIT, wait_for

RFC_MASK = bytes.fromhex("37fa213d")  # RFC 6455 5.7's example mask


def in_thread(work: Callable[[], Any]) -> Any:
    """Run `work` in a fresh thread (with no event loop of its own yet) and return its result."""
    result: dict[str, Any] = {}

    def run() -> None:
        try:
            result["value"] = work()
        except BaseException as exc:  # re-raised in the test's thread
            result["error"] = exc

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(5 * UNIT)
    assert result, "the thread did not finish in time"
    if "error" in result:
        raise result["error"]
    return result["value"]


def receive_until_close(client: Client) -> list[Any]:
    frames = []
    while True:
        frame = client.receive(timeout=2 * UNIT)
        frames.append(frame)
        if frame.type in (FrameType.CLOSE, FrameType.ERROR):
            return frames


# -- talking to well-behaved servers --------------------------------------------------------------------


def test_text_and_binary_echo(echo_url: str, clients) -> None:
    client = clients(echo_url)
    client.send("héllo")
    frame = client.receive(timeout=2 * UNIT)
    assert frame.type is FrameType.TEXT and frame.data_as_string() == "héllo"
    client.send(b"\x00\xffbin")
    frame = client.receive(timeout=2 * UNIT)
    assert frame.type is FrameType.BINARY and frame.data == b"\x00\xffbin"
    client.send_text("t")
    client.send_binary(bytearray(b"b"))
    assert client.receive_text(timeout=2 * UNIT) == "t"
    assert client.receive(timeout=2 * UNIT).data == b"b"
    big = os.urandom(300_000)  # past the cork: written straight through, read into a growing buffer
    client.send(big)
    assert client.receive(timeout=2 * UNIT).data == big


def test_fragmented_send_arrives_merged_and_is_recorded(echo_url: str, clients) -> None:
    keys = iter(bytes([n, n, n, n]) for n in range(1, 100))
    client = clients(echo_url, mask_source=lambda: next(keys), compression=None)  # the wire bytes, uncompressed
    client.send_fragmented("hello wörld", sizes=[3, 4, 0])  # the 2nd fragment cuts "ö" in half
    frame = client.receive(timeout=2 * UNIT)
    assert frame.type is FrameType.TEXT and frame.data_as_string() == "hello wörld"
    out = [r for r in client.frames if r.direction == "out"]
    assert [(r.type_name, r.fin, r.length) for r in out] == [("TEXT", False, 3), ("CONTINUE", False, 4), ("CONTINUE", False, 0), ("CONTINUE", True, 5)]
    assert all(r.masked for r in out)
    assert [r.mask_key for r in out] == [bytes([n] * 4) for n in (1, 2, 3, 4)]
    assert out[0].header_bytes == b"\x01\x83\x01\x01\x01\x01" and out[0].preview == b"hel"
    client.send_fragmented(b"abcdefg", fragment_size=3)
    assert client.receive(timeout=2 * UNIT).data == b"abcdefg"
    assert [r.length for r in client.frames if r.direction == "out"][4:] == [3, 3, 1]


def test_exact_wire_bytes_with_a_pinned_mask(raw_servers, clients) -> None:
    server = raw_servers()
    client = clients(server.url, mask_source=lambda: RFC_MASK, close_timeout=0.3 * UNIT)
    client.send("Hello")
    wait_for(lambda: len(server.received) >= 11, 2 * UNIT, "the frame")
    # RFC 6455 5.7: "A single-frame masked text message" containing "Hello".
    assert bytes(server.received[:11]) == bytes.fromhex("818537fa213d7f9f4d5158")
    (record,) = client.frames
    assert record.header_bytes == bytes.fromhex("818537fa213d") and record.mask_key == RFC_MASK


def test_ping_with_data_gets_a_pong_with_that_data(echo_url: str, clients) -> None:
    client = clients(echo_url)
    client.ping(b"are you there?")
    frame = client.receive(timeout=2 * UNIT)
    assert frame.type is FrameType.PONG and frame.data == b"are you there?"
    with pytest.raises(ValueError, match="limit is 125"):
        client.ping(b"x" * 126)


def test_close_with_code_and_reason_reaches_websockets(websockets_server, clients) -> None:
    client = clients(websockets_server.url, subprotocols=["chat"])
    assert client.subprotocol == "chat" and client.response_headers["Sec-WebSocket-Protocol"] == "chat"
    client.close(4001, "bye now")
    assert client.state == "closed"
    assert (client.close_code, client.close_reason, client.closed_by) == (4001, "bye now", "client")
    wait_for(lambda: bool(websockets_server.closes), 2 * UNIT, "the server's handler to end")
    assert websockets_server.closes == [(4001, "bye now")]
    client.close()  # idempotent
    echo = client.receive(timeout=UNIT)  # the server's answering close frame, then nothing
    assert echo.type is FrameType.CLOSE and echo.close_code == 4001
    with pytest.raises(ConnectionClosed, match="closed by the client: 4001"):
        client.receive(timeout=UNIT)
    with pytest.raises(ConnectionClosed):
        client.send("too late")


def test_stop_all_closes_clients_too(websockets_server, echo_host: Host, clients) -> None:
    external = clients(websockets_server.url)  # a client of somebody else's server
    local = clients(echo_host.url)  # a client of a wsplay host in this process
    wsplay.stop_all()
    assert not echo_host.running
    assert (local.state, local.close_code, local.closed_by) == ("closed", 1001, "server")  # the host said 1001
    assert (external.state, external.close_code, external.closed_by) == ("closed", 1001, "client")
    wait_for(lambda: bool(websockets_server.closes), 2 * UNIT, "the server's handler to end")
    assert websockets_server.closes == [(1001, "going away")]
    assert wsplay.runtime.live_clients() == []


def test_stop_all_can_be_awaited_from_coroutine_code(websockets_server) -> None:
    async def main() -> Client:
        client = await connect(websockets_server.url, open_timeout=2 * UNIT, close_timeout=2 * UNIT)
        await wsplay.stop_all()  # this loop keeps running while the background loop closes the client
        return client

    client = asyncio.run(main())
    assert (client.state, client.close_code) == ("closed", 1001)


def test_a_client_left_open_is_closed_at_interpreter_exit(websockets_server) -> None:
    script = f"import wsplay; c = wsplay.connect({websockets_server.url!r}); c.send('bye'); print(c.receive(timeout=5).data)"
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=20 * UNIT)
    assert done.returncode == 0 and done.stdout.strip() == "b'bye'", done.stderr[-2000:]
    wait_for(lambda: bool(websockets_server.closes), 2 * UNIT, "the server's handler to end")
    assert websockets_server.closes == [(1001, "going away")]  # a close handshake, not a dropped TCP connection


def test_close_against_wsplay_records_a_clean_close(echo_host: Host, clients) -> None:
    client = clients(echo_host.url)
    assert repr(client) == f"<Client {echo_host.url} open>"
    with client:
        client.send("x")
        client.receive(timeout=2 * UNIT)
    assert repr(client) == f"<Client {echo_host.url} closed>" and client.close_code == 1000
    opened, closed = client.events
    assert opened.kind == "open" and opened.connection == client.id and opened.path == "/"
    assert (closed.kind, closed.code, closed.by, closed.clean) == ("close", 1000, "client", True)
    kinds = [(r.direction, r.type_name) for r in client.frames]
    assert kinds == [("out", "TEXT"), ("in", "TEXT"), ("out", "CLOSE"), ("in", "CLOSE")]


def test_server_initiated_close(hosts, clients) -> None:
    host = hosts()
    try:
        client = clients(host.url)
        host.stop()
        frame = client.receive(timeout=2 * UNIT)
        assert frame.type is FrameType.CLOSE and frame.close_code == 1001
        with pytest.raises(ConnectionClosed, match="closed by the server: 1001"):
            client.receive(timeout=2 * UNIT)
        assert (client.state, client.close_code, client.closed_by) == ("closed", 1001, "server")
        assert client.events[-1].clean
    finally:
        host.stop()


def test_receive_timeout(echo_host: Host, clients) -> None:
    client = clients(echo_host.url)
    start = time.monotonic()
    with pytest.raises(TimeoutError, match="no frame"):
        client.receive(timeout=0.2 * UNIT)
    assert time.monotonic() - start < 1.5 * UNIT
    client.send("still fine")
    assert client.receive_text(timeout=2 * UNIT) == "still fine"


def test_async_usage(echo_url: str) -> None:
    async def main() -> tuple[list[bytes], str, str]:
        client = await connect(echo_url, open_timeout=2 * UNIT, close_timeout=2 * UNIT)
        await client.send("one")
        await client.send_fragmented(b"abcdef", fragment_size=2)
        await client.ping(b"p")
        got = []
        async for frame in client:
            got.append(frame.data)
            if len(got) == 3:
                break
        await client.close()
        async with Client(echo_url, open_timeout=2 * UNIT) as other:
            await other.send("two")
            text = await other.receive_text(timeout=2 * UNIT)
        return got, client.state, text

    got, state, text = in_thread(lambda: asyncio.run(main()))
    assert sorted(got) == [b"abcdef", b"one", b"p"] and state == "closed" and text == "two"  # a pong may overtake an echo


def test_connect_async_is_a_deprecated_spelling_of_connect(echo_url: str) -> None:
    async def main() -> str:
        with pytest.deprecated_call(match="await wsplay.connect"):
            client = await connect_async(echo_url, open_timeout=2 * UNIT)
        await client.close()
        return client.state

    assert in_thread(lambda: asyncio.run(main())) == "closed"


def test_sync_usage_from_a_plain_thread(echo_url: str) -> None:
    def work() -> tuple[str, str]:
        with connect(echo_url, open_timeout=2 * UNIT) as client:
            client.send("from a thread")
            text = client.receive_text(timeout=2 * UNIT)
        return text, client.state

    assert in_thread(work) == ("from a thread", "closed")


def test_frames_sent_right_behind_the_101_are_kept(raw_servers, clients) -> None:
    server = raw_servers(after_101=b"\x81\x05early\x89\x02hi")
    client = clients(server.url, close_timeout=0.3 * UNIT)
    assert client.receive_text(timeout=2 * UNIT) == "early"
    assert client.receive(timeout=2 * UNIT).type is FrameType.PING
    wait_for(lambda: any(b0 == 0x8A for b0, _, _ in server.frames()), 2 * UNIT, "the automatic pong")
    assert [p for b0, _, p in server.frames() if b0 == 0x8A] == [b"hi"]


def test_manual_continuation_delivers_fragments(hosts, clients) -> None:
    host = hosts(wsplay.examples.echo().handle_continuation_frames_manually())
    try:
        manual = clients(host.url, manual_continuation=True)
        manual.send_fragmented("abcdef", fragment_size=2)
        frames = [manual.receive(timeout=2 * UNIT) for _ in range(3)]
        assert [(f.type, f.raw.fin, f.data) for f in frames] == [
            (FrameType.TEXT, False, b"ab"),
            (FrameType.CONTINUE, False, b"cd"),
            (FrameType.CONTINUE, True, b"ef"),
        ]
        merged = clients(host.url)
        merged.send_fragmented("abcdef", fragment_size=2)
        frame = merged.receive(timeout=2 * UNIT)
        assert frame.raw.is_segmented and len(frame.raw.segments) == 3 and frame.data_as_string() == "abcdef"
    finally:
        host.stop()


def test_recording_can_be_limited_or_switched_off(echo_host: Host, clients) -> None:
    counted = clients(echo_host.url, record=0)
    off = clients(echo_host.url, record=False)
    for client in (counted, off):
        client.send("x")
        client.receive(timeout=2 * UNIT)
    assert counted.frames == [] and counted.recorder.counters(counted.id).frames_out == 1
    assert off.frames == [] and off.events == [] and not off.recorder.enabled
    assert Client(echo_host.url, record=True).recorder.max_frames == 2000


# -- keepalive ------------------------------------------------------------------------------------------


def test_keepalive_drops_a_silent_server(raw_servers, clients) -> None:
    server = raw_servers()
    interval, timeout = 0.2 * UNIT, 0.3 * UNIT
    client = clients(server.url, ping_interval=interval, ping_timeout=timeout)
    took = wait_for(lambda: client.state == "closed", interval + timeout + 1.5 * UNIT, "the keepalive to drop the server")
    assert took >= interval + timeout - 0.05
    assert (client.close_code, client.close_reason, client.closed_by) == (1011, "keepalive ping timeout", "client")
    closed = client.events[-1]
    assert (closed.kind, closed.code, closed.reason, closed.clean) == ("close", 1011, "keepalive ping timeout", False)
    wait_for(server.eof.is_set, 2 * UNIT, "TCP to be aborted")
    sent = server.frames()
    assert sent[0][0] == 0x89 and sent[0][1] is not None  # a masked ping
    assert sent[-1][0] == 0x88 and sent[-1][2][:2] == struct.pack("!H", 1011)
    with pytest.raises(ConnectionClosed, match="1011"):
        client.receive(timeout=UNIT)


def test_keepalive_is_answered_without_receive(echo_host: Host, clients) -> None:
    client = clients(echo_host.url, ping_interval=0.1 * UNIT, ping_timeout=0.3 * UNIT)
    wait_for(lambda: sum(r.type_name == "PONG" for r in client.frames) >= 3, 3 * UNIT, "three keepalive pongs")
    assert client.state == "open"


# -- breaking the rules on purpose ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "kwargs", "code"),
    [
        pytest.param((0x1, b"hi"), {"rsv1": True}, 1002, id="rsv1"),
        pytest.param((0x3, b"hi"), {}, 1002, id="reserved-opcode-3"),
        pytest.param((0x1, b"hi"), {"masked": False}, 1002, id="unmasked"),
        pytest.param((0x9, b"x" * 126), {}, 1002, id="ping-126-bytes"),
        pytest.param((0x1, b"ok \xff"), {}, 1007, id="bad-utf8"),
        pytest.param((0x2, b"tiny"), {"length": 2**40}, 1009, id="lying-length"),
    ],
)
def test_send_raw_breaks_rules_and_the_host_answers(echo_host: Host, clients, args, kwargs, code) -> None:
    client = clients(echo_host.url, compression=None)  # no extension: every RSV bit is a protocol error
    client.send_raw(*args, **kwargs)
    *_, close = receive_until_close(client)
    assert close.type is FrameType.CLOSE and close.close_code == code
    assert (client.close_code, client.closed_by) == (code, "server")
    with pytest.raises(ConnectionClosed):
        client.receive(timeout=2 * UNIT)
    (sent,) = [r for r in client.frames if r.direction == "out" and r.type_name != "CLOSE"]
    assert sent.length == kwargs.get("length", len(args[1])) and sent.masked is kwargs.get("masked", True)


def test_send_raw_with_a_chosen_mask_and_send_bytes(raw_servers, clients) -> None:
    server = raw_servers()
    client = clients(server.url, close_timeout=0.3 * UNIT)
    client.send_raw(0x1, b"Hello", mask_key=RFC_MASK, rsv2=True, rsv3=True, fin=False)
    client.send_bytes(b"\x00\x01garbage")
    wait_for(lambda: len(server.received) >= 20, 2 * UNIT, "the bytes")
    assert bytes(server.received) == bytes.fromhex("318537fa213d7f9f4d5158") + b"\x00\x01garbage"
    assert len(client.frames) == 1  # send_bytes is not a frame
    with pytest.raises(ValueError, match="4 bytes"):
        client.send_raw(0x1, b"", mask_key=b"12")


def test_a_masked_server_frame_fails_the_connection(raw_servers, clients) -> None:
    server = raw_servers(after_101=b"\x81\x82abcd" + bytes([ord("h") ^ ord("a"), ord("i") ^ ord("b")]))
    client = clients(server.url, close_timeout=0.3 * UNIT)
    frame = client.receive(timeout=2 * UNIT)
    assert frame.type is FrameType.ERROR and frame.error.code == 1002 and "masked" in str(frame.error)
    assert (client.close_code, client.closed_by) == (1002, "client")
    wait_for(lambda: any(b0 == 0x88 for b0, _, _ in server.frames()), 2 * UNIT, "our close frame")
    (close,) = [p for b0, _, p in server.frames() if b0 == 0x88]
    assert close[:2] == struct.pack("!H", 1002)


def test_a_message_over_the_limit_fails_with_1009(echo_host: Host, clients) -> None:
    client = clients(echo_host.url, max_message_size=10)
    client.send("x" * 11)  # sending is not limited; the echo coming back is
    frame = client.receive(timeout=2 * UNIT)
    assert frame.type is FrameType.ERROR and frame.error.code == 1009
    assert client.close_code == 1009
    (limit,) = [e for e in client.events if e.kind == "limit"]
    assert (limit.limit, limit.value, limit.code) == ("message size", 10, 1009)


# -- failing to connect ---------------------------------------------------------------------------------


def test_handshake_error_carries_the_status_and_body(hosts, clients) -> None:
    host = hosts(routes={"/chat": wsplay.examples.echo()})
    try:
        with pytest.raises(HandshakeError, match="server answered 404: no WebSocket endpoint at /nope") as info:
            connect(host.url + "nope", open_timeout=2 * UNIT)
        assert info.value.status == 404
        assert clients(host.url + "chat").state == "open"
    finally:
        host.stop()


def test_connection_refused_reads_well() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(OSError, match=f"cannot connect to 127.0.0.1:{port}"):
        connect(f"ws://127.0.0.1:{port}/", open_timeout=2 * UNIT)
    with pytest.raises(ValueError, match="isn't a valid URI"):
        Client("http://127.0.0.1/")


def test_open_timeout(clients) -> None:
    with socket.create_server(("127.0.0.1", 0)) as silent:  # accepts (backlog) but never answers
        start = time.monotonic()
        with pytest.raises(TimeoutError, match="no WebSocket handshake"):
            connect(f"ws://127.0.0.1:{silent.getsockname()[1]}/", open_timeout=0.3 * UNIT)
        assert time.monotonic() - start < 2 * UNIT


def test_misuse_says_what_to_do(echo_host: Host) -> None:
    client = Client(echo_host.url)
    assert client.state == "connecting"
    with pytest.raises(InvalidState, match="not connected yet"):
        client.send("x")
    with pytest.raises(ValueError, match="fragment_size"):
        client.send_fragmented("abc")
    with pytest.raises(ValueError, match="may not be sent"):
        client.close(1005)


def test_a_client_without_a_queue_keeps_reading_and_refuses_receive():
    host = wsplay.Host.create().handler(wsplay.examples.echo()).port(0).start()
    try:
        with wsplay.connect(host.url, queue=False) as client:
            big = b"x" * (1024 * 1024)
            for _ in range(8):  # 8 MiB echoed: more than the queue's read-pause threshold
                client.send(big)
            client.send("last")
            deadline = time.monotonic() + 10
            while not any(f.direction == "in" and f.preview == b"last" for f in client.frames):
                assert time.monotonic() < deadline, "reading stalled"
                time.sleep(0.02)
            with pytest.raises(wsplay.InvalidState, match="queue=False"):
                client.receive(timeout=0.1)
    finally:
        host.stop()
