"""Shared fixtures for the Sans-I/O protocol tests.

Helpers are offered as fixtures rather than imported: test directories have no `__init__.py`, so
`import conftest` would pick whichever directory's conftest pytest loaded last.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from wsplay.protocol.connection import Connection


def push_copy(conn: Connection, data: bytes) -> None:
    conn.receive_data(data)


def push_buffered(conn: Connection, data: bytes) -> None:
    """Write through `get_buffer`/`buffer_updated`, as `asyncio.BufferedProtocol` does."""
    view = memoryview(data)
    while view:
        buf = conn.get_buffer(-1)
        n = min(len(buf), len(view))
        assert n > 0
        buf[:n] = view[:n]
        buf.release()
        conn.buffer_updated(n)
        view = view[n:]


PUSHERS = {"receive_data": push_copy, "get_buffer": push_buffered}


@pytest.fixture(params=sorted(PUSHERS))
def push(request) -> Callable[[Connection, bytes], None]:
    """Each way bytes can enter a Connection: copied in, or written into its buffer."""
    return PUSHERS[request.param]
