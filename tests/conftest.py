"""Fixtures every test directory shares: hosts, wsplay clients, raw servers and raw clients, all on 127.0.0.1.

Every wait is a multiple of one unit, `testenv.UNIT` (seconds; raise WSPLAY_TEST_UNIT on a slow
machine). Each fixture owns what it makes and stops or closes all of it after the test, whatever
happened in it. Helpers that are not fixtures live in tests/testenv.py and tests/rawws.py (pyproject
puts tests/ on the path), since test directories have no `__init__.py` to import a conftest by.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from wsplay import Client, Host

from rawws import RawClient, RawServer
from testenv import UNIT, echo_endpoint


@pytest.fixture
def hosts() -> Iterator[Callable[..., Host]]:
    """A factory of hosts on 127.0.0.1 with test-sized timeouts; every one is stopped after the test.

    `hosts(builder=None, *, start=True, port=0, routes=None, development=False, keepalive=None,
    configure=None, close_timeout=2 * UNIT)`: the builder (for every path) defaults to an echo
    independent of wsplay's examples (testenv.echo_endpoint), unless only `routes` ({path: builder})
    are given; `keepalive` is (interval, timeout); `configure(host)` sets anything
    else before the start.
    """
    made: list[Host] = []

    def make(
        builder: Any = None,
        *,
        start: bool = True,
        port: int = 0,
        routes: dict[str, Any] | None = None,
        development: bool = False,
        keepalive: tuple[float, float] | None = None,
        configure: Callable[[Host], Any] | None = None,
        close_timeout: float = 2 * UNIT,
    ) -> Host:
        host = Host.create()
        if builder is not None or not routes:  # routes alone: no endpoint for other paths
            host.handler(builder or echo_endpoint())
        for path, endpoint in (routes or {}).items():
            host.route(path, endpoint)
        host.port(port).close_timeout(close_timeout).handshake_timeout(3 * UNIT)
        if development:
            host.development()
        if keepalive is not None:
            host.keepalive(*keepalive)
        if configure is not None:
            configure(host)
        made.append(host)
        return host.start() if start else host

    try:
        yield make
    finally:
        for host in made:
            host.stop()


@pytest.fixture
def echo_host(hosts: Callable[..., Host]) -> Host:
    """An echo host on a free port."""
    return hosts()


@pytest.fixture
def clients() -> Iterator[Callable[..., Client]]:
    """A factory of connected wsplay clients with test-sized timeouts; each is closed after the test."""
    made: list[Client] = []

    def make(url: str, **options: Any) -> Client:
        options.setdefault("open_timeout", 2 * UNIT)
        options.setdefault("close_timeout", 2 * UNIT)
        client = Client(url, **options)
        made.append(client)
        client.open()
        return client

    try:
        yield make
    finally:
        for client in made:
            client.close()


@pytest.fixture
def raw_client() -> Iterator[Callable[..., RawClient]]:
    """A factory of raw (hand-made bytes) clients of a port; every one is closed after the test."""
    made: list[RawClient] = []

    def make(port: int, **options: Any) -> RawClient:
        client = RawClient(port, **options)
        made.append(client)
        return client

    try:
        yield make
    finally:
        for client in made:
            client.close()


@pytest.fixture
def raw_servers() -> Iterator[Callable[..., RawServer]]:
    """A factory of scripted servers: each answers one upgrade by hand, then sends `after_101` and listens."""
    made: list[RawServer] = []

    def make(after_101: bytes = b"", **options: Any) -> RawServer:
        server = RawServer(after_101, **options)
        made.append(server)
        return server

    try:
        yield make
    finally:
        for server in made:
            server.stop()
