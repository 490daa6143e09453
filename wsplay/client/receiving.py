"""What a Client receives: frames read as soon as they arrive, merged into messages, queued for receive().

Reading never waits for the user: pings are answered, keepalive pongs noticed and the server's
close answered even while nobody calls `receive()`. When more than a few MiB wait in the queue the
client stops reading from the socket until `receive()` catches up (TCP backpressure).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

from wsplay import runtime
from wsplay.client.sending import Sending
from wsplay.engine.frame import Frame
from wsplay.errors import ConnectionClosed, InvalidState, ProtocolError
from wsplay.protocol.connection import Incoming
from wsplay.protocol.frames import FrameType

__all__ = ["Receiving"]

_TYPES = {t.value: t for t in FrameType}
_END = object()  # queued after the last frame: receive() raises ConnectionClosed from here on
_READ_PAUSE = 4 * 1024 * 1024  # stop reading while this much waits in the queue for receive()


class Receiving(Sending):
    """The receiving half of `Client` (the connection state lives in Client)."""

    # Provided by Client.
    url: str
    auto_pong: bool
    manual_continuation: bool
    queue_frames: bool
    _closed: asyncio.Future[None] | None
    _fail: Callable[[ProtocolError], None]
    _on_close_frame: Callable[[int, str], None]
    _cancel: Callable[[str], None]

    def _init_receiving(self) -> None:
        self._queue: asyncio.Queue[Any] | None = None  # created on the loop by open()
        self._queued = 0  # payload bytes waiting for receive()
        self._ended = False
        self._parts: list[Incoming] = []  # fragments of the message being merged
        self._reading_paused = False

    def _on_data(self, nbytes: int) -> None:
        self._proto.buffer_updated(nbytes)
        self._process()

    def _process(self) -> None:
        """Read every complete frame now, so pings, pongs and closes are handled without a receive() call."""
        proto = self._proto
        while True:
            try:
                inc = proto.next_frame()
            except ProtocolError as exc:
                self._fail(exc)
                self._deliver(Frame(FrameType.ERROR, None, b"", error=exc))
                self._end()
                return
            if inc is None:
                break
            self._on_frame(inc)
        if self._queued > _READ_PAUSE and not self._reading_paused and self._transport is not None:
            self._reading_paused = True
            self._transport.pause_reading()

    def _on_frame(self, inc: Incoming) -> None:
        header, payload = inc.header, inc.payload
        opcode = header.opcode
        if self._rec:
            self._rec.frame(self.id, "in", header, payload)
        if opcode >= 8:
            frame = Frame(_TYPES[opcode], None, payload, headers=[header])
            if opcode == FrameType.PING:
                if self.auto_pong and self._proto.close_sent is None:
                    self._emit(FrameType.PONG, bytes(payload))
            elif opcode == FrameType.PONG:
                if payload == self._keepalive_data or (self._keepalive_data and payload in self._later_pings):
                    self._keepalive_data = None
                    self._cancel("pong")
            else:
                code = inc.close_code if inc.close_code is not None else 1005
                frame.close_code, frame.close_reason = code, inc.close_reason
                self._on_close_frame(code, inc.close_reason)
            self._deliver(frame)
            if opcode == FrameType.CLOSE:
                self._end()
            return
        if self.manual_continuation or (header.fin and not self._parts):
            self._deliver(Frame(_TYPES[opcode], None, payload, text=inc.text, fin=header.fin, headers=[header]))
            return
        self._parts.append(inc)
        if header.fin:
            parts, self._parts = self._parts, []
            kind = _TYPES[parts[0].header.opcode]
            text = "".join(p.text or "" for p in parts) if kind is FrameType.TEXT else None
            self._deliver(Frame(kind, None, None, text=text, headers=[p.header for p in parts], segments=[p.payload for p in parts]))

    def _deliver(self, frame: Frame) -> None:
        assert self._queue is not None
        if not self._ended and (self.queue_frames or frame.type is FrameType.ERROR):
            self._queued += len(frame)
            self._queue.put_nowait(frame)

    def _end(self) -> None:
        """No frame comes after this one: let receive() raise ConnectionClosed once the queue is drained."""
        if not self._ended and self._queue is not None:
            self._ended = True
            self._queue.put_nowait(_END)

    def receive(self, timeout: float | None = None) -> Any:
        """Return the next frame: a message (merged unless manual_continuation), PING, PONG, CLOSE or ERROR.

        Called synchronously it returns the Frame; in coroutine code, await it.

        Raises:
            TimeoutError: nothing arrived within `timeout` seconds.
            ConnectionClosed: the connection is closed and every frame was received.
        Example:
            frame = client.receive(timeout=1)
            frame.type, frame.data
        """
        return _result(runtime.bridge(self._receive(timeout)))

    async def _receive(self, timeout: float | None) -> Frame:
        if self._queue is None:
            raise InvalidState("this client never connected; use wsplay.connect(url), or await client.open()")
        if not self.queue_frames:
            raise InvalidState("this client keeps no frames for receive() (queue=False); read client.frames instead")
        try:
            async with asyncio.timeout(timeout):
                item = await self._queue.get()
        except TimeoutError:
            raise TimeoutError(f"no frame from {self.url} within {timeout} s") from None
        if item is _END:
            self._queue.put_nowait(_END)  # for the next caller too
            if not self._lost and self._closed is not None:
                await asyncio.shield(self._closed)  # the close handshake ends with TCP; its timer bounds this
            raise self._closed_error()
        self._queued -= len(item)
        if self._reading_paused and self._queued < _READ_PAUSE // 2 and self._transport is not None:
            self._reading_paused = False
            self._transport.resume_reading()
        return item  # type: ignore[no-any-return]

    def receive_text(self, timeout: float | None = None) -> Any:
        """Return the next text message, skipping pings and pongs.

        Raises:
            TypeError: the next message is binary. ConnectionClosed, TimeoutError: as `receive()`.
        Example:
            client.send("hi")
            client.receive_text(timeout=1)
        """
        return _result(runtime.bridge(self._receive_text(timeout)))

    async def _receive_text(self, timeout: float | None) -> str:
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        while True:
            frame = await self._receive(None if deadline is None else max(deadline - loop.time(), 0))
            if frame.type in (FrameType.TEXT, FrameType.CONTINUE):
                return frame.data_as_string()
            if frame.type in (FrameType.CLOSE, FrameType.ERROR):
                await self._receive(None)  # raises ConnectionClosed
            if frame.type is FrameType.BINARY:
                raise TypeError(f"expected a text message, received {frame!r}; use receive() for any frame")

    def __aiter__(self) -> Receiving:
        return self

    async def __anext__(self) -> Frame:
        try:
            return await runtime.bridge(self._receive(None))
        except ConnectionClosed:
            raise StopAsyncIteration from None

    def __iter__(self) -> Iterator[Frame]:
        """Iterate synchronously (from a cell or a thread) until the connection closes."""
        while True:
            try:
                yield runtime.run_sync(self._receive(None))
            except ConnectionClosed:
                return


def _result(awaitable: Awaitable[Any]) -> Any:
    """A synchronous caller gets the value itself; coroutine code gets something to await."""
    return awaitable.value if isinstance(awaitable, runtime.Done) else awaitable
