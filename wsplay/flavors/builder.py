"""The builder options every flavor shares."""

from __future__ import annotations

import inspect
from collections.abc import Iterable
from typing import Any, TypeVar

from wsplay.core.options import Compression, Settings
from wsplay.engine.connection import SocketConnection

__all__ = ["WebsocketBuilder", "maybe_await"]

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

    def compression(self: B, settings: Compression | None = Compression()) -> B:  # noqa: B008 - frozen, shared safely
        """permessage-deflate for this endpoint: on by default; None turns it off, `Compression(...)` tunes it.

        Example:
            Websocket.reactive().handler(Echo()).compression(None)
            Websocket.reactive().handler(Echo()).compression(Compression(server_no_context_takeover=True))
        """
        self.settings.compression = settings
        return self

    def subprotocols(self: B, *names: str | Iterable[str]) -> B:
        """Offer these subprotocols, in order of preference: `.subprotocols("chat", "echo")` or a list."""
        flat: list[str] = []
        for name in names:
            flat.extend([name] if isinstance(name, str) else name)
        self.settings.subprotocols = tuple(flat)
        return self

    def validate(self) -> None:
        """Raise HostError when this endpoint cannot serve yet (a flavor still missing its handler)."""

    async def serve(self, connection: SocketConnection) -> None:  # pragma: no cover - abstract
        raise NotImplementedError
