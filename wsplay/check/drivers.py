"""Ready-made drivers for `check.client()`: wsplay's own client, and the `websockets` library's.

A driver is called with one case URL and follows the suite's convention: connect, send back every
message, answer the server's close, return when the connection is over (raise when it cannot
connect). These two check the suite itself and give something to compare a client with.

Example:
    wsplay.check.client(wsplay.check.drivers.wsplay_echo(close_timeout=2))
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

__all__ = ["websockets_echo", "wsplay_echo"]


def wsplay_echo(**options: Any) -> Callable[[str], None]:
    """A driver running wsplay's client (`wsplay.connect(url, **options)`) as an echo client."""
    from wsplay.client import Client
    from wsplay.protocol.frames import FrameType

    options.setdefault("open_timeout", 5.0)

    def wsplay_client(url: str) -> None:
        with Client(url, **options) as client:
            for frame in client:
                if frame.type is FrameType.TEXT:
                    client.send(frame.data_as_string())
                elif frame.type is FrameType.BINARY:
                    client.send(frame.data)

    return wsplay_client


def websockets_echo(**options: Any) -> Callable[[str], None]:
    """A driver running the `websockets` library's sync client (`connect(url, **options)`) as an echo client."""
    from websockets.sync.client import connect

    options.setdefault("open_timeout", 5.0)

    def websockets_client(url: str) -> None:
        with connect(url, **options) as ws:
            for message in ws:
                ws.send(message)

    return websockets_client
