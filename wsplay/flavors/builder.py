"""The builder options every flavor shares, and the `Websocket` entry point that picks a flavor."""

from __future__ import annotations

import inspect
from typing import TYPE_CHECKING, Any, TypeVar

from wsplay.engine.settings import Settings

if TYPE_CHECKING:
    from wsplay.engine.socket import SocketConnection
    from wsplay.flavors.functional import FunctionalWebsocket
    from wsplay.flavors.imperative import ImperativeWebsocket
    from wsplay.flavors.legacy import LegacyWebsocket
    from wsplay.flavors.reactive import ReactiveWebsocket

__all__ = ["Websocket", "WebsocketBuilder", "maybe_await"]

B = TypeVar("B", bound="WebsocketBuilder")


async def maybe_await(value: Any) -> Any:
    """Let user callbacks be plain functions or coroutine functions."""
    if inspect.isawaitable(value):
        return await value
    return value


class WebsocketBuilder:
    """Options shared by all flavors; a finished builder is what `Host.handler()` takes."""

    def __init__(self) -> None:
        self.settings = Settings()

    def handle_continuation_frames_manually(self: B) -> B:
        """Deliver fragments as they arrive (first frame with fin False, then CONTINUE frames)."""
        self.settings.handle_continuation_frames_manually = True
        return self

    def do_not_allocate_frame_data(self: B) -> B:
        """Lend frames views into the receive buffer instead of copying them.

        `frame.raw.memory` (or `frame.raw.segments`) is then valid only until the next frame is read;
        `frame.data` copies on first access and must be touched before that.
        """
        self.settings.allocate_frame_data = False
        return self

    def max_message_size(self: B, size: int | None) -> B:
        """Refuse messages larger than `size` bytes with 1009 (default 16 MiB; None: no limit)."""
        self.settings.max_message_size = size
        return self

    def max_frame_size(self: B, size: int | None) -> B:
        """Refuse single frames larger than `size` bytes with 1009 (default: only the message limit)."""
        self.settings.max_frame_size = size
        return self

    def subprotocols(self: B, *names: str) -> B:
        """Offer these subprotocols, in order of preference."""
        self.settings.subprotocols = tuple(names)
        return self

    async def serve(self, connection: SocketConnection) -> None:  # pragma: no cover - abstract
        raise NotImplementedError


class Websocket:
    """Pick a flavor, as in the seed: `Websocket.reactive()`, `.functional()`, `.imperative()`, `.create()`."""

    @staticmethod
    def reactive() -> ReactiveWebsocket:
        """A handler object whose `on_message`, `on_close`, ... the engine calls (the seed's template flavor)."""
        from wsplay.flavors.reactive import ReactiveWebsocket

        return ReactiveWebsocket()

    @staticmethod
    def functional() -> FunctionalWebsocket:
        """Like reactive, with each callback set on the builder."""
        from wsplay.flavors.functional import FunctionalWebsocket

        return FunctionalWebsocket()

    @staticmethod
    def imperative() -> ImperativeWebsocket:
        """A handler that runs its own read loop with `await connection.read_frame()`."""
        from wsplay.flavors.imperative import ImperativeWebsocket

        return ImperativeWebsocket()

    @staticmethod
    def create() -> LegacyWebsocket:
        """The deprecated message-level flavor; use `Websocket.functional()` instead."""
        from wsplay.flavors.legacy import LegacyWebsocket

        return LegacyWebsocket(stacklevel=3)
