"""Fixtures for the engine tests: real sockets on 127.0.0.1, bytes made by hand (tests/rawws.py).

Every timeout is a multiple of UNIT (seconds; raise WSPLAY_TEST_UNIT on a slow machine). Frames
sent to the server are built with `struct`, never with wsplay's encoder, so the engine is not
only checked against its own codec.

The raw-wire helpers are handed to tests by the `wire` fixture.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from wsplay import Host, Websocket
from wsplay.examples import build_example

from rawws import KEY, UNIT, RawClient, close_payload, mask_frame, upgrade_request


class Wire:
    """The raw-wire helpers (tests/rawws.py), handed out by the `wire` fixture."""

    UNIT = UNIT
    KEY = KEY
    mask_frame = staticmethod(mask_frame)
    close_payload = staticmethod(close_payload)
    upgrade_request = staticmethod(upgrade_request)
    RawClient = RawClient


@pytest.fixture
def wire() -> type[Wire]:
    return Wire


@pytest.fixture
def raw_client() -> Iterator[Callable[[int], RawClient]]:
    """A factory of raw clients; every one is closed after the test."""
    clients: list[RawClient] = []

    def make(port: int) -> RawClient:
        client = RawClient(port)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


def start_host(builder, **options) -> Host:
    """Start a host on a free port with test-sized timeouts."""
    host = Host.create().handler(builder).port(0).close_timeout(2 * UNIT).handshake_timeout(3 * UNIT)
    if options.get("development"):
        host.development()
    if "keepalive" in options:
        host.keepalive(*options["keepalive"])
    return host.start()


@pytest.fixture
def hosts() -> Iterator[Callable[..., Host]]:
    """A factory: `hosts(builder, development=True, keepalive=(i, t))`; every host is stopped after the test."""
    started: list[Host] = []

    def make(builder, **options) -> Host:
        host = start_host(builder, **options)
        started.append(host)
        return host

    yield make
    for host in started:
        host.stop()


@pytest.fixture
def echo_host(hosts) -> Host:
    """The functional echo example on a free port."""
    return hosts(build_example("echo", "functional"))


@pytest.fixture
def limited_host(hosts) -> Host:
    """A functional echo that refuses messages over 1024 bytes."""

    async def echo(connection, frame):
        await connection.write(frame.data, frame.type)

    return hosts(Websocket.functional().on_message(echo).on_binary(echo).max_message_size(1024))
