"""The functional flavor: the reactive pump, with each callback set on the builder."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from wsplay.core.frame import Frame
from wsplay.engine.connection import SocketConnection
from wsplay.flavors.builder import WebsocketBuilder
from wsplay.flavors.reactive import ReactiveHandler, pump

__all__ = ["FunctionalWebsocket"]

Callback = Callable[..., Awaitable[Any] | Any]


class FunctionalWebsocket(WebsocketBuilder):
    """`Websocket.functional().on_message(f)...`; callbacks may be plain or `async` functions.

    Unset callbacks keep the seed's defaults: pings are answered, a peer's close is completed.
    """

    def __init__(self) -> None:
        super().__init__()
        self._callbacks: dict[str, Callback] = {}

    def _set(self, name: str, callback: Callback) -> FunctionalWebsocket:
        if not callable(callback):
            raise TypeError(f"{name} takes a function, got {type(callback).__name__}")
        self._callbacks[name] = callback
        return self

    def on_connected(self, callback: Callable[[SocketConnection], Any]) -> FunctionalWebsocket:
        return self._set("on_connected", callback)

    def on_message(self, callback: Callable[[SocketConnection, Frame], Any]) -> FunctionalWebsocket:
        return self._set("on_message", callback)

    def on_binary(self, callback: Callable[[SocketConnection, Frame], Any]) -> FunctionalWebsocket:
        return self._set("on_binary", callback)

    def on_continue(self, callback: Callable[[SocketConnection, Frame], Any]) -> FunctionalWebsocket:
        return self._set("on_continue", callback)

    def on_ping(self, callback: Callable[[SocketConnection, Frame], Any]) -> FunctionalWebsocket:
        return self._set("on_ping", callback)

    def on_pong(self, callback: Callable[[SocketConnection, Frame], Any]) -> FunctionalWebsocket:
        return self._set("on_pong", callback)

    def on_close(self, callback: Callable[[SocketConnection, Frame], Any]) -> FunctionalWebsocket:
        return self._set("on_close", callback)

    def on_error(self, callback: Callable[[SocketConnection, Frame], Any]) -> FunctionalWebsocket:
        return self._set("on_error", callback)

    async def serve(self, connection: SocketConnection) -> None:
        handler = ReactiveHandler()
        for name, callback in self._callbacks.items():
            setattr(handler, name, callback)  # instance attributes shadow the defaults
        await pump(connection, handler)
