"""Connection lifecycle over real sockets: handler errors, stop, keepalive, closing, writes from threads."""

from __future__ import annotations

import contextlib
import gc
import threading
import time

import pytest

from websockets.exceptions import ConnectionClosed as WsClosed
from websockets.exceptions import ConnectionClosedError, ConnectionClosedOK
from websockets.sync.client import connect

from wsplay import ConnectionClosed, InvalidState, Websocket
from wsplay.engine.http import HttpProtocol

from rawws import wait_for


def client(host, unit):
    return connect(host.url, open_timeout=2 * unit, close_timeout=2 * unit)


def boom_echo():
    async def on_message(connection, frame):
        if frame.data_as_string() == "boom":
            raise RuntimeError("boom on purpose")
        await connection.write(frame.data_as_string())

    return Websocket.functional().on_message(on_message)


def test_handler_error_closes_only_its_connection_with_1011(hosts, wire):
    unit = wire.UNIT
    host = hosts(boom_echo())
    with client(host, unit) as other, client(host, unit) as victim:
        other.send("hello")
        assert other.recv(timeout=2 * unit) == "hello"
        victim.send("boom")
        with pytest.raises(ConnectionClosedError) as info:
            victim.recv(timeout=2 * unit)
        assert info.value.rcvd is not None and info.value.rcvd.code == 1011
        assert "RuntimeError" in info.value.rcvd.reason
        assert wait_for(lambda: len(host.errors) == 1, 2 * unit)
        error = host.errors[0]
        assert isinstance(error.exception, RuntimeError)
        assert "boom on purpose" in error.traceback and "Traceback" in error.traceback
        assert "on_message" in error.traceback
        other.send("still fine")
        assert other.recv(timeout=2 * unit) == "still fine"
        assert wait_for(lambda: len(host.connections) == 1, 2 * unit)
    assert host.running


def test_stop_closes_every_client_with_1001(hosts, wire):
    unit = wire.UNIT
    host = hosts(boom_echo())
    with contextlib.ExitStack() as stack:
        clients = [stack.enter_context(client(host, unit)) for _ in range(3)]
        for i, ws in enumerate(clients):
            ws.send(f"hi {i}")
            assert ws.recv(timeout=2 * unit) == f"hi {i}"
        assert len(host.connections) == 3
        start = time.monotonic()
        stopper = threading.Thread(target=host.stop)
        stopper.start()
        for ws in clients:
            with pytest.raises(ConnectionClosedOK) as info:
                ws.recv(timeout=2 * unit)  # the host's close timeout is 2 units
            assert info.value.rcvd is not None and info.value.rcvd.code == 1001
        stopper.join(3 * unit)
        assert not stopper.is_alive()
        assert time.monotonic() - start < 2 * unit  # the clients answered: no waiting for the timeout
        assert not host.running and host.connections == []


def test_stop_drops_a_client_that_never_answers_the_close(hosts, raw_client, wire):
    unit = wire.UNIT
    host = hosts(boom_echo())  # close timeout: 2 units
    raw = raw_client(host.bound_port)
    raw.handshake()
    start = time.monotonic()
    host.stop()
    elapsed = time.monotonic() - start
    assert raw.read_close()[0] == 1001
    assert raw.read_until_eof(unit) == b""
    assert 1.5 * unit < elapsed < 4 * unit, elapsed


def test_keepalive_drops_a_silent_client_and_keeps_an_answering_one(hosts, raw_client, wire):
    unit = wire.UNIT
    interval = timeout = 0.2 * unit
    host = hosts(boom_echo(), keepalive=(interval, timeout))
    with client(host, unit) as alive:  # websockets answers pings by itself
        raw = raw_client(host.bound_port)
        raw.handshake()
        start = time.monotonic()
        assert wait_for(lambda: len(host.connections) == 2, unit)
        ping = raw.read_frame(interval + 2 * unit)  # reading is not answering: the server hears nothing
        assert ping.opcode == 9
        assert wait_for(lambda: len(host.connections) == 1, interval + timeout + 2 * unit), host.connections
        dropped_after = time.monotonic() - start
        print(f"\nsilent client dropped after {dropped_after:.3f} s (interval {interval} s + timeout {timeout} s)")
        assert dropped_after >= 0.75 * (interval + timeout)
        raw.read_until_eof(unit)  # the TCP connection is gone (reset or EOF)
        assert raw.eof
        time.sleep(interval + timeout)  # the answering client lives through more keepalive rounds
        alive.send("still connected")
        assert alive.recv(timeout=2 * unit) == "still connected"
        assert len(host.connections) == 1
        assert host.connections[0].state == "open"


def test_refused_handshakes_keep_nothing_of_their_connections(echo_host, raw_client, wire):
    # A refusal once left its connection referenced (through a traceback kept on a shared object)
    # until the next refusal: the soak test kept finding one transport alive.
    port = echo_host.bound_port
    refused = [
        (wire.upgrade_request(port, key=None), 400),  # websockets' checks: answered through accept()
        (wire.upgrade_request(port, method="POST"), 405),
        (wire.upgrade_request(port, ws_version="8"), 426),  # wsplay's own check
        (wire.upgrade_request(port, host=False), 400),
    ]
    for request, status in refused:
        raw = raw_client(port)
        raw.send(request)
        assert raw.read_http().status == status
        raw.read_until_eof()
    assert wait_for(lambda: not echo_host.server.handshaking, 2 * wire.UNIT)

    def left() -> list:
        gc.collect()
        return [o for o in gc.get_objects() if isinstance(o, HttpProtocol) and o.server is echo_host.server]

    assert wait_for(lambda: not left(), 1 * wire.UNIT), left()


def test_client_close_is_echoed_and_the_server_closes_tcp(echo_host, raw_client, wire):
    unit = wire.UNIT
    host = echo_host
    raw = raw_client(host.bound_port)
    raw.handshake()
    assert wait_for(lambda: len(host.connections) == 1, unit)  # registered right after the 101 is written
    (conn,) = host.connections
    raw.send(wire.mask_frame(8, wire.close_payload(1000, "done")))
    assert raw.read_close()[0] == 1000  # the code is echoed
    start = time.monotonic()
    assert raw.read_until_eof(unit) == b""
    assert time.monotonic() - start < unit  # the server closed TCP, not its 2-unit close timeout
    assert wait_for(lambda: conn.state == "closed" and not host.connections, unit)
    assert conn.close_code == 1000 and conn.closed_by == "client"


def test_websockets_client_close_handshake(echo_host, wire):
    unit = wire.UNIT
    with client(echo_host, unit) as ws:
        ws.send("x")
        assert ws.recv(timeout=2 * unit) == "x"
        start = time.monotonic()
        ws.close(1000, "bye")
        assert time.monotonic() - start < unit
        assert ws.protocol.close_rcvd is not None and ws.protocol.close_rcvd.code == 1000
        assert ws.protocol.close_rcvd_then_sent is False  # we sent first, the server answered
    assert wait_for(lambda: not echo_host.connections, unit)


def test_write_from_a_plain_thread(echo_host, wire):
    unit = wire.UNIT
    with client(echo_host, unit) as ws:
        assert wait_for(lambda: len(echo_host.connections) == 1, unit)
        (conn,) = echo_host.connections
        errors: list[BaseException] = []

        def work():
            try:
                conn.write("from thread")
                conn.write(b"\x00binary from thread", 2)
                conn.ping(b"thread ping")
            except BaseException as exc:  # noqa: BLE001 - reported to the test thread
                errors.append(exc)

        worker = threading.Thread(target=work)
        worker.start()
        worker.join(2 * unit)
        assert not worker.is_alive() and errors == []
        assert ws.recv(timeout=2 * unit) == "from thread"
        assert ws.recv(timeout=2 * unit) == b"\x00binary from thread"
        # And the connection still echoes (the ping from the thread was answered by websockets).
        ws.send("after")
        assert ws.recv(timeout=2 * unit) == "after"

        def close_from_thread():
            conn.close(4000, "thread says bye")

        closer = threading.Thread(target=close_from_thread)
        closer.start()
        closer.join(2 * unit)
        with pytest.raises(WsClosed) as info:
            ws.recv(timeout=2 * unit)
        assert info.value.rcvd is not None and info.value.rcvd.code == 4000
        assert info.value.rcvd.reason == "thread says bye"

    late: list[BaseException] = []

    def write_late():
        try:
            conn.write("too late")
        except BaseException as exc:  # noqa: BLE001
            late.append(exc)

    writer = threading.Thread(target=write_late)
    writer.start()
    writer.join(2 * unit)
    assert len(late) == 1 and isinstance(late[0], (ConnectionClosed, InvalidState)), late


def test_subprotocols_may_be_given_as_a_list(hosts):
    """`.subprotocols(["a", "b"])` used to reach the handshake as a list, which it could not hash."""
    from wsplay import Websocket

    host = hosts(Websocket.functional().subprotocols(["superchat", "chat"]))
    with connect(host.url, subprotocols=["chat"], open_timeout=2) as ws:
        assert ws.subprotocol == "chat"
