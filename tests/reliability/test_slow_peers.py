"""Peers that trickle, reset, vanish or stop reading: each is dealt with in bounded time and memory.

Every scenario keeps a healthy `websockets` client connected alongside, echoing random messages
checked byte for byte, to show that the misbehaving peer affects nobody else.
"""

from __future__ import annotations

import asyncio
import random
import selectors
import socket
import time

import pytest

from wsplay import ConnectionClosed, Websocket
from wsplay.observe import ConnectionClosedRecord, LimitHit


def close_records(host, connection_id):
    return [e for e in host.recorder.events("close") if isinstance(e, ConnectionClosedRecord) and e.connection == connection_id]


def connection_from(host, local_port):
    """The server's SocketConnection for the raw client whose local port is `local_port`."""
    for conn in host.connections:
        if conn.remote_address and conn.remote_address[1] == local_port:
            return conn
    return None


# -- slowloris ---------------------------------------------------------------------------------------


def test_slowloris_clients_are_closed_after_the_handshake_timeout(hosts, rel) -> None:
    """100 clients send their upgrade request one byte a second; each is closed at the timeout (408)."""
    unit = rel.UNIT
    timeout = 1.5 * unit
    slack = 1.0 * unit
    host = hosts(configure=lambda h: h.handshake_timeout(timeout))
    port = host.bound_port
    request = rel.upgrade_request(port)
    rng = random.Random(6)
    selector = selectors.DefaultSelector()
    socks = []
    try:
        with rel.ws_client(host.url) as healthy:
            rel.check_echo(healthy, rng, rounds=3)
            opened = {}
            for _ in range(100):
                sock = socket.create_connection(("127.0.0.1", port), timeout=2 * unit)
                sock.setblocking(False)
                socks.append(sock)
                opened[sock] = time.monotonic()
                selector.register(sock, selectors.EVENT_READ)
            sent = dict.fromkeys(socks, 0)
            closed_after: dict[socket.socket, float] = {}
            answers: dict[socket.socket, bytes] = {s: b"" for s in socks}
            next_byte = time.monotonic()
            deadline = time.monotonic() + timeout + slack + 1.0 * unit
            while len(closed_after) < len(socks) and time.monotonic() < deadline:
                now = time.monotonic()
                if now >= next_byte:  # one byte a second from every client still open
                    for sock in socks:
                        if sock not in closed_after:
                            try:
                                sock.send(request[sent[sock] : sent[sock] + 1])
                                sent[sock] += 1
                            except OSError:
                                pass
                    next_byte = now + 1.0
                    rel.check_echo(healthy, rng)  # the healthy client is served meanwhile
                for key, _ in selector.select(timeout=0.05):
                    sock = key.fileobj
                    try:
                        chunk = sock.recv(4096)
                    except BlockingIOError:
                        continue
                    except ConnectionResetError:
                        chunk = b""
                    if chunk:
                        answers[sock] += chunk
                    else:
                        closed_after[sock] = time.monotonic() - opened[sock]
                        selector.unregister(sock)
            assert len(closed_after) == len(socks), f"{len(socks) - len(closed_after)} trickling clients still open"
            late = max(closed_after.values())
            early = min(closed_after.values())
            print(f"slowloris: 100 clients closed after {early:.2f}-{late:.2f} s (timeout {timeout} s)")
            assert early >= timeout - 0.1 * unit, "closed before the handshake timeout"
            assert late <= timeout + slack
            assert all(sent[s] < len(request) for s in socks)  # none had finished its request
            assert all(a.startswith(b"HTTP/1.1 408 ") for a in answers.values()), set(a[:20] for a in answers.values())
            rel.check_echo(healthy, rng, rounds=5)
            assert len(host.connections) == 1  # only the healthy one ever got upgraded
        assert rel.wait_for(lambda: not host.server.handshaking, 2 * unit)
    finally:
        selector.close()
        for sock in socks:
            sock.close()


def test_each_silent_client_gets_its_own_handshake_deadline(hosts, rel) -> None:
    """One timer serves every pending handshake: a later client is not closed with an earlier one."""
    unit = rel.UNIT
    timeout = 1.0 * unit
    host = hosts(configure=lambda h: h.handshake_timeout(timeout))
    port = host.bound_port

    def closed_after(sock: socket.socket, opened: float) -> tuple[float, bytes]:
        answer = b""
        while chunk := sock.recv(4096):
            answer += chunk
        return time.monotonic() - opened, answer

    first = socket.create_connection(("127.0.0.1", port), timeout=5 * unit)
    first_opened = time.monotonic()
    time.sleep(timeout / 2)
    second = socket.create_connection(("127.0.0.1", port), timeout=5 * unit)
    second_opened = time.monotonic()
    with first, second:
        first_after, first_answer = closed_after(first, first_opened)
        second_at = time.monotonic()
        second_after, second_answer = closed_after(second, second_opened)
    assert first_answer.startswith(b"HTTP/1.1 408 ") and second_answer.startswith(b"HTTP/1.1 408 ")
    assert timeout - 0.05 * unit <= first_after <= timeout + 0.5 * unit
    assert timeout - 0.05 * unit <= second_after <= timeout + 0.5 * unit
    assert second_at - second_opened < timeout - 0.2 * unit  # the second was still open when the first went
    with rel.ws_client(host.url) as healthy:  # and the server goes on accepting
        rel.check_echo(healthy, random.Random(8), rounds=3)


# -- a peer that resets mid-frame --------------------------------------------------------------------


def test_reset_mid_frame_is_cleaned_up_as_1006(hosts, rel, raw_client) -> None:
    unit = rel.UNIT
    host = hosts()
    rng = random.Random(7)
    with rel.ws_client(host.url) as healthy:
        rel.check_echo(healthy, rng, rounds=3)
        peer = raw_client(host.bound_port)
        peer.handshake()
        local_port = peer.local_port
        assert rel.wait_for(lambda: connection_from(host, local_port) is not None, 2 * unit)
        conn_id = connection_from(host, local_port).id
        whole = rel.mask_frame(2, bytes(range(200)))
        peer.send(whole[: len(whole) // 2])  # half a frame
        time.sleep(0.1 * unit)
        peer.reset()  # SO_LINGER 0: RST, no close frame, no FIN
        assert rel.wait_for(lambda: connection_from(host, local_port) is None, 2 * unit)
        assert rel.wait_for(lambda: close_records(host, conn_id), 2 * unit)
        (record,) = close_records(host, conn_id)
        assert record.code == 1006 and not record.clean, record
        rel.check_echo(healthy, rng, rounds=5)
        assert [c.id for c in host.connections] != [conn_id] and len(host.connections) == 1
    assert host.errors == []


# -- a peer that vanishes without a close ---------------------------------------------------------------


def test_vanished_peer_is_dropped_by_keepalive(hosts, rel, raw_client) -> None:
    """A raw client that never reads or writes after the handshake is dropped within interval + timeout."""
    unit = rel.UNIT
    interval, timeout, slack = 0.5 * unit, 0.5 * unit, 0.5 * unit
    host = hosts(configure=lambda h: h.keepalive(interval, timeout))
    rng = random.Random(8)
    with rel.ws_client(host.url) as healthy:
        peer = raw_client(host.bound_port)
        peer.handshake()
        started = time.monotonic()
        assert rel.wait_for(lambda: connection_from(host, peer.local_port) is not None, 2 * unit)
        conn_id = connection_from(host, peer.local_port).id
        while connection_from(host, peer.local_port) is not None and time.monotonic() - started < interval + timeout + slack + unit:
            rel.check_echo(healthy, rng)  # busy meanwhile; the healthy client is never pinged out
            time.sleep(0.05 * unit)
        gone = time.monotonic() - started
        print(f"vanished peer dropped after {gone:.2f} s (interval {interval} + timeout {timeout})")
        assert connection_from(host, peer.local_port) is None
        assert interval + timeout - 0.1 * unit <= gone <= interval + timeout + slack
        (record,) = close_records(host, conn_id)
        assert record.code == 1011 and record.by == "server" and not record.clean, record
        # The healthy client answered every keepalive ping and is still there, even once idle.
        time.sleep(interval + timeout + slack)
        rel.check_echo(healthy, rng, rounds=3)
        assert len(host.connections) == 1
    # The peer saw the keepalive ping, then the connection went.
    data = peer.read_until_eof(2 * unit)
    frames, _ = rel.parse_server_frames(bytes(data))
    assert frames and frames[0][1] == 9, frames


# -- a peer that stops reading while the server writes --------------------------------------------------

MESSAGE = 64 * 1024
HIGH_WATER = 256 * 1024
MAXIMUM = 2 * 1024 * 1024


def writer_host(hosts, mode: str, size: int = MESSAGE, extra=None):
    """A host whose handler echoes, and on "go" starts a task writing `size`-byte messages forever.

    mode "await" awaits each write; "sleep0" does not await the write but yields with sleep(0) after
    each (a background task in a tight loop); "tight" neither awaits nor yields at all.
    """
    written = {"count": 0, "max_buffer": 0, "ended": None}
    payload = bytes(size)

    async def on_message(connection, frame):
        if frame.data == b"go":
            connection._bg = asyncio.get_running_loop().create_task(flood(connection))
        else:
            await connection.write(frame.data, frame.type)

    async def flood(connection):
        try:
            while True:
                if mode == "await":
                    await connection.write(payload, 2)
                else:
                    pending = connection.write(payload, 2)  # fire and forget: its drain is never awaited
                    if hasattr(pending, "close"):
                        pending.close()  # (say so to Python, which would otherwise warn "never awaited")
                    if mode == "sleep0":
                        await asyncio.sleep(0)
                written["count"] += 1
                written["max_buffer"] = max(written["max_buffer"], connection.buffered_amount)
        except ConnectionClosed as exc:
            written["ended"] = exc

    def configure(h):
        h.write_limit(HIGH_WATER, MAXIMUM)
        if extra:
            extra(h)

    builder = Websocket.functional().on_message(on_message).on_binary(on_message)
    return hosts(builder, configure=configure), written


@pytest.mark.parametrize(("mode", "size"), [("sleep0", MESSAGE), ("tight", MESSAGE), ("tight", 1000)])
def test_peer_that_stops_reading_unawaited_writes_are_cut_off_with_1008(hosts, rel, raw_client, mode, size) -> None:
    """Writes that are not awaited pile up only to the write limit; then the peer is dropped with 1008."""
    unit = rel.UNIT
    rss_before = rel.rss_mib()
    host, written = writer_host(hosts, mode, size)
    rng = random.Random(9)
    with rel.ws_client(host.url) as healthy:
        peer = raw_client(host.bound_port, rcvbuf=4096)
        peer.handshake()
        assert rel.wait_for(lambda: connection_from(host, peer.local_port) is not None, 2 * unit)
        conn = connection_from(host, peer.local_port)
        peer.send(rel.mask_frame(1, b"go"))
        samples = []
        deadline = time.monotonic() + 5 * unit
        while conn.state != "closed" and time.monotonic() < deadline:
            samples.append(conn.buffered_amount)
            time.sleep(0.002)
        rss_after = rel.rss_mib()
        print(
            f"not reading, writes not awaited ({mode}, {size} B): {written['count']} messages written, buffer peak "
            f"{max([written['max_buffer'], *samples]) / 1024:.0f} KiB, RSS {rss_before:.1f} -> {rss_after:.1f} MiB"
        )
        assert conn.state == "closed", "the connection was never closed"
        assert max([written["max_buffer"], *samples]) <= MAXIMUM + max(size, HIGH_WATER) + 16
        assert rss_after - rss_before < 32
        assert isinstance(written["ended"], ConnectionClosed) and written["ended"].code == 1008
        hits = [e for e in host.recorder.events("limit") if isinstance(e, LimitHit) and e.connection == conn.id]
        assert hits and hits[0].limit == "write buffer" and hits[0].value == MAXIMUM and hits[0].code == 1008, host.recorder.events("limit")
        assert rel.wait_for(lambda: close_records(host, conn.id), 2 * unit)
        (record,) = close_records(host, conn.id)
        assert record.code == 1008 and record.by == "server", record
        rel.check_echo(healthy, rng, rounds=5)
        assert len(host.connections) == 1


def test_peer_that_stops_reading_awaited_writes_wait_until_keepalive_drops_it(hosts, rel, raw_client) -> None:
    """`await write()` waits at the high-water mark, so nothing piles up; keepalive then drops the peer."""
    unit = rel.UNIT
    interval, timeout = 1.0 * unit, 0.5 * unit
    rss_before = rel.rss_mib()
    host, written = writer_host(hosts, "await", extra=lambda h: h.keepalive(interval, timeout))
    rng = random.Random(10)
    with rel.ws_client(host.url) as healthy:
        peer = raw_client(host.bound_port, rcvbuf=4096)
        peer.handshake()
        assert rel.wait_for(lambda: connection_from(host, peer.local_port) is not None, 2 * unit)
        conn = connection_from(host, peer.local_port)
        peer.send(rel.mask_frame(1, b"go"))
        started = time.monotonic()
        samples = []
        while conn.state != "closed" and time.monotonic() - started < interval + timeout + 2 * unit:
            samples.append(conn.buffered_amount)
            time.sleep(0.002)
        rss_after = rel.rss_mib()
        gone = time.monotonic() - started
        print(
            f"not reading, writes awaited: {written['count']} messages written, buffer peak "
            f"{max([written['max_buffer'], *samples]) / 1024:.0f} KiB, dropped after {gone:.2f} s, "
            f"RSS {rss_before:.1f} -> {rss_after:.1f} MiB"
        )
        assert conn.state == "closed"
        assert gone <= interval + timeout + 1.0 * unit
        assert max([written["max_buffer"], *samples]) <= HIGH_WATER + MESSAGE + 16  # the writer waited
        assert rss_after - rss_before < 32
        assert isinstance(written["ended"], ConnectionClosed)
        assert rel.wait_for(lambda: close_records(host, conn.id), 2 * unit)
        (record,) = close_records(host, conn.id)
        assert record.code == 1011 and record.reason == "keepalive ping timeout", record
        rel.check_echo(healthy, rng, rounds=5)
