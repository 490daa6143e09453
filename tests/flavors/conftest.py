"""Helpers for the flavor tests: a host per test on 127.0.0.1 port 0, stopped at teardown.

Helpers are offered through fixtures: test directories have no `__init__.py`, so importing
`conftest` by name would pick whichever directory's conftest pytest loaded last.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from wsplay import Host

from testenv import wait_for

UNIT = 5.0  # seconds: every wait in these tests is a multiple of this


class Serve:
    """Start hosts for one test; every one of them is stopped when the test ends."""

    UNIT = UNIT
    wait_for = staticmethod(wait_for)

    def __init__(self) -> None:
        self.hosts: list[Host] = []

    def __call__(self, websocket) -> Host:
        host = Host.create().handler(websocket).port(0).close_timeout(UNIT).start()
        self.hosts.append(host)
        return host

    def stop_all(self) -> None:
        for host in self.hosts:
            host.stop()


@pytest.fixture
def serve() -> Iterator[Serve]:
    """`serve(websocket)` starts a host on a free loopback port and returns it."""
    s = Serve()
    try:
        yield s
    finally:
        s.stop_all()
