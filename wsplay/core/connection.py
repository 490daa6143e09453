"""One WebSocket connection, either side: frames in and out, the close handshake, keepalive, records.

A server's `SocketConnection` and the `Client` are both this class plus what is theirs (the handler and
the request; the opening handshake, `send_raw` and `receive`). Where the two sides differ, the
difference is the codec's side, never a second copy: a client masks what it sends and refuses masked
frames, and once the close handshake is complete the server closes TCP first (RFC 6455 7.1.1) while
the client waits for it.

Calling convention (the same for every public method of a connection, a client and a host):

- on wsplay's loop (a handler, a task it spawned) and in other coroutine code: `await` the call;
- from a plain notebook cell, a script or another thread: just call it; it has finished when it
  returns, and what it returns is the value itself (a Frame, None);
- writes (`write`, `ping`, `pong`, a client's `send`) go out when called, awaited or not; awaiting
  them waits while the peer is slow to read.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
import traceback
from threading import get_ident
from collections.abc import Awaitable, Callable, Collection, Coroutine, Iterable
from typing import Any

from wsplay import runtime
from wsplay.codes import close_code_allowed
from wsplay.core.frame import Frame
from wsplay.core.keepalive import Keepalive
from wsplay.core.options import ConnectionOptions, Settings
from wsplay.core.stream import LARGE, Stream
from wsplay.core.watch import Watch
from wsplay.errors import AlreadyClosed, ConnectionClosed, InvalidState, ProtocolError
from wsplay.observe import ConnectionClosedRecord, ConnectionOpened, Counters, LimitHit, Notice, Recorder, TaskFailed
from wsplay.protocol.connection import Connection as Codec
from wsplay.protocol.connection import Incoming, Side
from wsplay.protocol.deflate import Compression, Negotiated
from wsplay.protocol.frames import FrameType, encode_close_payload, encode_header

__all__ = ["Connection", "broadcast", "check_close", "control_payload"]

log = logging.getLogger("wsplay")

_TYPES = {t.value: t for t in FrameType}
_DONE = runtime.Done(None)
_WRITE_TIMEOUT = 60.0  # a caller on another thread waits at most this long for a slow peer to read
_PINGS_KEPT = 16  # pings remembered for their round-trip time
_monotonic = time.monotonic  # what asyncio's loop.time() reads; records take it straight (uvloop's is coarser)


def check_close(code: int | None, reason: str) -> None:
    """Check close() arguments in the caller's thread, with a message that says what to do instead.

    Raises:
        TypeError: the code is not an int (the old `close(reason, code)` order, for one).
        ValueError: the code may not be sent, or the reason is longer than 123 bytes of UTF-8.
    """
    if code is not None:
        if isinstance(code, str) or not isinstance(code, int) or isinstance(code, bool):
            raise TypeError(f"close(code, reason) takes the close code first, an int such as 1000, not {code!r}")
        if not close_code_allowed(code):
            raise ValueError(
                f"close code {code} may not be sent (RFC 6455 7.4 allows 1000-1003, 1007-1014 and 3000-4999); "
                "a client's send_raw(0x8, ...) sends it anyway"
            )
    if not isinstance(reason, str):
        raise TypeError(f"a close reason is a str, not {type(reason).__name__}")
    encode_close_payload(code, reason)  # the reason's length


def control_payload(data: bytes | str) -> bytes:
    """A ping's or pong's payload as bytes, at most 125 of them (RFC 6455 5.5)."""
    payload = data.encode("utf-8") if isinstance(data, str) else bytes(data)
    if len(payload) > 125:
        raise ValueError(f"control frame payload is {len(payload)} bytes; limit is 125 (RFC 6455 5.5)")
    return payload


class Connection:
    """One WebSocket connection: what a server's handler and a client both hold.

    Args:
        side: which end this is (the codec's side: who masks, who closes TCP first).
        settings: message limits, continuation and allocation mode.
        options: keepalive, close timeout, write limits, development mode.
        recorder: where frames and events are recorded (None, or a disabled one: nothing is).
        connection_id: a small number, unique among the recorder's connections.
        quiet_writers: tasks whose writes to this connection, once it is closing, are dropped and
            counted instead of raising (the other handlers of a server: one peer leaving must not
            fail a chat's broadcast).
        mask_source: a client's source of 4-byte mask keys (`os.urandom(4)` by default).
        task_failed: told when a task started with `spawn()` raises (a server keeps it in `host.errors`).

    Attributes:
        id: the connection's number.
        settings: as given.
        subprotocol: the subprotocol the handshake agreed on, or None.
        extension: the permessage-deflate parameters the handshake agreed on, or None (not compressed).
        task: the task that reads this connection's frames (its handler's, or a client's reader).
        write_lock: an asyncio.Lock to hold around a fragmented message written by several tasks.
        latency: the round-trip time of the latest ping answered, in seconds (None before one is).
        dropped_writes: writes from `quiet_writers` after it closed.
    """

    # Slots keep thousands of idle connections small; __dict__ stays for what a handler attaches
    # (connection.name = ...), made only when something is.
    __slots__ = (
        "_close_timer", "_codec", "_counters", "_keepalive", "_last_ping_data", "_loop", "_loop_thread", "_merge",
        "_midmessage", "_parts", "_pings", "_quiet", "_rec", "_server", "_shut", "_stream", "_task_failed",
        "_tasks", "_watch", "dropped_writes", "extension", "id", "latency", "options", "remote_address",
        "settings", "subprotocol", "task", "write_lock", "__dict__", "__weakref__",
    )

    def __init__(
        self,
        side: Side,
        settings: Settings,
        options: ConnectionOptions,
        recorder: Recorder | None = None,
        *,
        connection_id: int,
        quiet_writers: Collection[asyncio.Task[Any]] = (),
        mask_source: Callable[[], bytes] | None = None,
        task_failed: Callable[[Connection, BaseException, str], None] | None = None,
    ) -> None:
        self.id = connection_id
        self.settings = settings
        self.options = options
        manual = settings.handle_continuation_frames_manually
        self._codec = Codec(
            side,
            max_message_size=settings.max_message_size,
            max_frame_size=settings.max_frame_size,
            borrow=not settings.allocate_frame_data,
            retain_fragments=not manual,
            mask_source=mask_source,
        )
        self._server = side is Side.SERVER
        self._merge = not manual
        self._parts: list[Incoming] = []  # fragments of the message being merged
        self._stream: Stream | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread = -1  # the thread the loop runs on: calls from it need no marshalling
        self._rec = recorder if recorder is not None and recorder.enabled else None
        self._counters: Counters | None = None
        self._quiet = quiet_writers
        self._shut = False  # closed by wsplay (failure, shutdown, a silent or non-reading peer): writes raise ConnectionClosed
        self._close_timer: asyncio.TimerHandle | None = None
        self._keepalive: Keepalive | None = None
        self._watch: Watch | None = None
        self._last_ping_data = b""
        self._pings: dict[bytes, float] | None = None  # payload of a ping sent -> loop time it left
        self.latency: float | None = None
        self.remote_address: tuple[Any, ...] | None = None
        self.subprotocol: str | None = None
        self.extension: Negotiated | None = None  # permessage-deflate's agreed parameters
        self.task: asyncio.Task[Any] | None = None
        self.write_lock = asyncio.Lock()
        self.dropped_writes = 0
        self._midmessage = False  # a fragmented message is being sent: broadcast() must not cut in
        self._task_failed = task_failed
        self._tasks: set[asyncio.Task[Any]] | None = None  # what spawn() started and is still running

    # -- taking over the transport (wsplay's server and client call this once the handshake is done) --

    def attach(
        self,
        transport: asyncio.Transport,
        loop: asyncio.AbstractEventLoop,
        opened: ConnectionOpened | None = None,
        leftover: bytes = b"",
        extension: Negotiated | None = None,
    ) -> None:
        """Take over `transport` after the opening handshake; `leftover` is what arrived behind it,
        `extension` the permessage-deflate parameters the handshake agreed on, if any."""
        options = self.options
        self._loop = loop
        self._loop_thread = get_ident()  # attach() runs on the loop
        if extension is not None:
            compression = self.settings.compression or Compression()
            self._codec.use_deflate(extension, compression.level, compression.mem_level)
        self.extension = extension
        self.remote_address = transport.get_extra_info("peername")
        stream = self._stream = Stream(
            transport, self._codec, loop, options.write_high_water, options.max_write_buffer, self._overflow, self._lost
        )
        if leftover:
            stream.receive(leftover)
        rec = self._rec
        if rec is not None:
            self._counters = rec.counters_of(self.id)
            if opened is not None:
                rec.event(opened)
            if options.development:
                self._watch = Watch(self.id, rec, options.stall_threshold, self._codec.peek_waiting)
        if options.ping_interval:
            self._keepalive = Keepalive(loop, options.ping_interval, options.ping_timeout, self._heard, self._keepalive_ping, self._keepalive_gave_up)

    # -- state --------------------------------------------------------------------------------------

    @property
    def state(self) -> str:
        """'connecting' (a client before its handshake), 'open', 'closing' or 'closed'."""
        stream = self._stream
        if stream is None:
            return "connecting"
        if stream.lost:
            return "closed"
        return self._codec.state.value

    @property
    def close_code(self) -> int | None:
        """How it ended (or is ending): the close code, once the close has started; None before."""
        record = self._codec.close_record
        return record.code if record is not None else None

    @property
    def close_reason(self) -> str:
        record = self._codec.close_record
        return record.reason if record is not None else ""

    @property
    def closed_by(self) -> str | None:
        """'server' or 'client': the side that started the close (or failed or dropped the connection)."""
        record = self._codec.close_record
        return record.by if record is not None else None

    @property
    def clean(self) -> bool:
        """True when a close frame went each way (the close handshake completed)."""
        return self._codec.clean

    @property
    def buffered_amount(self) -> int:
        """Bytes written to this connection but not sent yet (the browser's `WebSocket.bufferedAmount`)."""
        return self._stream.buffered_amount if self._stream is not None else 0

    @property
    def watching(self) -> bool:
        """True in development mode, where stalls and interleaved writes are reported."""
        return self._watch is not None

    def _closed_error(self) -> ConnectionClosed:
        record = self._codec.close_record
        if record is None:
            return ConnectionClosed(1006, "", None)
        return ConnectionClosed(record.code, record.reason, record.by)

    # -- reading --------------------------------------------------------------------------------------

    def read_frame(self) -> Awaitable[Frame]:
        """Wait for the next frame (a merged message, unless continuation frames are handled manually).

        Raises:
            ConnectionClosed: the connection is closed (after its CLOSE frame was returned).
        """
        if get_ident() == self._loop_thread:  # the handler's own loop: the coroutine itself (the hot path)
            return self._read_frame()
        return runtime.bridge(self._read_frame())

    def try_read_frame(self) -> Frame | None:
        """Return the next frame if one is already buffered, else None, without waiting."""
        if get_ident() != self._loop_thread:
            return runtime.run_sync(self._try_read())
        return self._next()

    async def _try_read(self) -> Frame | None:
        return self._next()

    async def _read_frame(self) -> Frame:
        watch = self._watch
        if watch is not None:
            watch.back(self._loop.time())  # type: ignore[union-attr]
        stream = self._stream
        if stream is None:
            raise InvalidState("this connection is not connected yet; a client connects with wsplay.connect(url) or client.open()")
        while True:
            frame = self._next()
            if frame is not None:
                if watch is not None:
                    watch.handed_out(self._loop.time())  # type: ignore[union-attr]
                return frame
            if stream.lost:
                raise self._closed_error()
            codec = self._codec
            if codec.close_received is not None or codec.failure is not None:
                await self._close(None, "")  # read on past the close: finish the handshake for the reader
                raise self._closed_error()
            await stream.readable()

    def _next(self) -> Frame | None:
        """Turn the next buffered wire frame (or completed message) into a Frame, without waiting."""
        codec = self._codec
        while True:
            try:
                inc = codec.next_frame()
            except ProtocolError as exc:
                rec = self._rec
                if rec is not None:
                    if exc.header is not None:  # the frame that broke the rules belongs in the log too
                        rec.frame(self.id, "in", exc.header, exc.payload)  # type: ignore[arg-type]
                    if exc.code == 1009:
                        rec.event(LimitHit(time.time(), self.id, "message size", codec.max_message_size))
                self._fail(exc)
                return Frame(FrameType.ERROR, self, b"", error=exc)
            if inc is None:
                return None
            header = inc.header
            opcode = header.opcode
            if self._rec is not None:
                # Raw header bytes, not the Header: a record of plain bytes and numbers is left alone by
                # the garbage collector, thousands of records of objects are not.
                if inc.wire is None:
                    self._rec.frame_in(self._counters, self.id, header.header_bytes, inc.payload, self._stream.last_received)  # type: ignore[arg-type, union-attr]
                else:  # compressed: the record keeps both the message and the bytes that carried it
                    self._rec.frame_deflated(self._counters, self.id, "in", header.header_bytes, inc.payload, inc.wire, self._stream.last_received)  # type: ignore[arg-type, union-attr]
            if opcode >= 8:
                frame = Frame(_TYPES[opcode], self, inc.payload, headers=[header])
                if opcode == 8:
                    code = inc.close_code if inc.close_code is not None else 1005
                    frame.close_code, frame.close_reason = code, inc.close_reason
                    if codec.close_sent is not None:
                        self._handshake_complete()
                elif opcode == 9:
                    self._last_ping_data = bytes(inc.payload)
                else:
                    self._on_pong(inc.payload)
                return frame
            if not self._merge:
                return Frame(_TYPES[opcode], self, inc.payload, text=inc.text, fin=header.fin, headers=[header])
            if header.fin and not self._parts:
                return Frame(_TYPES[opcode], self, inc.payload, text=inc.text, headers=[header])
            self._parts.append(inc)
            if header.fin:
                parts, self._parts = self._parts, []
                first = parts[0]
                text = "".join([p.text or "" for p in parts]) if first.header.opcode == FrameType.TEXT else None
                return Frame(
                    _TYPES[first.header.opcode],
                    self,
                    None,
                    text=text,
                    headers=[p.header for p in parts],
                    segments=[p.payload for p in parts],
                )

    def _on_pong(self, payload: bytes | memoryview) -> None:
        sent = self._pings.pop(bytes(payload), None) if self._pings else None
        if sent is not None:
            self.latency = self._loop.time() - sent  # type: ignore[union-attr]

    # -- writing --------------------------------------------------------------------------------------

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
            ConnectionClosed: the connection is gone, or the peer or wsplay closed it.
            AlreadyClosed: this side closed it with close() (an InvalidState and a ConnectionClosed).
        """
        if get_ident() != self._loop_thread:
            owner = threading.current_thread() if self._watch is not None else None
            return runtime.bridge(self._write_async(payload, opcode, fin, flush, owner), _WRITE_TIMEOUT)
        stream = self._stream
        if self._quiet and (stream is None or stream.lost or self._codec.close_sent is not None or self._codec.failure is not None):
            current = asyncio.current_task()
            if current is not self.task and current in self._quiet:
                return self._drop_write()  # another connection's handler: this peer leaving is not its fault
        if self._watch is not None and opcode <= 2:
            self._watch.wrote(asyncio.current_task(), opcode, fin)
        self._send(payload, opcode, fin, flush)
        if stream.write_paused:  # type: ignore[union-attr]
            return self._drain()
        return _DONE

    async def _write_async(self, payload: Any, opcode: int, fin: bool, flush: bool, owner: Any = None) -> None:
        if owner is not None and opcode <= 2:
            self._watch.wrote(owner, opcode, fin)  # type: ignore[union-attr]
        self._send(payload, opcode, fin, flush)
        await self._drain()

    def _send(self, payload: Any, opcode: int, fin: bool, flush: bool) -> None:
        """Encode, record and write one frame (corked unless its payload is large)."""
        if type(payload) is str:
            payload = payload.encode("utf-8")
        stream = self._stream
        if stream is None:
            raise InvalidState("this connection is not connected yet; a client connects with wsplay.connect(url) or client.open()")
        codec = self._codec
        if stream.lost or codec.close_sent is not None or codec.failure is not None:
            if self._shut or codec.close_sent is None:  # wsplay or the peer ended it, not this side's close()
                raise self._closed_error()
            self._refuse(opcode)
        if self._server and codec.deflate is None:  # send_frame()'s own hot path, without the call
            head, body = encode_header(opcode, len(payload), fin), payload
        else:
            head, body = codec.send_frame(opcode, payload, fin)
        if opcode < 3:
            self._midmessage = not fin
        elif opcode == 9:
            self._note_ping(bytes(payload))
        n = len(body)
        rec = self._rec
        if rec is not None and codec.last_deflated is not None and opcode < 3:
            rec.frame_deflated(self._counters, self.id, "out", head, payload, codec.last_deflated, _monotonic())  # type: ignore[arg-type]
            rec = None  # recorded
        if n < LARGE:
            data = head + body
            if rec is not None:  # one object kept for the record: the frame as sent
                rec.frame_out_wire(self._counters, self.id, data, n, _monotonic())  # type: ignore[arg-type]
            stream.write(data, flush)
        else:
            if rec is not None:
                rec.frame_out(self._counters, self.id, head, payload, _monotonic())  # type: ignore[arg-type]
            stream.write_through(head, body)

    def _refuse(self, opcode: int) -> None:
        """A write after this side's own close(): say so (AlreadyClosed, both InvalidState and ConnectionClosed)."""
        try:
            self._codec.send_frame(opcode)
        except InvalidState as exc:
            closed = self._closed_error()
            raise AlreadyClosed(str(exc), closed.code, closed.reason, closed.by) from None

    def _send_control(self, data: bytes) -> None:
        """Record and send a whole encoded control frame (a close) at once."""
        if self._rec is not None:
            self._rec.frame_out_wire(self._counters, self.id, data, data[1] & 0x7F, _monotonic())  # type: ignore[arg-type]
        stream = self._stream
        stream.write(data, flush=False)  # type: ignore[union-attr]
        stream.flush()  # type: ignore[union-attr]  # now, behind what was corked

    def _note_ping(self, payload: bytes) -> None:
        pings = self._pings
        if pings is None:
            pings = self._pings = {}
        elif len(pings) >= _PINGS_KEPT:
            del pings[next(iter(pings))]
        pings[payload] = self._loop.time()  # type: ignore[union-attr]

    async def _drain(self) -> None:
        stream = self._stream
        await stream.drain()  # type: ignore[union-attr]
        if stream.lost:  # type: ignore[union-attr]
            raise self._closed_error()

    def _drop_write(self) -> Awaitable[None]:
        self.dropped_writes += 1
        if self.dropped_writes == 1 and self._rec is not None:
            self._rec.event(Notice(time.time(), self.id, f"connection {self.id} is closed: writes to it from other tasks are dropped"))
        return _DONE

    def flush(self) -> Awaitable[None]:
        """Send every corked frame now."""
        return runtime.bridge(self._flush_async())

    async def _flush_async(self) -> None:
        if self._stream is not None:
            self._stream.flush()
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
        if self._watch is not None:
            owner = asyncio.current_task() if runtime.in_loop_thread() else threading.current_thread()
        return runtime.bridge(self._write_synchronized(payload, opcode, fin, owner), _WRITE_TIMEOUT)

    async def _write_synchronized(self, payload: Any, opcode: int, fin: bool, owner: Any) -> None:
        async with self.write_lock:
            await self._write_async(payload, opcode, fin, True, owner)

    def ping(self, data: bytes | str = b"") -> Awaitable[None]:
        """Send a ping (at most 125 bytes of data); its pong's round trip lands in `latency`."""
        return self.write(control_payload(data), FrameType.PING)

    def pong(self, data: bytes | str | None = None) -> Awaitable[None]:
        """Send a pong; None echoes the data of the last ping received, as RFC 6455 5.5.3 asks."""
        return self.write(self._last_ping_data if data is None else control_payload(data), FrameType.PONG)

    # -- work beside the handler -------------------------------------------------------------------------

    def spawn(self, work: Coroutine[Any, Any, Any], name: str | None = None) -> asyncio.Task[Any]:
        """Run `work` beside the handler, on wsplay's loop: the seed's fix for long work in a handler.

        The handler returns to the message pump at once, so pings keep being answered. If the task
        raises, the error is recorded and shown in the panel like a handler's (a `TaskFailed` event,
        and `host.errors`), not lost in a "Task exception was never retrieved" line on stderr; the
        connection stays open. A task that ends because the connection closed (ConnectionClosed) is
        not an error. When the connection ends, the tasks it still runs are cancelled.

        Example:
            async def on_message(self, connection, message):
                connection.spawn(long_import(connection, message.data_as_string()))
        """
        if get_ident() != self._loop_thread:  # from a cell or a thread: started on the loop
            return runtime.run_sync(self._spawn_on_loop(work, name))
        return self._start_task(work, name)

    async def _spawn_on_loop(self, work: Coroutine[Any, Any, Any], name: str | None) -> asyncio.Task[Any]:
        return self._start_task(work, name)

    def _start_task(self, work: Coroutine[Any, Any, Any], name: str | None) -> asyncio.Task[Any]:
        if self._stream is None or self._stream.lost:
            work.close()
            raise self._closed_error() if self._stream is not None else InvalidState("this connection is not connected yet")
        task = self._loop.create_task(work, name=name or getattr(work, "__qualname__", None))  # type: ignore[union-attr]
        if self._tasks is None:
            self._tasks = set()
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        if self._tasks is not None:
            self._tasks.discard(task)
        if task.cancelled():
            return
        exc = task.exception()
        if exc is None or isinstance(exc, ConnectionClosed):
            return
        tb = "".join(traceback.format_exception(exc))
        log.error("connection %s: task %s raised %s: %s\n%s", self.id, task.get_name(), type(exc).__name__, exc, tb.rstrip())
        if self._rec is not None:
            self._rec.event(TaskFailed(time.time(), self.id, task.get_name(), f"{type(exc).__name__}: {exc}", tb))
        if self._task_failed is not None:
            self._task_failed(self, exc, tb)

    # -- closing --------------------------------------------------------------------------------------

    def close(self, code: int | None = None, reason: str = "") -> Awaitable[None]:
        """Close: send a close frame and wait until the connection is over (at most the close timeout).

        Args:
            code: the close code; None sends 1000, or, when answering the peer's close, echoes its
                code (RFC 6455 5.5.1). `close()` with no arguments is the seed's.
            reason: a short text, at most 123 bytes of UTF-8.

        Inside the handler that reads this connection, close() reads on to the peer's close frame
        itself (what arrives in between is dropped); anywhere else it waits for that reader.
        Idempotent: a second call only waits.

        Example:
            connection.close(1000, "bye")
            connection.close_code, connection.closed_by
        """
        if code is not None or reason:  # the seed's bare close() needs no checking
            check_close(code, reason)
        if get_ident() == self._loop_thread:  # a handler on the loop: the coroutine itself
            return self._close(code, reason)
        return runtime.bridge(self._close(code, reason))

    def shutdown(self, code: int = 1001, reason: str = "going away") -> Awaitable[None]:
        """Close on wsplay's behalf rather than the handler's (a host stopping, a failed handler).

        Like close(), except that writes which follow raise ConnectionClosed instead of
        InvalidState, so a handler's loop that writes ends quietly.
        """
        check_close(code, reason)
        self._shut = True
        return runtime.bridge(self._close(code, reason))

    def abort(self) -> Awaitable[None]:
        """Drop the TCP connection at once, without a close handshake (the peer sees 1006)."""
        return runtime.bridge(self._abort_now())

    async def _abort_now(self) -> None:
        self._give_up(1006, "")

    def wait_closed(self) -> Awaitable[None]:
        """Wait until the TCP connection is gone."""
        return runtime.bridge(self._wait_closed())

    async def _wait_closed(self) -> None:
        stream = self._stream
        if stream is not None and not stream.closed.done():
            await asyncio.shield(stream.closed)

    async def _close(self, code: int | None, reason: str) -> None:
        if self._stream is None:
            return
        self._send_close(code, reason)
        await self._finish()

    def _send_close(self, code: int | None, reason: str) -> None:
        stream = self._stream
        codec = self._codec
        if stream is None or stream.lost or codec.close_sent is not None or codec.failure is not None:
            return
        if code is None:
            received = codec.close_received
            code = received[0] if received else 1000
            if code == 1005:  # the peer's close had no code: answer with none
                code = None
        if self._keepalive is not None:
            self._keepalive.stop()
            self._keepalive = None
        self._send_control(codec.send_close(code, reason))
        if codec.close_received is not None:
            self._handshake_complete()
        else:
            self._start_close_timer()  # the peer has this long to answer

    def _handshake_complete(self) -> None:
        """Both close frames are out: the server closes TCP first (RFC 6455 7.1.1); a client waits for it."""
        if self._server:
            self._stream.close()  # type: ignore[union-attr]
        else:
            self._start_close_timer()  # the server has this long to close TCP

    def _start_close_timer(self) -> None:
        if self._close_timer is None and self._stream is not None and not self._stream.lost:
            self._close_timer = self._loop.call_later(self.options.close_timeout, self._stream.abort)  # type: ignore[union-attr]

    async def _finish(self) -> None:
        """Wait for the end; the connection's own reader reads on to the peer's close frame itself."""
        stream = self._stream
        assert stream is not None
        if asyncio.current_task() is self.task:
            codec = self._codec
            while not stream.lost and codec.close_received is None and codec.failure is None:
                if self._next() is None:  # discard what arrives until the peer's close frame
                    await stream.readable()
        if not stream.closed.done():
            await asyncio.shield(stream.closed)

    def _fail(self, exc: ProtocolError) -> None:
        """Fail the connection (RFC 6455 7.1.7): send a close with the error's code, then stop writing."""
        stream = self._stream
        if stream is None or stream.lost:
            return
        self._shut = True
        data = self._codec.fail(exc)
        if data is not None:
            self._send_control(data)
        stream.half_close()  # the peer then reads our close frame instead of a reset
        self._start_close_timer()

    def _give_up(self, code: int, reason: str) -> None:
        """End the connection now, on this side's decision: a close frame if one may still go, then TCP."""
        stream = self._stream
        if stream is None or stream.lost:
            return
        self._shut = True
        codec = self._codec
        codec.abort(code, reason)
        if codec.close_sent is None and codec.failure is None and code != 1006:
            self._send_control(codec.send_close(code, reason))
        stream.abort()

    # -- keepalive, write overflow, the end --------------------------------------------------------------

    def _heard(self) -> tuple[float, int] | None:
        stream = self._stream
        assert stream is not None
        # While we are not reading (a busy reader), the peer's bytes wait in the kernel: not its silence.
        return None if stream.reading_paused else (stream.last_received, stream.reads)

    def _keepalive_ping(self, payload: bytes) -> None:
        codec = self._codec
        if codec.close_sent is not None or codec.failure is not None:
            return
        codec.trim()  # idle: give the receive buffer back until bytes arrive again
        self._send(payload, FrameType.PING, True, True)

    def _keepalive_gave_up(self) -> None:
        log.info("connection %s: no answer to keepalive ping within %s s; dropping it", self.id, self.options.ping_timeout)
        self._give_up(1011, "keepalive ping timeout")

    def _overflow(self) -> None:
        """The peer stopped reading and the writes kept coming: drop it rather than grow without bound."""
        limit = self.options.max_write_buffer
        if self._rec is not None:
            self._rec.event(LimitHit(time.time(), self.id, "write buffer", limit, 1008))
        log.warning("connection %s: the peer is not reading (%s bytes buffered); closing it with 1008", self.id, limit)
        self._give_up(1008, "peer is not reading")

    def _lost(self) -> None:
        # Timers hold bound methods of this connection or its stream: dropping them leaves no cycle
        # for the garbage collector to find (a server making thousands of connections notices).
        if self._close_timer is not None:
            self._close_timer.cancel()
            self._close_timer = None
        if self._keepalive is not None:
            self._keepalive.stop()
            self._keepalive = None
        if self._tasks:
            for task in list(self._tasks):  # spawned for this connection: it is over
                task.cancel()
        codec = self._codec
        codec.connection_lost()
        record = codec.close_record
        assert record is not None
        rec = self._rec
        if rec is not None:
            rec.event(ConnectionClosedRecord(time.time(), self.id, record.code, record.reason, record.by, codec.clean))
            rec.retire(self.id)

    # -- pitfall reports (development mode) ------------------------------------------------------------

    def check_stall(self) -> None:
        """Report the pump as stalled if a handler has held it past the threshold while frames wait."""
        watch = self._watch
        if watch is not None and not self._stream.lost:  # type: ignore[union-attr]
            watch.check(self._loop.time())  # type: ignore[union-attr]

    def note_handler(self, name: str) -> None:
        """Name what holds the message pump (a stall report says it); the pumps call this when watching."""
        if self._watch is not None:
            self._watch.handler = name

    @property
    def handler_name(self) -> str:
        return self._watch.handler if self._watch is not None else "handle()"


def broadcast(connections: Iterable[Connection], message: str | bytes | bytearray | memoryview) -> int:
    """Send one message to many connections (a chat's fan-out); return how many it was written to.

    A `str` goes as a TEXT frame, bytes as BINARY. The frame is encoded once and written to every
    connection without waiting for any of them, as `websockets.broadcast()` does: a peer that stops
    reading is cut off by its write limit (close code 1008) instead of holding up the others, where
    the seed's loop of `await connection.write()` waits for each in turn. Skipped: connections that
    are closing or closed, and any in the middle of sending a fragmented message (a frame between its
    fragments would break it). A compressed connection gets the message compressed with its own
    context, a client's is masked, as write() would.

    On wsplay's loop it writes at once; anywhere else (a cell, a thread) it runs there and returns
    once written.
    """
    if not runtime.in_loop_thread():
        return runtime.run_sync(_broadcast_async(list(connections), message))
    if isinstance(message, str):
        payload, opcode = message.encode("utf-8"), FrameType.TEXT
    else:
        payload, opcode = bytes(message), FrameType.BINARY
    n = len(payload)
    wire = None  # the frame as a server sends it uncompressed: the same bytes for every such peer
    now = 0.0
    sent = 0
    for connection in connections:
        if not isinstance(connection, Connection):
            raise TypeError(f"broadcast() sends to connections, not to {type(connection).__name__} {connection!r}: pass e.g. host.connections")
        stream = connection._stream
        codec = connection._codec
        if stream is None or stream.lost or codec.close_sent is not None or codec.failure is not None or connection._midmessage:
            continue
        if connection._server and codec.deflate is None and n < LARGE:
            if wire is None:
                wire, now = encode_header(opcode, n) + payload, _monotonic()
            if connection._rec is not None:
                connection._rec.frame_out_wire(connection._counters, connection.id, wire, n, now)  # type: ignore[arg-type]
            stream.write(wire)
        else:
            connection._send(payload, opcode, True, True)
        sent += 1
    return sent


async def _broadcast_async(connections: list[Connection], message: str | bytes | bytearray | memoryview) -> int:
    return broadcast(connections, message)
