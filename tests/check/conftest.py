"""Peers for the check suite's tests: a websockets echo server, and the deliberately sloppy server.

Each is started once per module (a full suite run against it is shared by that module's tests) on
127.0.0.1 and a free port, and stopped after the module. Every wait is a multiple of UNIT.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from sloppyws import SloppyServer


@pytest.fixture(scope="module")
def websockets_url() -> Iterator[str]:
    """A `websockets` (sync) echo server's URL, with the library's defaults."""
    from websockets.sync.server import serve

    def echo(ws) -> None:  # type: ignore[no-untyped-def]
        try:
            for message in ws:
                ws.send(message)
        except Exception:  # the suite breaks connections on purpose
            pass

    server = serve(echo, "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, name="websockets-echo", daemon=True)
    thread.start()
    try:
        yield f"ws://127.0.0.1:{server.socket.getsockname()[1]}/"
    finally:
        server.shutdown()
        thread.join(5)


@pytest.fixture(scope="module")
def sloppy_url() -> Iterator[str]:
    """The sloppy echo server's URL (tests/sloppyws.py: no masking check, no UTF-8 check, close code 1000)."""
    server = SloppyServer()
    try:
        yield server.url
    finally:
        server.stop()
