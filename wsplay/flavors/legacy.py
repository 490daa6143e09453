"""The deprecated legacy flavor: message-level callbacks in the style of Fleck.

It stays for workshops that compare it with the others; new code uses `Websocket.functional()`.
"""

from __future__ import annotations

import warnings
from collections.abc import Awaitable, Callable
from typing import Any

from wsplay.engine.connection import RequestInfo, SocketConnection
from wsplay.errors import ConnectionClosed
from wsplay.flavors.builder import WebsocketBuilder, maybe_await
from wsplay.protocol.frames import FrameType

__all__ = ["LegacyConnection", "LegacyWebsocket"]


class LegacyConnection:
    """The connection the legacy callbacks get (Fleck's IWebSocketConnection): send and close."""

    __slots__ = ("_socket",)

    def __init__(self, socket: SocketConnection) -> None:
        self._socket = socket

    @property
    def info(self) -> RequestInfo:
        """The upgrade request (Fleck's ConnectionInfo)."""
        return self._socket.request

    @property
    def socket(self) -> SocketConnection:
        """The underlying connection, for what this flavor does not offer."""
        return self._socket

    def send(self, message: str | bytes) -> Awaitable[None]:
        """Send a text (`str`) or binary (`bytes`) message."""
        opcode = FrameType.TEXT if isinstance(message, str) else FrameType.BINARY
        return self._socket.write(message, opcode)

    def close(self, code: int | None = None, reason: str = "") -> Awaitable[None]:
        """Close with `code` (1000 by default) and `reason`, as a connection's `close()` does."""
        return self._socket.close(code, reason)

    def __repr__(self) -> str:
        return f"<LegacyConnection {self._socket.id}>"


Callback = Callable[..., Awaitable[Any] | Any]


class LegacyWebsocket(WebsocketBuilder):
    """`Websocket.create().on_open(f).on_message(f).on_close(f)`: deprecated, use `Websocket.functional()`."""

    def __init__(self, stacklevel: int = 2) -> None:
        warnings.warn(  # deprecated
            "Websocket.create() is the deprecated legacy flavor and will be removed; "
            "use Websocket.functional() with .on_connected(), .on_message() and .on_close() instead",
            DeprecationWarning,
            stacklevel=stacklevel,
        )
        super().__init__()
        self._on_open: Callback | None = None
        self._on_message: Callback | None = None
        self._on_binary: Callback | None = None
        self._on_close: Callback | None = None
        self._on_error: Callback | None = None

    def handle_continuation_frames_manually(self) -> LegacyWebsocket:
        raise TypeError("the legacy flavor works on whole messages; use Websocket.functional() to see fragments")

    def do_not_allocate_frame_data(self) -> LegacyWebsocket:
        raise TypeError("the legacy flavor hands out str and bytes; use Websocket.functional() to borrow buffers")

    def on_open(self, callback: Callable[[LegacyConnection], Any]) -> LegacyWebsocket:
        self._on_open = callback
        return self

    def on_message(self, callback: Callable[[LegacyConnection, str], Any]) -> LegacyWebsocket:
        """Called with each text message as a `str`."""
        self._on_message = callback
        return self

    def on_binary(self, callback: Callable[[LegacyConnection, bytes], Any]) -> LegacyWebsocket:
        """Called with each binary message as `bytes`."""
        self._on_binary = callback
        return self

    def on_close(self, callback: Callable[[LegacyConnection], Any]) -> LegacyWebsocket:
        self._on_close = callback
        return self

    def on_error(self, callback: Callable[[LegacyConnection, Exception], Any]) -> LegacyWebsocket:
        self._on_error = callback
        return self

    async def serve(self, socket: SocketConnection) -> None:
        # Message level: fragments are merged and pings answered here, whatever the builder says.
        connection = LegacyConnection(socket)
        if self._on_open:
            await maybe_await(self._on_open(connection))
        try:
            while True:
                frame = await socket.read_frame()
                kind = frame.type
                if kind is FrameType.TEXT:
                    if self._on_message:
                        await maybe_await(self._on_message(connection, frame.data_as_string()))
                elif kind is FrameType.BINARY:
                    if self._on_binary:
                        await maybe_await(self._on_binary(connection, frame.data))
                elif kind is FrameType.PING:
                    await socket.pong()
                elif kind is FrameType.CLOSE:
                    await socket.close()
                    break
                elif kind is FrameType.ERROR and self._on_error:
                    await maybe_await(self._on_error(connection, frame.error))
        except ConnectionClosed:
            pass
        finally:
            if self._on_close:
                await maybe_await(self._on_close(connection))
