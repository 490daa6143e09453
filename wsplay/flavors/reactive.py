"""The reactive flavor: the engine reads frames and calls a handler object's methods, one at a time.

Each call is awaited before the next frame is read (the seed's message pump), so a slow `on_message`
delays everything behind it, pongs included: spawn a task for long work.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from wsplay.core.frame import Frame
from wsplay.engine.connection import SocketConnection
from wsplay.errors import ConnectionClosed, HostError
from wsplay.flavors.builder import WebsocketBuilder, maybe_await
from wsplay.protocol.frames import FrameType

__all__ = ["ReactiveHandler", "ReactiveWebsocket", "pump"]


class ReactiveHandler:
    """Subclass and override what you need; the defaults are the seed's.

    Example:
        class Echo(ReactiveHandler):
            async def on_message(self, connection, message): await connection.write(message.data_as_string())
    """

    async def on_connected(self, connection: SocketConnection) -> None:
        """A client connected."""

    async def on_message(self, connection: SocketConnection, message: Frame) -> None:
        """A text message arrived (merged from its fragments unless handled manually)."""

    async def on_binary(self, connection: SocketConnection, message: Frame) -> None:
        """A binary message arrived."""

    async def on_continue(self, connection: SocketConnection, message: Frame) -> None:
        """A CONTINUE frame arrived (only with handle_continuation_frames_manually())."""

    async def on_ping(self, connection: SocketConnection, message: Frame) -> None:
        """Answer a ping with a pong carrying its data."""
        await connection.pong(message.data)

    async def on_pong(self, connection: SocketConnection, message: Frame) -> None:
        """A pong arrived."""

    async def on_close(self, connection: SocketConnection, message: Frame) -> None:
        """The peer closed (or the connection dropped, code 1006): complete the close handshake."""
        await connection.close()

    async def on_error(self, connection: SocketConnection, message: Frame) -> bool:
        """The peer broke the protocol (`message.error`). True: close with the error's code.

        The connection is failed either way, as RFC 6455 7.1.7 requires; the engine has already sent
        the close frame with `message.error.code`.
        """
        return True


Callback = Callable[[SocketConnection, Frame], Awaitable[Any] | Any]


def _nothing_buffered() -> None:
    return None


async def pump(connection: SocketConnection, handler: Any) -> None:
    """Read frames and dispatch them to `handler`'s on_* methods until the connection closes."""
    dispatch: dict[FrameType, Callback] = {
        FrameType.TEXT: handler.on_message,
        FrameType.BINARY: handler.on_binary,
        FrameType.CONTINUE: handler.on_continue,
        FrameType.PING: handler.on_ping,
        FrameType.PONG: handler.on_pong,
        FrameType.CLOSE: handler.on_close,
        FrameType.ERROR: handler.on_error,
    }
    await maybe_await(handler.on_connected(connection))
    read = connection.read_frame
    watching = connection.watching
    # A frame already buffered (a read often brings several) is taken without creating a coroutine;
    # in development mode every read goes through read_frame(), which times the handler for stalls.
    buffered = connection.try_read_frame if not watching else _nothing_buffered
    try:
        while True:
            frame = buffered()
            if frame is None:
                frame = await read()
            callback = dispatch[frame.type]
            if watching:  # development mode: name what holds the pump if it stalls
                connection.note_handler(getattr(callback, "__qualname__", repr(callback)))
            result = callback(connection, frame)
            if result is not None and hasattr(result, "__await__"):
                await result
            if frame.type is FrameType.CLOSE:
                return  # nothing may follow the peer's close frame (RFC 6455 5.5.1); the engine finishes the close
    except ConnectionClosed as closed:
        # Dropped without a close frame: still tell the handler, so it can clean up.
        frame = Frame(FrameType.CLOSE, connection, b"")
        frame.close_code, frame.close_reason = closed.code, closed.reason
        await maybe_await(handler.on_close(connection, frame))


class ReactiveWebsocket(WebsocketBuilder):
    """`Websocket.reactive().handler(ChatHandler())`."""

    def __init__(self) -> None:
        super().__init__()
        self._handler: Any = None

    def handler(self, handler: ReactiveHandler | Callable[[], ReactiveHandler]) -> ReactiveWebsocket:
        """Set the handler: one object shared by all connections, or a class/factory called per connection."""
        self._handler = handler
        return self

    def validate(self) -> None:
        if self._handler is None:
            raise HostError("Websocket.reactive() has no handler: call .handler(YourHandler()) on it")

    def _handler_for(self, connection: SocketConnection) -> Any:
        handler = self._handler
        if handler is None:
            self.validate()  # raises, naming the fix
        if isinstance(handler, type) or not hasattr(handler, "on_message"):
            return handler()
        return handler

    async def serve(self, connection: SocketConnection) -> None:
        await pump(connection, self._handler_for(connection))
