"""The asyncio side of an open WebSocket connection: bytes in, bytes out, and flow control both ways.

Once the opening handshake is done (its HTTP belongs to the server or the client), a `Stream` becomes
the transport's protocol. It reads straight into the codec's receive buffer (`asyncio.BufferedProtocol`),
wakes the reader, and pauses reading while more than `READ_PAUSE` bytes wait for a busy reader; it
corks small writes into one system call per loop iteration, sends large payloads without copying
them, and makes writers wait while the transport holds more than the high-water mark. It knows
nothing of frames: the connection above it (`wsplay.core.connection`) does.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable

from wsplay.protocol.connection import Connection as Codec

__all__ = ["LARGE", "READ_PAUSE", "Stream"]

LARGE = 16 * 1024  # payloads at least this big are written straight through, not copied into the cork
READ_PAUSE = 4 * 1024 * 1024  # stop reading when this much waits for a busy reader


def _nothing() -> None:
    pass


class _Flusher:
    """Flush every stream written to in one loop iteration from one callback, not one callback each
    (a broadcast to a thousand peers would otherwise schedule a thousand)."""

    __slots__ = ("loop", "streams")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.streams: list[Stream] = []

    def add(self, stream: Stream) -> None:
        if not self.streams:
            self.loop.call_soon(self.run)
        self.streams.append(stream)

    def run(self) -> None:
        streams, self.streams = self.streams, []
        for stream in streams:
            if stream._flush_scheduled:  # not flushed by other means since
                try:
                    stream.flush()
                except Exception as exc:  # as the loop would report its own callback's, and flush the rest
                    self.loop.call_exception_handler({"message": "wsplay: flushing a stream failed", "exception": exc})


_flushers = threading.local()  # a loop runs in one thread: its streams share that thread's flusher


def _flusher_for(loop: asyncio.AbstractEventLoop) -> _Flusher:
    flusher: _Flusher | None = getattr(_flushers, "flusher", None)
    if flusher is None or flusher.loop is not loop:
        flusher = _flushers.flusher = _Flusher(loop)
    return flusher


class Stream(asyncio.BufferedProtocol):
    """Move one connection's bytes between the transport and the codec.

    Args:
        transport: the upgraded TCP (or TLS) transport; the stream becomes its protocol.
        codec: the Sans-I/O connection whose receive buffer asyncio reads into.
        loop: the loop it runs on.
        high_water: outgoing bytes buffered in the transport above which writers wait.
        max_buffer: outgoing bytes buffered while the peer does not read above which `on_overflow` is called.
        on_overflow: the peer stopped reading and writes kept coming.
        on_lost: the transport is gone (called once, with asyncio's exception if any).

    Attributes:
        last_received: the loop time the latest bytes arrived.
        reads: how many times bytes have arrived.
        lost: True once the transport is gone.
        reading_paused: True while reading is paused for a reader that fell behind.
    """

    # Slots: one of these per open connection.
    __slots__ = (
        "_codec", "_corked", "_drain_waiters", "_flush_scheduled", "_flusher", "_high_water", "_loop",
        "_max_buffer", "_on_lost", "_on_overflow", "_out", "_waiter", "closed", "get_buffer", "last_received",
        "lost", "reading_paused", "reads", "transport", "write_paused",
    )

    def __init__(
        self,
        transport: asyncio.Transport,
        codec: Codec,
        loop: asyncio.AbstractEventLoop,
        high_water: int,
        max_buffer: int,
        on_overflow: Callable[[], None],
        on_lost: Callable[[], None],
    ) -> None:
        self.transport = transport
        self._codec = codec
        self.get_buffer = codec.get_buffer  # type: ignore[method-assign]  # asyncio calls it on every read: no hop
        self._loop = loop
        self._high_water = high_water
        self._max_buffer = max_buffer
        self._on_overflow = on_overflow
        self._on_lost = on_lost
        self.last_received = loop.time()
        self.reads = 0  # how many times bytes arrived (keepalive counts them: a clock may be coarse)
        self.lost = False
        self.closed = loop.create_future()  # done when the transport is gone
        self.reading_paused = False
        self._waiter: asyncio.Future[None] | None = None
        self._out: list[bytes] = []
        self._corked = 0  # bytes in _out
        self._flush_scheduled = False
        self._flusher = _flusher_for(loop)
        self.write_paused = False
        self._drain_waiters: list[asyncio.Future[None]] = []
        if transport.get_write_buffer_limits()[1] != high_water:  # setting them costs more than asking
            transport.set_write_buffer_limits(high=high_water)
        transport.set_protocol(self)

    # -- asyncio's callbacks ----------------------------------------------------------------------

    def buffer_updated(self, nbytes: int) -> None:
        self._codec.buffer_updated(nbytes)
        self.last_received = self._loop.time()
        self.reads += 1
        waiter = self._waiter
        if waiter is not None:
            self._waiter = None
            if not waiter.done():
                waiter.set_result(None)
        elif not self.reading_paused and self._codec.buffered > READ_PAUSE:
            self.reading_paused = True
            self.transport.pause_reading()

    def pause_writing(self) -> None:
        self.write_paused = True

    def resume_writing(self) -> None:
        self.write_paused = False
        self._wake_writers()

    def eof_received(self) -> bool | None:
        return None  # the peer closed its side: close ours too

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        self._out.clear()
        waiter, self._waiter = self._waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result(None)
        self._wake_writers()
        if not self.closed.done():
            self.closed.set_result(None)
        on_lost, self._on_lost = self._on_lost, _nothing
        self._on_overflow = _nothing  # the connection keeps its stream; the stream lets go of it: no cycle
        on_lost()

    # -- reading ----------------------------------------------------------------------------------

    def receive(self, data: bytes) -> None:
        """Hand the codec bytes that arrived before the stream took over (right behind the handshake)."""
        if data:
            self._codec.receive_data(data)

    async def readable(self) -> None:
        """Wait until more bytes arrive (or the transport is gone); corked writes leave first."""
        if self._out:
            self.flush()
        if self.reading_paused:
            self.reading_paused = False
            self.transport.resume_reading()
        # Nothing buffered: an idle connection keeps no receive buffer (asyncio asks for one only
        # when bytes arrive), so thousands of open connections cost little memory.
        self._codec.trim(small_only=True)
        waiter = self._waiter = self._loop.create_future()
        await waiter

    # -- writing ----------------------------------------------------------------------------------

    def write(self, data: bytes, flush: bool = True) -> None:
        """Cork `data`: what is written in one loop iteration leaves in one system call."""
        self._out.append(data)
        self._corked += len(data)
        if self._corked > self._high_water:
            # A writer that never yields (no await) would otherwise grow the cork without bound:
            # past the high-water mark it goes to the transport, where the write limit applies.
            self.flush()
        elif flush and not self._flush_scheduled:
            self._flush_scheduled = True
            self._flusher.add(self)

    def write_through(self, head: bytes, body: bytes | bytearray | memoryview) -> None:
        """Send a frame with a large payload now, after what is corked, without joining the two."""
        if type(body) is not bytes:
            # A transport may keep a view of what it could not send at once (3.12+); never let it
            # keep a view of a borrowed receive buffer or of a bytearray the caller may change.
            body = bytes(body)
        self.flush()
        if not self.lost:
            self.transport.write(head)
            self.transport.write(body)
            self._check_buffer()  # large writes bypass flush(): apply the write limit here too

    def flush(self) -> None:
        """Send every corked byte now."""
        self._flush_scheduled = False
        self._corked = 0
        out = self._out
        if not out or self.lost:
            out.clear()
            return
        self.transport.write(out[0] if len(out) == 1 else b"".join(out))
        out.clear()
        if self.write_paused:
            self._check_buffer()

    @property
    def buffered_amount(self) -> int:
        """Bytes written but not sent yet: corked here, or in the transport's buffer."""
        return self._corked + (0 if self.lost else self.transport.get_write_buffer_size())

    def _check_buffer(self) -> None:
        if self.write_paused and not self.lost and self.transport.get_write_buffer_size() > self._max_buffer:
            self._max_buffer = 1 << 62  # once: the close frame the handler sends next must not call it again
            self._on_overflow()

    async def drain(self) -> None:
        """Wait while the transport holds more than the high-water mark (returns at once when lost)."""
        if self.write_paused and not self.lost:
            fut = self._loop.create_future()
            self._drain_waiters.append(fut)
            await fut

    def _wake_writers(self) -> None:
        for fut in self._drain_waiters:
            if not fut.done():
                fut.set_result(None)
        self._drain_waiters.clear()

    # -- ending -----------------------------------------------------------------------------------

    def close(self) -> None:
        """Close the transport once what is buffered has been sent."""
        self.flush()
        self.transport.close()

    def half_close(self) -> None:
        """Send what is corked and end our side (the peer then reads our close frame, not a reset)."""
        self.flush()
        if not self.lost and self.transport.can_write_eof():
            self.transport.write_eof()

    def abort(self) -> None:
        """Drop the transport at once, discarding what is buffered."""
        if not self.lost:
            self.transport.abort()
