"""wsplay.broadcast(): one message to many connections, encoded once, waiting for none of them."""

from __future__ import annotations

import asyncio
import threading
from contextlib import ExitStack

import pytest
from websockets.sync.client import connect

import wsplay
from rawws import mask_frame
from testenv import UNIT, wait_for
from wsplay import FrameType, Websocket


def chat(shout_to: list) -> Websocket:
    """A chat whose on_message broadcasts to every connection of the host, and says how many got it."""

    async def on_message(connection, message):
        text = message.data_as_string()
        if text == "start a fragmented message":
            await connection.write("part one, ", fin=False)
            return
        if text == "finish it":
            await connection.write("part two", FrameType.CONTINUE)
            return
        shout_to.append(wsplay.broadcast(connection.request.server.connections.values(), text))

    return Websocket.functional().on_message(on_message)


def test_every_connection_gets_the_message_once(hosts) -> None:
    counts: list[int] = []
    host = hosts(chat(counts))
    with ExitStack() as stack:
        peers = [stack.enter_context(connect(host.url, compression=None)) for _ in range(5)]
        wait_for(lambda: len(host.connections) == 5, what="five connections")
        peers[2].send("hello room")
        assert [p.recv(timeout=2 * UNIT) for p in peers] == ["hello room"] * 5
        assert counts == [5]
        sent = [f for f in host.frames if f.direction == "out" and f.type_name == "TEXT"]
        assert sorted(f.connection for f in sent) == sorted(c.id for c in host.connections)
        assert {bytes(f.payload) for f in sent} == {b"hello room"}
        assert not any(f.header.masked for f in sent)


def test_compressed_and_plain_peers_each_get_it_their_way(hosts) -> None:
    counts: list[int] = []
    host = hosts(chat(counts))
    text = "compress me, " * 40  # worth compressing
    with ExitStack() as stack:
        plain = stack.enter_context(connect(host.url, compression=None))
        squeezed = [stack.enter_context(connect(host.url)) for _ in range(2)]  # websockets offers permessage-deflate
        wait_for(lambda: len(host.connections) == 3, what="three connections")
        for _ in range(3):  # again: a deflate context taken over from one message to the next
            plain.send(text)
            assert [p.recv(timeout=2 * UNIT) for p in (plain, *squeezed)] == [text] * 3
        compressed = [f for f in host.frames if f.direction == "out" and f.compressed]
        assert len(compressed) == 6 and all(len(f.wire) < len(text) for f in compressed)


def test_a_peer_in_the_middle_of_a_fragmented_message_is_skipped(hosts, raw_client) -> None:
    counts: list[int] = []
    host = hosts(chat(counts))
    fragmenting = raw_client(host.bound_port)
    fragmenting.handshake()
    with connect(host.url) as other:
        wait_for(lambda: len(host.connections) == 2, what="two connections")
        fragmenting.send(mask_frame(1, b"start a fragmented message"))
        first = fragmenting.read_frame()
        assert (first.opcode, first.fin, first.payload) == (1, False, b"part one, ")
        other.send("between the fragments")
        assert other.recv(timeout=2 * UNIT) == "between the fragments"
        assert counts == [1], "only the connection not in the middle of a message"
        fragmenting.send(mask_frame(1, b"finish it"))
        second = fragmenting.read_frame()
        assert (second.opcode, second.fin, second.payload) == (0, True, b"part two")
        other.send("after the message")
        assert other.recv(timeout=2 * UNIT) == "after the message"
        third = fragmenting.read_frame()
        assert (third.opcode, third.payload) == (1, b"after the message")
        assert counts == [1, 2]


def test_closed_connections_are_skipped_and_a_slow_reader_does_not_hold_up_the_rest(hosts, raw_client) -> None:
    counts: list[int] = []
    host = hosts(chat(counts), configure=lambda h: h.write_limit(64 * 1024, 256 * 1024))
    stalled = raw_client(host.bound_port, rcvbuf=4096)  # never reads
    stalled.handshake()
    gone = raw_client(host.bound_port)
    gone.handshake()
    with connect(host.url, compression=None) as reader:
        wait_for(lambda: len(host.connections) == 3, what="three connections")
        gone_id = host.connections[1].id
        gone.send(mask_frame(8, b"\x03\xe8"))
        assert gone.read_close() == (1000, "")
        message = "x" * 12000
        for n in range(800):  # 9.6 MB to a peer that reads nothing (past what the kernel buffers): its write limit cuts it off
            reader.send(f"{n}:{message}")
            assert reader.recv(timeout=2 * UNIT) == f"{n}:{message}"  # never held up by the stalled peer
        assert counts[0] == 2 and counts[-1] == 1, counts  # the closed peer never, the stalled one until cut off
        cut = [e for e in host.events if e.kind == "close" and e.code == 1008]
        assert [e.connection for e in cut] == [host.recorder.events("open")[0].connection], [e.summary() for e in host.events]
        assert gone_id not in [e.connection for e in cut]
    assert host.errors == []


def test_from_a_thread_it_runs_on_the_loop_and_returns_the_count(hosts) -> None:
    host = hosts(Websocket.functional())
    with ExitStack() as stack:
        peers = [stack.enter_context(connect(host.url)) for _ in range(3)]
        wait_for(lambda: len(host.connections) == 3, what="three connections")
        result: list[int] = []
        worker = threading.Thread(target=lambda: result.append(wsplay.broadcast(host.connections, b"\x00binary\xff")))
        worker.start()
        worker.join(5 * UNIT)
        assert result == [3]
        assert [p.recv(timeout=2 * UNIT) for p in peers] == [b"\x00binary\xff"] * 3
        assert wsplay.broadcast(host.connections, "from the test's own thread") == 3
        assert [p.recv(timeout=2 * UNIT) for p in peers] == ["from the test's own thread"] * 3


def test_in_coroutine_code_on_another_loop_it_returns_the_count(hosts) -> None:
    host = hosts(Websocket.functional())
    with connect(host.url) as peer:
        wait_for(lambda: len(host.connections) == 1, what="one connection")

        async def cell() -> int:  # a notebook cell with top-level await runs on the kernel's own loop
            return wsplay.broadcast(host.connections, "from a coroutine")

        assert asyncio.run(cell()) == 1
        assert peer.recv(timeout=2 * UNIT) == "from a coroutine"


def test_anything_but_connections_is_refused_with_a_message(hosts) -> None:
    host = hosts(Websocket.functional())
    with connect(host.url):
        wait_for(lambda: len(host.connections) == 1, what="one connection")
        with pytest.raises(TypeError, match="not to int .*host.connections"):
            wsplay.broadcast([c.id for c in host.connections], "to numbers")
