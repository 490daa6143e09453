"""The imperative flavor: the handler runs its own message loop over `connection.read_frame()`.

Nothing is answered for it: pings need `connection.pong()`, a close frame needs `connection.close()`
(the engine completes the close handshake if the handler returns or reads on without doing so).
"""

from __future__ import annotations

from typing import Any, Protocol

from wsplay.engine.connection import SocketConnection
from wsplay.errors import HostError
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

    def validate(self) -> None:
        if self._handler is None:
            raise HostError("Websocket.imperative() has no handler: call .handler(YourHandler()) on it")

    async def serve(self, connection: SocketConnection) -> None:
        self.validate()
        handler = self._handler
        if isinstance(handler, type):
            handler = handler()
        handle = getattr(handler, "handle", handler)
        await maybe_await(handle(connection))
