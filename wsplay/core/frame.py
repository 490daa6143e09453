"""The frame handlers receive: one wire frame, or a fragmented message merged without copying."""

from __future__ import annotations

import json
from typing import Any

from wsplay.errors import InvalidState, ProtocolError
from wsplay.protocol.frames import FrameType, Header

__all__ = ["Frame", "RawFrame"]

_BORROWED = (
    "this frame borrowed the receive buffer (do_not_allocate_frame_data()) and the next frame has been "
    "read since, so its bytes are gone; touch frame.data before reading on, or drop "
    "do_not_allocate_frame_data() to keep frames"
)


class Frame:
    """What a handler gets: the seed's `IWebsocketFrame`.

    Attributes:
        type: FrameType.TEXT, BINARY, CONTINUE, CLOSE, PING, PONG or ERROR.
        connection: the connection it arrived on (a server's SocketConnection, or a Client).
        error: for ERROR frames, the ProtocolError (its `code` is the close code that answers it).
        close_code, close_reason: for CLOSE frames (1005 when the peer sent no code, 1006 when the
            connection dropped without a close frame).
    """

    __slots__ = ("type", "connection", "error", "close_code", "close_reason", "_payload", "_segments", "_lengths", "_text", "_headers", "_fin")

    def __init__(
        self,
        type: FrameType,
        connection: Any,
        payload: bytes | memoryview | None = b"",
        *,
        text: str | None = None,
        fin: bool = True,
        headers: list[Header] | None = None,
        segments: list[bytes | memoryview] | None = None,
        error: ProtocolError | None = None,
    ) -> None:
        self.type = type
        self.connection = connection
        self._payload = payload
        self._segments = segments
        self._lengths: list[int] | None = None  # the fragments' lengths, once they were joined (data)
        self._text = text
        self._fin = fin
        self._headers = headers
        self.error = error
        self.close_code: int | None = None
        self.close_reason = ""

    @property
    def data(self) -> bytes:
        """The payload as bytes the caller may keep (copied on first access in no-allocate mode)."""
        payload = self._payload
        if type(payload) is bytes:
            return payload
        segments = self._segments
        try:
            if payload is None:  # a merged message: join the fragments once
                payload = b"".join(segments or ())
            else:
                payload = bytes(payload)
        except ValueError:  # released memoryview
            raise InvalidState(_BORROWED) from None
        self._payload = payload
        if segments is not None:
            # The fragments may be let go now: their lengths are enough for `raw.segments` to tell them
            # apart again, as views of the joined bytes (made only if asked: most handlers never do).
            self._lengths = list(map(len, segments))
            self._segments = None
        return payload

    def data_as_string(self) -> str:
        """The payload decoded as UTF-8 (already validated for TEXT frames)."""
        if self._text is None:
            self._text = self.data.decode("utf-8")
        return self._text

    def read_payload(self) -> Any:
        """Decode the payload as JSON."""
        return json.loads(self.data_as_string())

    @property
    def raw(self) -> RawFrame:
        """Access to the wire: `memory`, `segments`, `fin`, `is_segmented`, `headers`."""
        return RawFrame(self)

    def __len__(self) -> int:
        if self._payload is not None:
            return len(self._payload)
        return sum(len(s) for s in self._segments or ())

    def __repr__(self) -> str:
        extra = ""
        if self.type is FrameType.CLOSE:
            extra = f" code={self.close_code} reason={self.close_reason!r}"
        elif self.type is FrameType.ERROR:
            extra = f" {self.error}"
        elif self._segments is not None or self._lengths is not None:
            extra = f" segments={len(self._segments or self._lengths or ())}"
        return f"<Frame {self.type.name} {len(self)} bytes{extra}>"


def _view(payload: bytes | memoryview) -> memoryview:
    """A view of a payload; a borrowed one is handed out as itself.

    `memoryview(view)` would share the buffer without being tied to `view`, so it would outlive the
    connection's `release()` of the lent view and read whatever the buffer holds next; the lent view
    itself fails loudly once released.
    """
    if type(payload) is memoryview:
        try:
            payload.nbytes  # raises ValueError once the connection released it
        except ValueError:
            raise InvalidState(_BORROWED) from None
        return payload
    return memoryview(payload)


class RawFrame:
    """The seed's `frame.Raw`: the bytes as they sit in memory, without copies."""

    __slots__ = ("_frame",)

    def __init__(self, frame: Frame) -> None:
        self._frame = frame

    @property
    def memory(self) -> memoryview:
        """A view of the payload: into the receive buffer in no-allocate mode, valid until the next read.

        For a message of several fragments the fragments are joined into one buffer (a copy); use
        `segments` to read them where they are.
        """
        f = self._frame
        payload = f._payload
        if payload is None:
            payload = f.data
        return _view(payload)

    @property
    def segments(self) -> list[memoryview]:
        """One view per fragment of the message (a single one for an unfragmented frame)."""
        f = self._frame
        if f._lengths is not None:  # joined by `data`: views of the joined bytes, one per fragment
            view, at, parts = memoryview(f._payload), 0, []  # type: ignore[arg-type]
            for n in f._lengths:
                parts.append(view[at : at + n])
                at += n
            return parts
        segments = f._segments if f._segments is not None else [f._payload if f._payload is not None else b""]
        return [_view(p) for p in segments]

    @property
    def fin(self) -> bool:
        return self._frame._fin

    @property
    def is_segmented(self) -> bool:
        """True when several fragments were merged into this frame."""
        return self._frame._segments is not None or self._frame._lengths is not None

    @property
    def headers(self) -> list[Header]:
        """The wire header of each frame that makes up this one."""
        return list(self._frame._headers or ())

    @property
    def header(self) -> Header | None:
        """The wire header of the first frame."""
        headers = self._frame._headers
        return headers[0] if headers else None
