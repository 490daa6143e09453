"""The imperative flavor: the handler runs its own message loop over `connection.read_frame()`.

Nothing is answered for it: pings need `connection.pong()`, a close frame needs `connection.close()`
(the engine completes the close handshake if the handler returns or reads on without doing so).
"""

from __future__ import annotations

from typing import Any, Protocol

from wsplay.engine.socket import SocketConnection
from wsplay.flavors.builder import WebsocketBuilder, maybe_await

__all__ = ["ImperativeHandler", "ImperativeWebsocket"]


class ImperativeHandler(Protocol):
    """An object with `async def handle(self, connection)`."""

    async def handle(self, connection: SocketConnection) -> None: ...


class ImperativeWebsocket(WebsocketBuilder):
    """`Websocket.imperative().handler(ChatHandler())`."""

    def __init__(self) -> None:
        super().__init__()
        self._handler: Any = None

    def handler(self, handler: Any) -> ImperativeWebsocket:
        """Set the handler: an object with `handle(connection)`, a class of them, or an async function."""
        self._handler = handler
        return self

    async def serve(self, connection: SocketConnection) -> None:
        handler = self._handler
        if handler is None:
            raise RuntimeError("Websocket.imperative() has no handler: call .handler(YourHandler()) on it")
        if isinstance(handler, type):
            handler = handler()
        handle = getattr(handler, "handle", handler)
        await maybe_await(handle(connection))
