"""Writes across connections: a peer leaving never fails the handler writing to it."""

from __future__ import annotations

import asyncio
import queue
import socket
import struct
import threading
import time

from websockets.sync.client import connect

from wsplay import ConnectionClosed, FrameType, InvalidState, Websocket
from wsplay.observe import KEEP_CLOSED, Recorder


def test_a_broadcast_to_a_vanished_peer_does_not_fail_the_sender(hosts, raw_client, wire) -> None:
    """The seed's chat writes to every client; one that is already gone must not take the sender down."""
    clients = []
    release = threading.Event()

    async def on_connected(connection):
        clients.append(connection)

    async def on_message(connection, message):
        while not release.is_set():  # hold the broadcast until the other peer has vanished
            await asyncio.sleep(0.01)
        for client in clients:  # the seed's loop: no check that the client is still there
            await client.write(message.data_as_string())

    async def on_close(connection, message):
        await asyncio.sleep(0.5)  # on_close runs late: the window the broadcast falls into
        clients.remove(connection)

    host = hosts(Websocket.functional().on_connected(on_connected).on_message(on_message).on_close(on_close))
    with connect(host.url) as sender:
        victim = raw_client(host.bound_port)
        victim.handshake()
        wait(lambda: len(clients) == 2, wire)
        sender.send("to everyone")
        victim.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        victim.sock.close()  # a reset: gone without a close frame
        wait(lambda: clients[1].state == "closed", wire)
        assert len(clients) == 2  # on_close has not run yet: the broadcast will reach the dead peer
        release.set()
        assert sender.recv(timeout=2 * wire.UNIT) == "to everyone"  # the sender is still served
        sender.send("still here")
        assert sender.recv(timeout=2 * wire.UNIT) == "still here"
    assert host.errors == []
    dropped = [e for e in host.events if e.kind == "notice" and "dropped" in e.summary()]
    assert dropped, [e.summary() for e in host.events]


def wait(predicate, wire) -> None:
    deadline = time.monotonic() + 2 * wire.UNIT
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.005)


def test_its_own_handler_is_told_the_connection_is_gone(hosts, wire) -> None:
    seen: queue.Queue[str] = queue.Queue()

    async def on_message(connection, message):
        await connection.close(4000, "bye")
        try:
            await connection.write("after my own close")
        except InvalidState as exc:
            seen.put(f"InvalidState: {exc}")

    host = hosts(Websocket.functional().on_message(on_message))
    with connect(host.url) as ws:
        ws.send("close yourself")
        time.sleep(0.2 * wire.UNIT)
    assert seen.get(timeout=2 * wire.UNIT).startswith("InvalidState: cannot send a TEXT frame")


def test_a_write_from_a_thread_to_a_closed_connection_raises(hosts, wire) -> None:
    host = hosts(Websocket.functional())
    with connect(host.url):
        deadline = time.monotonic() + 2 * wire.UNIT
        while not host.connections and time.monotonic() < deadline:
            time.sleep(0.01)
        conn = host.connections[0]
    deadline = time.monotonic() + 2 * wire.UNIT
    while conn.state != "closed" and time.monotonic() < deadline:
        time.sleep(0.01)
    try:
        conn.write("too late")
    except (ConnectionClosed, InvalidState):
        pass
    else:
        raise AssertionError("a write from a cell or thread to a closed connection must say so")


def test_write_synchronized_frames_are_watched_for_interleaving(hosts, wire) -> None:
    async def on_message(connection, message):
        async def writer(tag: str) -> None:  # the lock per frame does not protect the message
            await connection.write_synchronized(f"{tag}1", FrameType.TEXT, fin=False)
            await asyncio.sleep(0.01)
            await connection.write_synchronized(f"{tag}2", FrameType.CONTINUE, fin=True)

        await asyncio.gather(writer("a"), writer("b"))

    host = hosts(Websocket.functional().on_message(on_message), development=True)
    with connect(host.url) as ws:
        ws.send("go")
        try:
            ws.recv(timeout=2 * wire.UNIT)
        except Exception:
            pass
    deadline = time.monotonic() + 2 * wire.UNIT
    while not host.recorder.events("interleave") and time.monotonic() < deadline:
        time.sleep(0.01)
    (first, *_) = host.recorder.events("interleave")
    assert "write_lock" in first.fix and "whole message" in first.fix


def test_counters_of_closed_connections_are_bounded() -> None:
    rec = Recorder()
    for cid in range(1, KEEP_CLOSED + 51):
        rec.frame(cid, "in", b"\x81\x00", b"")
        rec.retire(cid)
    assert len(rec._counters) == KEEP_CLOSED
    assert rec.counters(1).frames_in == 0 and rec.counters(KEEP_CLOSED + 50).frames_in == 1
