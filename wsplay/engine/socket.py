"""The connection users write to: the seed's ISocketConnection, plus reading for the imperative flavor.

Every public method works from the loop (await it) and from any other thread or notebook cell (it is
run on the loop and waited for). Writes made while frames are being handled are corked: they go out
together, in one system call, when the loop next gets control.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from websockets.datastructures import Headers

from wsplay import runtime
from wsplay.engine.frame import Frame
from wsplay.engine.settings import ServerOptions, Settings
from wsplay.errors import ConnectionClosed, ProtocolError
from wsplay.observe import InterleavedWrite, LimitHit, Notice, PumpStall, Recorder
from wsplay.protocol.connection import Connection
from wsplay.protocol.frames import FrameType, encode_header

if TYPE_CHECKING:
    from wsplay.engine.server import Server

__all__ = ["RequestInfo", "SocketConnection"]

log = logging.getLogger("wsplay")

_TYPES = {t.value: t for t in FrameType}
_DONE = runtime.Done(None)
_LARGE = 16 * 1024  # payloads at least this big are written straight through, not copied into the cork
_READ_PAUSE = 4 * 1024 * 1024  # stop reading when this much waits for a busy handler


@dataclass
class RequestInfo:
    """What the upgrade request said: the seed's `connection.Request`."""

    method: str
    path: str
    query: str
    headers: Headers
    remote_address: tuple[Any, ...] | None
    subprotocol: str | None
    server: Server = field(repr=False)


class SocketConnection:
    """One accepted WebSocket connection.

    Attributes:
        id: a small number, unique within the process.
        request: the upgrade request (`request.server.running` tells whether the host still runs).
        settings: the endpoint's Settings.
        write_lock: an asyncio.Lock to hold around a fragmented message written by several tasks.
    """

    _ids = itertools.count(1)  # next() on a count is atomic: ids stay unique across loops and threads

    def __init__(
        self,
        transport: asyncio.Transport,
        request: RequestInfo,
        settings: Settings,
        options: ServerOptions,
        recorder: Recorder | None = None,
        loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        self.id = next(SocketConnection._ids)
        self.request = request
        self.settings = settings
        self._options = options
        self._loop = loop or asyncio.get_running_loop()
        self._transport = transport
        self._proto = Connection(
            max_message_size=settings.max_message_size,
            max_frame_size=settings.max_frame_size,
            borrow=not settings.allocate_frame_data,
            retain_fragments=not settings.handle_continuation_frames_manually,
        )
        self._merge = not settings.handle_continuation_frames_manually
        self._parts: list[Any] = []  # fragments of the message being merged
        self._waiter: asyncio.Future[None] | None = None
        self._reading_paused = False
        self._out: list[bytes] = []
        self._corked = 0  # bytes in _out
        self._flush_scheduled = False
        self._write_paused = False
        self._drain_waiters: list[asyncio.Future[None]] = []
        self._lost = False
        self._closed = self._loop.create_future()  # set when the TCP connection is gone
        self._close_timer: asyncio.TimerHandle | None = None
        self._keepalive: asyncio.TimerHandle | None = None
        self._ping_sent_at: float | None = None
        self.last_received = self._loop.time()
        self._last_ping_data = b""
        self.close_code: int | None = None  # how it ended, once it has
        self.close_reason = ""
        self.closed_by_peer: bool | None = None
        self.write_lock = asyncio.Lock()
        self.task: asyncio.Task[None] | None = None
        self._rec = recorder if recorder is not None and recorder.enabled else None
        self._counters = self._rec.counters_of(self.id) if self._rec is not None else None
        # Development mode watches for the seed's two pitfalls (a stalled pump, interleaved writes).
        self._watch = options.development
        self._busy_since: float | None = None  # when the frame being handled was handed out
        self._busy_handler = "handle()"  # what holds the pump (the reactive pump names the method)
        self._stall: PumpStall | None = None
        self._out_owner: Any = None  # the writer of the fragmented message being sent
        self.dropped_writes = 0  # writes from other tasks after it closed (see write())
        self._engine_closed = False  # the engine closed it (failure, shutdown, overflow): writes then raise ConnectionClosed
        if transport.get_write_buffer_limits()[1] != options.write_high_water:  # setting them costs more than asking
            transport.set_write_buffer_limits(high=options.write_high_water)
        if options.ping_interval:
            self._keepalive = self._loop.call_later(options.ping_interval, self._on_keepalive)

    def __repr__(self) -> str:
        return f"<SocketConnection {self.id} {self.request.path} {self.state}>"

    @property
    def state(self) -> str:
        """'open', 'closing' or 'closed'."""
        if self._lost:
            return "closed"
        return self._proto.state.value

    @property
    def remote_address(self) -> tuple[Any, ...] | None:
        return self.request.remote_address

    # -- bytes from the transport (called by the transport protocol) ------------------------------

    def data_received(self, nbytes: int) -> None:
        self._proto.buffer_updated(nbytes)
        self.last_received = self._loop.time()
        waiter = self._waiter
        if waiter is not None:
            self._waiter = None
            if not waiter.done():
                waiter.set_result(None)
        elif not self._reading_paused and self._proto._end - self._proto._start > _READ_PAUSE:
            self._reading_paused = True
            self._transport.pause_reading()

    def connection_lost(self, exc: Exception | None) -> None:
        self._lost = True
        for handle in (self._keepalive, self._close_timer):
            if handle is not None:
                handle.cancel()
        if self.close_code is None:
            received = self._proto.close_received
            self.close_code, self.close_reason = received if received else (1006, "")
            self.closed_by_peer = True
        waiter, self._waiter = self._waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result(None)
        for fut in self._drain_waiters:
            if not fut.done():
                fut.set_result(None)
        self._drain_waiters.clear()
        if not self._closed.done():
            self._closed.set_result(None)

    def pause_writing(self) -> None:
        self._write_paused = True

    def resume_writing(self) -> None:
        self._write_paused = False
        for fut in self._drain_waiters:
            if not fut.done():
                fut.set_result(None)
        self._drain_waiters.clear()

    # -- reading --------------------------------------------------------------------------------

    def read_frame(self) -> Awaitable[Frame]:
        """Wait for the next frame (merged, unless continuation frames are handled manually).

        Raises:
            ConnectionClosed: the connection is closed (after its CLOSE frame was returned).
        """
        return runtime.bridge(self._read_frame())

    def try_read_frame(self) -> Frame | None:
        """Return the next frame if one is already buffered, else None, without waiting."""
        if not runtime.in_loop_thread():
            return runtime.run_sync(self._try_read())
        return self._next()

    async def _try_read(self) -> Frame | None:
        return self._next()

    async def _read_frame(self) -> Frame:
        if self._watch:
            self._pump_idle()
        while True:
            frame = self._next()
            if frame is not None:
                if self._watch:
                    self._busy_since = self._loop.time()
                return frame
            if self._lost:
                raise self._closed_error()
            if self._proto.close_received is not None or self._proto.failure is not None:
                # The handler read on past the close: finish the handshake for it and stop.
                await self._finish_close()
                raise self._closed_error()
            if self._out:
                self._flush()
            if self._reading_paused:
                self._reading_paused = False
                self._transport.resume_reading()
            # Nothing buffered: an idle connection keeps no receive buffer (asyncio asks for one only
            # when bytes arrive), so thousands of open connections cost little memory.
            self._proto.trim(small_only=True)
            waiter = self._waiter = self._loop.create_future()
            await waiter

    def _next(self) -> Frame | None:
        """Turn the next buffered wire frame (or completed message) into a Frame, without waiting."""
        proto = self._proto
        while True:
            try:
                inc = proto.next_frame()
            except ProtocolError as exc:
                if self._rec is not None:
                    if exc.header is not None:  # the frame that broke the rules belongs in the log too
                        self._rec.frame(self.id, "in", exc.header, exc.payload)  # type: ignore[arg-type]
                    if exc.code == 1009:
                        self._rec.event(LimitHit(time.time(), self.id, "message size", proto.max_message_size))
                self._fail(exc)
                return Frame(FrameType.ERROR, self, b"", error=exc)
            if inc is None:
                return None
            header = inc.header
            opcode = header.opcode
            if self._rec is not None:
                # Raw header bytes, not the Header: a record of plain bytes and numbers is left alone by
                # the garbage collector, thousands of records of objects are not.
                self._rec.frame_in(self._counters, self.id, header.header_bytes, inc.payload, self.last_received)  # type: ignore[arg-type]
            if opcode >= 8:
                frame = Frame(_TYPES[opcode], self, inc.payload, headers=[header])
                if opcode == 8:
                    code = inc.close_code if inc.close_code is not None else 1005
                    frame.close_code, frame.close_reason = code, inc.close_reason
                    self._on_close_frame(code, inc.close_reason)
                elif opcode == 9:
                    self._last_ping_data = bytes(inc.payload)
                return frame
            if not self._merge:
                return Frame(_TYPES[opcode], self, inc.payload, text=inc.text, fin=header.fin, headers=[header])
            if header.fin and not self._parts:
                return Frame(_TYPES[opcode], self, inc.payload, text=inc.text, headers=[header])
            self._parts.append(inc)
            if header.fin:
                parts, self._parts = self._parts, []
                first = parts[0]
                text = None
                if first.header.opcode == FrameType.TEXT:
                    text = "".join([p.text for p in parts])
                return Frame(
                    _TYPES[first.header.opcode],
                    self,
                    None,
                    text=text,
                    headers=[p.header for p in parts],
                    segments=[p.payload for p in parts],
                )

    # -- writing --------------------------------------------------------------------------------

    def write(
        self,
        payload: str | bytes | bytearray | memoryview,
        opcode: FrameType | int = FrameType.TEXT,
        fin: bool = True,
        flush: bool = True,
    ) -> Awaitable[None]:
        """Send one frame; await it to respect backpressure.

        Args:
            payload: `str` is sent as UTF-8.
            opcode: FrameType.TEXT (default), BINARY, or CONTINUE for the later fragments of a message.
            fin: False for every fragment of a message but the last.
            flush: False keeps the frame corked until `flush()` or the next automatic flush.

        A write from another connection's handler (the seed's chat broadcast) to a connection that
        is closing or gone is dropped and counted in `dropped_writes`: that peer leaving must not
        fail the writer. Everyone else (its own handler, a task or a thread writing to it) is told,
        so that a producer loop ends.

        Raises:
            ConnectionClosed: the connection is gone.
            InvalidState: this side already sent its close frame.
        """
        if not runtime.in_loop_thread():
            owner = threading.current_thread() if self._watch else None
            return runtime.bridge(self._write_async(payload, opcode, fin, flush, owner), 60)
        if self._lost or self._proto.close_sent is not None or self._proto.failure is not None:
            current = asyncio.current_task()
            if current is not self.task and current in self.request.server.handler_tasks:
                return self._drop_write()  # another connection's handler: this peer leaving is not its fault
        if self._watch and opcode <= 2:
            self._check_interleave(asyncio.current_task(), opcode, fin)
        self._write(payload, opcode, fin, flush)
        if self._write_paused:
            return self._drain()
        return _DONE

    async def _write_async(self, payload: Any, opcode: int, fin: bool, flush: bool, owner: Any = None) -> None:
        if owner is not None and opcode <= 2:
            self._check_interleave(owner, opcode, fin)
        self._write(payload, opcode, fin, flush)
        if self._write_paused:
            await self._drain()

    def _write(self, payload: Any, opcode: int, fin: bool, flush: bool) -> None:
        if type(payload) is str:
            payload = payload.encode("utf-8")
        if self._lost:
            raise self._closed_error()
        proto = self._proto
        if proto.close_sent is not None or proto.failure is not None:
            if self._engine_closed:  # not the handler's doing: tell it the connection is going away
                raise self._closed_error()
            proto.check_can_send(opcode)
        n = len(payload)
        head = encode_header(opcode, n, fin)
        if n < _LARGE:
            data = head + payload
            if self._rec is not None:  # one object kept for the record: the frame as sent
                self._rec.frame_out_wire(self._counters, self.id, data, n, self._loop.time())  # type: ignore[arg-type]
            self._out.append(data)
            self._corked += len(data)
            if self._corked > self._options.write_high_water:
                # A writer that never yields (no await) would otherwise grow the cork without bound:
                # past the high-water mark it goes to the transport, where the write limit applies.
                self._flush()
            elif flush and not self._flush_scheduled:
                self._flush_scheduled = True
                self._loop.call_soon(self._flush)
        else:
            if self._rec is not None:
                self._rec.frame_out(self._counters, self.id, head, payload, self._loop.time())  # type: ignore[arg-type]
            if type(payload) is not bytes:
                # A transport may keep a view of what it could not send at once (3.12+); never let it
                # keep a view of a borrowed receive buffer or of a bytearray the caller may change.
                payload = bytes(payload)
            self._flush()
            self._transport.write(head)
            self._transport.write(payload)
            self._check_write_buffer()  # large writes bypass _flush: apply the write limit here too

    def _send_now(self, data: bytes) -> None:
        """Send a whole encoded control frame (close, keepalive ping) at once."""
        if self._rec is not None:  # a control frame's payload is at most 125 bytes: a 2-byte header
            self._rec.frame_out_wire(self._counters, self.id, data, len(data) - 2, self._loop.time())  # type: ignore[arg-type]
        self._out.append(data)
        self._flush()

    def _flush(self) -> None:
        self._flush_scheduled = False
        self._corked = 0
        out = self._out
        if not out or self._lost:
            out.clear()
            return
        self._transport.write(out[0] if len(out) == 1 else b"".join(out))
        out.clear()
        self._check_write_buffer()

    def _check_write_buffer(self) -> None:
        if self._write_paused and not self._lost and self._transport.get_write_buffer_size() > self._options.max_write_buffer:
            self._overflow()

    def _overflow(self) -> None:
        """The peer stopped reading and the writes kept coming: drop it rather than grow without bound."""
        limit = self._options.max_write_buffer
        if self._rec is not None:
            self._rec.event(LimitHit(time.time(), self.id, "write buffer", limit, 1008))
        log.warning("connection %s: the peer is not reading (%s bytes buffered); closing it with 1008", self.id, limit)
        self._engine_closed = True
        if self._proto.close_sent is None:
            self.close_code, self.close_reason, self.closed_by_peer = 1008, "peer is not reading", False
            self._out.append(self._proto.close_bytes(1008, "peer is not reading"))
            self._transport.write(self._out.pop())
        self._abort(1008, "peer is not reading")

    async def _drain(self) -> None:
        if self._write_paused and not self._lost:
            fut = self._loop.create_future()
            self._drain_waiters.append(fut)
            await fut
        if self._lost:
            raise self._closed_error()

    def flush(self) -> Awaitable[None]:
        """Send every corked frame now."""
        return runtime.bridge(self._flush_async())

    async def _flush_async(self) -> None:
        self._flush()
        await self._drain()

    def write_payload(self, obj: Any) -> Awaitable[None]:
        """Send `obj` as a JSON text frame."""
        return self.write(json.dumps(obj, separators=(",", ":")))

    def write_synchronized(
        self,
        payload: str | bytes | bytearray | memoryview,
        opcode: FrameType | int = FrameType.TEXT,
        fin: bool = True,
    ) -> Awaitable[None]:
        """Write one frame while holding this connection's `write_lock` (the seed's WriteSynchronizedAsync).

        The lock covers this one frame. A fragmented message needs it for all of its frames:
        `async with connection.write_lock:` around the writes. One lock per connection: the seed's
        single static lock would make every connection wait for every other one.
        """
        owner = None
        if self._watch:
            owner = asyncio.current_task() if runtime.in_loop_thread() else threading.current_thread()
        return runtime.bridge(self._write_synchronized(payload, opcode, fin, owner), 60)

    async def _write_synchronized(self, payload: Any, opcode: int, fin: bool, owner: Any) -> None:
        async with self.write_lock:
            await self._write_async(payload, opcode, fin, True, owner)

    def _drop_write(self) -> Awaitable[None]:
        self.dropped_writes += 1
        if self.dropped_writes == 1 and self._rec is not None:
            self._rec.event(
                Notice(time.time(), self.id, f"connection {self.id} is closed: writes to it from other tasks are dropped")
            )
        return _DONE

    def ping(self, data: bytes | str = b"") -> Awaitable[None]:
        """Send a ping (at most 125 bytes of data)."""
        return self.write(self._control_payload(data), FrameType.PING)

    def pong(self, data: bytes | str | None = None) -> Awaitable[None]:
        """Send a pong; None echoes the data of the last ping received, as RFC 6455 5.5.3 asks."""
        return self.write(self._last_ping_data if data is None else self._control_payload(data), FrameType.PONG)

    @staticmethod
    def _control_payload(data: bytes | str) -> bytes:
        payload = data.encode("utf-8") if isinstance(data, str) else bytes(data)
        if len(payload) > 125:
            raise ValueError(f"control frame payload is {len(payload)} bytes; limit is 125 (RFC 6455 5.5)")
        return payload

    # -- closing --------------------------------------------------------------------------------

    def close(self, reason: str | None = None, status_code: int | None = None) -> Awaitable[None]:
        """Start (or complete) the close handshake; idempotent.

        Args:
            reason: a short text (at most 123 bytes of UTF-8).
            status_code: 1000 by default; when answering the peer's close, its code is echoed.
        """
        return runtime.bridge(self._close(status_code, reason or ""))

    async def _close(self, code: int | None, reason: str, by_engine: bool = False) -> None:
        proto = self._proto
        if self._lost or proto.close_sent is not None:
            return
        self._engine_closed = self._engine_closed or by_engine
        if code is None:
            received = proto.close_received
            code = received[0] if received else 1000
            if code in (1005, 1006):  # the peer sent no code: answer with none
                code = None
        self._send_now(proto.close_bytes(code, reason))
        if self.close_code is None:
            self.close_code, self.close_reason = (code if code is not None else 1005), reason
            self.closed_by_peer = proto.close_received is not None
        if proto.close_received is not None:
            self._transport.close()  # handshake complete: the server closes TCP first (RFC 6455 7.1.1)
        else:
            self._close_timer = self._loop.call_later(self._options.close_timeout, self._on_close_timeout)

    def _on_close_frame(self, code: int, reason: str) -> None:
        if self.close_code is None:
            self.close_code, self.close_reason, self.closed_by_peer = code, reason, True
        if self._proto.close_sent is not None:
            self._transport.close()

    def _fail(self, exc: ProtocolError) -> None:
        """Fail the connection (RFC 6455 7.1.7): send a close with the error's code, then stop writing."""
        if self._lost:
            return
        self._engine_closed = True
        self.close_code, self.close_reason, self.closed_by_peer = exc.code, str(exc)[:120], False
        if self._proto.close_sent is None:
            reason = str(exc).encode("utf-8")[:123].decode("utf-8", "ignore")
            self._send_now(self._proto.close_bytes(exc.code, reason))
        # Half-close instead of close: the peer then reads our close frame instead of a reset.
        if self._transport.can_write_eof():
            self._transport.write_eof()
        self._close_timer = self._loop.call_later(self._options.close_timeout, self._on_close_timeout)

    async def _finish_close(self) -> None:
        """Complete the close handshake after the handler is done, then wait for the TCP close."""
        if not self._lost:
            proto = self._proto
            if proto.close_sent is None and proto.failure is None:
                await self._close(None, "")
            while proto.close_received is None and proto.failure is None and not self._lost:
                if self._next() is None:  # discard what arrives until the peer's close frame
                    if self._reading_paused:
                        self._reading_paused = False
                        self._transport.resume_reading()
                    waiter = self._waiter = self._loop.create_future()
                    await waiter
            if not self._lost and proto.close_received is not None and proto.close_sent is not None:
                self._transport.close()
        await self.wait_closed()

    async def wait_closed(self) -> None:
        """Wait until the TCP connection is gone."""
        if not self._closed.done():
            await asyncio.shield(self._closed)

    def _on_close_timeout(self) -> None:
        if not self._lost:
            self._transport.abort()

    def _abort(self, code: int = 1006, reason: str = "") -> None:
        if not self._lost:
            if self.close_code is None:
                self.close_code, self.close_reason, self.closed_by_peer = code, reason, False
            self._transport.abort()

    def _closed_error(self) -> ConnectionClosed:
        code = self.close_code if self.close_code is not None else 1006
        return ConnectionClosed(code, self.close_reason, bool(self.closed_by_peer))

    # -- pitfall reports (development mode) -----------------------------------------------------

    def _pump_idle(self) -> None:
        """The handler is back at the pump: close the books on a stall, if there was one."""
        since, self._busy_since = self._busy_since, None
        if since is None:
            return
        seconds = self._loop.time() - since
        stall = self._stall
        if stall is None and seconds >= self._options.stall_threshold:
            self.check_stall(seconds)  # a blocking call kept the watchdog from seeing it live
            stall = self._stall
        if stall is not None:
            stall.seconds = max(stall.seconds, seconds)
            stall.ongoing = False
            self._stall = None
            if self._rec is not None:
                self._rec.touch()

    def check_stall(self, seconds: float | None = None) -> None:
        """Report the pump as stalled if a handler has held it past the threshold while frames wait."""
        if self._busy_since is None or self._rec is None or self._lost:
            return
        if seconds is None:
            seconds = self._loop.time() - self._busy_since
        if seconds < self._options.stall_threshold:
            return
        waiting, ping = self._proto.peek_waiting()
        if not waiting:
            return
        stall = self._stall
        if stall is None:
            self._stall = self._rec.event(
                PumpStall(time.time(), self.id, self._busy_handler, seconds, waiting, ping)
            )  # type: ignore[assignment]
        else:
            stall.seconds = seconds
            stall.frames_waiting = max(stall.frames_waiting, waiting)
            stall.ping_waiting = stall.ping_waiting or ping
            self._rec.touch()

    def _check_interleave(self, owner: Any, opcode: int, fin: bool) -> None:
        """Notice a writer breaking into another writer's fragmented message (the frames still go out)."""
        current = self._out_owner
        problem = ""
        if opcode:  # TEXT or BINARY: a new message
            if current is not None and current is not owner:
                problem = "a new message was started while another writer's fragmented message was still open"
            self._out_owner = None if fin else owner
        else:  # CONTINUE
            if current is None:
                problem = "a continuation frame was written with no fragmented message open"
            elif current is not owner:
                problem = "a writer added a continuation frame to another writer's message"
            if fin:
                self._out_owner = None
        if problem and self._rec is not None:
            self._rec.event(InterleavedWrite(time.time(), self.id, problem))

    # -- keepalive ------------------------------------------------------------------------------

    def _on_keepalive(self) -> None:
        """Ping when the peer has been silent for ping_interval; drop it if still silent after ping_timeout."""
        self._keepalive = None
        if self._lost or self._proto.close_sent is not None:
            return
        opts = self._options
        now = self._loop.time()
        assert opts.ping_interval is not None
        if self._ping_sent_at is not None:
            if self.last_received > self._ping_sent_at:
                self._ping_sent_at = None  # something arrived: the peer is alive
            elif now - self._ping_sent_at >= (opts.ping_timeout or opts.ping_interval):
                log.info("connection %s: no answer to keepalive ping within %s s; dropping it", self.id, opts.ping_timeout)
                self._abort(1011, "keepalive ping timeout")
                return
            else:
                self._keepalive = self._loop.call_at(self._ping_sent_at + (opts.ping_timeout or opts.ping_interval), self._on_keepalive)
                return
        idle = now - self.last_received
        if idle >= opts.ping_interval:
            self._proto.trim()  # idle: give the receive buffer back until bytes arrive again
            self._send_now(self._proto.frame_bytes(FrameType.PING, b"wsplay keepalive"))
            self._ping_sent_at = now
            self._keepalive = self._loop.call_later(opts.ping_timeout or opts.ping_interval, self._on_keepalive)
        else:
            self._keepalive = self._loop.call_later(opts.ping_interval - idle, self._on_keepalive)


# Callables the server hands each new connection to (a flavor's endpoint implements this).
ServeFunc = Callable[[SocketConnection], Awaitable[None]]
