"""The Client: the shared connection core plus what only a client has: the opening handshake, a reader
that queues frames for `receive()`, message-level sending, and `send_raw` for frames that break the rules.

The client lives on wsplay's background loop, and its reader task reads frames as soon as they arrive,
so it keeps answering pings, noticing pongs and answering the server's close while a cell blocks or
nobody calls `receive()`. When more than a few MiB wait in the queue it stops reading until
`receive()` catches up (TCP backpressure).
"""

from __future__ import annotations

import asyncio
import itertools
import time
import warnings
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping, Sequence
from ssl import SSLContext
from typing import Any, cast

from wsplay import runtime
from wsplay.core.connection import Connection
from wsplay.core.frame import Frame
from wsplay.core.options import Compression, ConnectionOptions, Settings
from wsplay.core.stream import LARGE, READ_PAUSE
from wsplay.errors import ConnectionClosed, HandshakeError, InvalidState
from wsplay.observe import ConnectionOpened, Event, FrameRecord, Recorder
from wsplay.protocol.connection import Side
from wsplay.protocol.frames import FrameType
from wsplay.protocol.handshake import ClientHandshake

__all__ = ["Client", "connect", "connect_async"]

_END = object()  # queued after the last frame: receive() raises ConnectionClosed from here on
_DONE = runtime.Done(None)
_WRITE_TIMEOUT = 60.0  # a caller on another thread waits at most this long for a slow server to read


class Client(Connection):
    """One WebSocket client connection. Open it with `wsplay.connect(url)` (`await` it in coroutine code).

    Args:
        url: ws:// or wss:// URL.
        origin, subprotocols, headers: what the upgrade request offers.
        compression: permessage-deflate: offered by default as browsers offer it
            (`client_max_window_bits`); None offers nothing; `Compression(...)` chooses the parameters.
        ssl: for wss:// URLs, the `ssl.SSLContext` to verify the server with; by default the system's
            trusted certificates (`ssl.create_default_context()`). To trust a self-signed certificate
            for local tests, pass `ssl.create_default_context(cafile="its-ca.pem")`.
        ping_interval: ping the server when it has been silent this long (seconds); None: never.
        ping_timeout: drop the server (close 1011) when still silent this long after the ping; None: ping_interval.
        auto_pong: answer pings with a pong carrying the ping's data.
        max_message_size: the largest message accepted; larger fails with 1009 (None: no limit).
        max_frame_size: the largest single frame accepted; larger fails with 1009 (None: only the message limit).
        manual_continuation: deliver fragments as they come instead of merged messages.
        record: frames kept by `client.recorder` (0 keeps none but counts; False records nothing).
        queue: keep received frames for `receive()`; False when nothing will call it (a panel that only
            shows the recorder), so unread frames never pile up and pause reading.
        mask_source: returns the 4-byte mask key of each frame; `os.urandom(4)` by default.
        open_timeout, close_timeout: seconds for the TCP connect plus handshake, and for the close handshake.

    Everything of `wsplay.core.Connection` works on a client too: `write()`, `ping()`, `pong()`,
    `close(code, reason)`, `state`, `close_code`, `closed_by`, `latency`.

    Example:
        client = wsplay.Client(host.url, ping_interval=5).open()
        client.send_raw(0x1, b"hi", rsv1=True); client.receive(timeout=1)
    """

    __slots__ = (
        "_ended", "_failed", "_handshake", "_opening", "_queue", "_queued", "_room", "_tls", "_transport",
        "auto_pong", "open_timeout", "queue_frames", "recorder", "response_headers", "url",
    )

    _ids = itertools.count(1)

    def __init__(
        self,
        url: str,
        *,
        origin: str | None = None,
        subprotocols: Sequence[str] = (),
        headers: Mapping[str, str] | Iterable[tuple[str, str]] | None = None,
        ping_interval: float | None = None,
        ping_timeout: float | None = None,
        auto_pong: bool = True,
        max_message_size: int | None = 16 * 1024 * 1024,
        max_frame_size: int | None = None,
        manual_continuation: bool = False,
        record: int | bool = 2000,
        queue: bool = True,
        mask_source: Callable[[], bytes] | None = None,
        compression: Compression | None = Compression(),  # noqa: B008 - frozen, shared safely
        ssl: SSLContext | None = None,
        open_timeout: float = 10.0,
        close_timeout: float = 10.0,
    ) -> None:
        kept = 2000 if record is True else int(record)  # record=True: the default size
        self.recorder = Recorder(max_frames=kept, enabled=record is not False, side="client")
        settings = Settings(
            max_message_size=max_message_size,
            max_frame_size=max_frame_size,
            handle_continuation_frames_manually=manual_continuation,
            subprotocols=tuple(subprotocols),
            compression=compression,
        )
        options = ConnectionOptions(ping_interval=ping_interval, ping_timeout=ping_timeout, close_timeout=close_timeout)
        super().__init__(Side.CLIENT, settings, options, self.recorder, connection_id=next(Client._ids), mask_source=mask_source)
        self.url = url
        self._tls = ssl
        self._handshake = ClientHandshake(url, origin=origin, subprotocols=subprotocols, headers=headers, compression=compression)
        if ssl is not None and not self._handshake.uri.secure:
            raise ValueError(f"ssl= is for wss:// URLs; {url} is not one")
        self.auto_pong = auto_pong
        self.queue_frames = queue
        self.open_timeout = open_timeout
        self.response_headers: Any = None
        self._transport: asyncio.Transport | None = None  # during the handshake; the stream's afterwards
        self._opening: asyncio.Future[None] | None = None
        self._failed = False  # the opening handshake did not succeed
        self._queue: asyncio.Queue[Any] | None = None  # created on the loop by open()
        self._queued = 0  # payload bytes waiting for receive()
        self._room: asyncio.Event | None = None  # set while the queue has room for the reader
        self._ended = False

    def __repr__(self) -> str:
        return f"<Client {self.url} {self.state}>"

    @property
    def state(self) -> str:
        """'connecting', 'open', 'closing' or 'closed'."""
        if self._failed:
            return "closed"
        return super().state

    @property
    def manual_continuation(self) -> bool:
        return self.settings.handle_continuation_frames_manually

    @property
    def frames(self) -> list[FrameRecord]:
        """A snapshot of the recorded frames, both directions."""
        return self.recorder.frames()

    @property
    def events(self) -> list[Event]:
        """A snapshot of the recorded events (open, close, limit hit)."""
        return self.recorder.events()

    def decoder(self, name: str, fn: Callable[[bytes], Any]) -> Client:
        """Offer `fn(payload) -> anything` as a payload view in every panel (the registry hosts share too)."""
        from wsplay import decoders

        decoders.register(name, fn)
        return self

    # -- opening --------------------------------------------------------------------------------------

    def open(self) -> Awaitable[Client]:
        """Connect and do the opening handshake (what `connect()` calls); returns the client.

        Raises:
            HandshakeError: the server refused the upgrade ("server answered 404: ...").
            OSError: nothing listens there. TimeoutError: no handshake within open_timeout.
        """
        for earlier in runtime.claim_cell(self, runtime.current_cell()):
            earlier.close(1001, "the cell that opened it ran again")  # re-running a cell replaces its client
        return runtime.bridge(self._open())

    async def _open(self) -> Client:
        if self._opening is not None:
            if self._failed or self.state == "closed":
                raise InvalidState(f"this client's connection to {self.url} is over; open a new one with wsplay.connect(url)")
            await asyncio.shield(self._opening)
            return self
        loop = asyncio.get_running_loop()
        self._opening = loop.create_future()
        self._queue, self._room = asyncio.Queue(), asyncio.Event()
        self._room.set()
        runtime.track_client(self)
        uri = self._handshake.uri
        try:
            async with asyncio.timeout(self.open_timeout):
                try:
                    tls = self._tls if self._tls is not None else (True if uri.secure else None)
                    await loop.create_connection(lambda: _ResponseReader(self, loop), uri.host, uri.port, ssl=tls)
                except OSError as exc:
                    why = f"cannot connect to {uri.host}:{uri.port}: {exc.strerror or exc}"
                    raise (type(exc)(exc.errno, why) if exc.errno else OSError(why)) from None
                assert self._transport is not None
                self._transport.write(self._handshake.request_bytes())
                await asyncio.shield(self._opening)
        except BaseException as exc:
            if isinstance(exc, TimeoutError):
                exc = TimeoutError(f"no WebSocket handshake with {self.url} within {self.open_timeout} s")
            self._give_up_opening()
            if not self._opening.done():  # tell concurrent open() callers too
                if isinstance(exc, asyncio.CancelledError):
                    self._opening.cancel()
                else:
                    self._opening.set_exception(exc)
                    self._opening.exception()  # mark it retrieved
            raise exc from None
        return self

    def _give_up_opening(self) -> None:
        self._failed = True
        runtime.untrack_client(self)
        if self._transport is not None and self._stream is None:
            self._transport.abort()
        self._end()

    def _on_head(self, data: bytes, loop: asyncio.AbstractEventLoop) -> None:
        """Bytes during the handshake: feed them until the 101, then hand the transport to the core."""
        opening, transport = self._opening, self._transport
        assert opening is not None and transport is not None
        try:
            response = self._handshake.feed(data)
        except HandshakeError as exc:
            transport.abort()
            if not opening.done():
                opening.set_exception(exc)
            return
        if response is None:
            return
        self.subprotocol = self._handshake.subprotocol
        self.response_headers = response.headers
        opened = None
        if self.recorder.enabled:
            peer = transport.get_extra_info("peername")
            remote = f"{peer[0]}:{peer[1]}" if peer else ""
            request, status = self._handshake.request, f"HTTP/1.1 {response.status_code} {response.reason_phrase}"
            opened = ConnectionOpened(
                time.time(), self.id, remote, request.path, self.subprotocol, url=self.url,
                request_line=f"GET {request.path} HTTP/1.1", request_head=request.headers,
                response_head=(status, response.headers),
            )  # fmt: skip
        self.attach(transport, loop, opened, self._handshake.leftover(), self._handshake.extension)
        self.task = loop.create_task(self._read_loop())
        opening.set_result(None)

    def _on_head_lost(self) -> None:
        """The server closed the connection before its 101 was complete."""
        opening = self._opening
        if opening is None or opening.done():
            return
        try:
            self._handshake.feed_eof()  # a refusal whose body ends with the connection
            error: BaseException = HandshakeError("the server closed the connection during the handshake", 0)
        except HandshakeError as exc:
            error = exc
        opening.set_exception(error)

    # -- receiving ------------------------------------------------------------------------------------

    async def _read_loop(self) -> None:
        """Read every frame as it arrives: answer pings, answer the server's close, queue the rest."""
        try:
            while True:
                frame = await self._read_frame()
                kind = frame.type
                if kind is FrameType.PING and self.auto_pong and self.state == "open":
                    self._send(frame.data, FrameType.PONG, True, True)
                self._deliver(frame)
                if kind is FrameType.CLOSE:
                    await self._close(None, "")  # echo its code, then wait for the server to close TCP
                    return
                if kind is FrameType.ERROR:
                    return  # the core failed the connection: nothing more is read (RFC 6455 7.1.7)
                if self._queued > READ_PAUSE:
                    assert self._room is not None
                    self._room.clear()
                    await self._room.wait()  # meanwhile the stream stops reading: TCP backpressure
        except ConnectionClosed:
            pass
        finally:
            self._end()
            runtime.untrack_client(self)

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

    def receive(self, timeout: float | None = None) -> Awaitable[Frame]:
        """Return the next frame: a message (merged unless manual_continuation), PING, PONG, CLOSE or ERROR.

        Raises:
            TimeoutError: nothing arrived within `timeout` seconds.
            ConnectionClosed: the connection is closed and every frame was received.
        Example:
            frame = client.receive(timeout=1)
            frame.type, frame.data
        """
        return runtime.bridge(self._receive(timeout))

    async def _receive(self, timeout: float | None) -> Frame:
        if self._queue is None:
            raise InvalidState("this client never connected; use wsplay.connect(url), or client.open()")
        if not self.queue_frames:
            raise InvalidState("this client keeps no frames for receive() (queue=False); read client.frames instead")
        try:
            async with asyncio.timeout(timeout):
                item = await self._queue.get()
        except TimeoutError:
            raise TimeoutError(f"no frame from {self.url} within {timeout} s") from None
        if item is _END:
            self._queue.put_nowait(_END)  # for the next caller too
            await self._wait_closed()  # the close handshake ends with TCP; its timer bounds this
            raise self._closed_error()
        self._queued -= len(item)
        if self._queued < READ_PAUSE // 2 and self._room is not None:
            self._room.set()
        return item  # type: ignore[no-any-return]

    def receive_text(self, timeout: float | None = None) -> Awaitable[str]:
        """Return the next text message, skipping pings and pongs.

        Raises:
            TypeError: the next message is binary. ConnectionClosed, TimeoutError: as `receive()`.
        Example:
            client.send("hi")
            client.receive_text(timeout=1)
        """
        return runtime.bridge(self._receive_text(timeout))

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

    def __aiter__(self) -> Client:
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

    # -- sending messages -------------------------------------------------------------------------------

    def send(self, data: str | bytes | bytearray | memoryview) -> Awaitable[None]:
        """Send a message: str as TEXT, bytes-like as BINARY.

        Example:
            client.send("hello")
            client.receive_text(timeout=1)
        """
        return self.write(data, FrameType.TEXT if isinstance(data, str) else FrameType.BINARY)

    def send_text(self, text: str) -> Awaitable[None]:
        """Send a TEXT message."""
        return self.write(text.encode("utf-8"), FrameType.TEXT)

    def send_binary(self, data: bytes | bytearray | memoryview) -> Awaitable[None]:
        """Send a BINARY message."""
        return self.write(bytes(data), FrameType.BINARY)

    def send_fragmented(
        self,
        data: str | bytes | bytearray | memoryview,
        fragment_size: int | None = None,
        sizes: Sequence[int] | None = None,
    ) -> Awaitable[None]:
        """Send one message as several frames: TEXT/BINARY with fin=0, CONTINUE frames, the last with fin=1.

        Args:
            fragment_size: bytes per fragment (the last may be shorter).
            sizes: explicit fragment sizes in bytes (0 allowed; a text fragment may cut a character);
                bytes left over go in one last fragment.
        Example:
            client.send_fragmented("hello world", sizes=[3, 3])
            client.receive_text(timeout=1)  # 'hello world', merged by the server
        """
        payload = _as_bytes(data)
        if sizes is None:
            if not fragment_size or fragment_size < 1:
                raise ValueError("send_fragmented() needs fragment_size=N (bytes per fragment) or sizes=[...]")
            sizes = [fragment_size] * (len(payload) // fragment_size)  # the rest goes in a last fragment
        if sum(sizes) > len(payload) or any(n < 0 for n in sizes):
            raise ValueError(f"fragment sizes {list(sizes)} do not fit a {len(payload)}-byte message")
        cuts, pos = [], 0
        for n in sizes:
            cuts.append(payload[pos : pos + n])
            pos += n
        if pos < len(payload) or not cuts:
            cuts.append(payload[pos:])
        first = FrameType.TEXT if isinstance(data, str) else FrameType.BINARY
        frames: list[tuple[int, bytes, bool]] = [
            (first if i == 0 else FrameType.CONTINUE, part, i == len(cuts) - 1) for i, part in enumerate(cuts)
        ]
        if runtime.in_loop_thread():
            self._send_all(frames)
            return self._drain() if self._open_stream().write_paused else _DONE
        return runtime.bridge(self._send_fragmented(frames), _WRITE_TIMEOUT)

    async def _send_fragmented(self, frames: list[tuple[int, bytes, bool]]) -> None:
        self._send_all(frames)
        await self._drain()

    def _send_all(self, frames: list[tuple[int, bytes, bool]]) -> None:
        for opcode, payload, fin in frames:  # no await in between: a fragmented message is never interleaved
            self._send(payload, opcode, fin, True)

    # -- breaking the rules -----------------------------------------------------------------------------

    def send_raw(
        self,
        opcode: int,
        payload: bytes | str = b"",
        *,
        fin: bool = True,
        rsv1: bool = False,
        rsv2: bool = False,
        rsv3: bool = False,
        masked: bool = True,
        mask_key: bytes | None = None,
        length: int | None = None,
    ) -> Awaitable[None]:
        """Send any frame, including ones RFC 6455 forbids, to see how the server answers.

        Nothing is checked: reserved opcodes (3-7, 11-15), RSV bits, an unmasked frame, a control frame
        over 125 bytes or fragmented, bad UTF-8, and `length` declaring a payload length other than
        what is sent (a "lying length") all go out as asked. A close frame sent this way still counts
        as this side's close (the server's answer completes the handshake).
        Example:
            client.send_raw(0x1, b"hi", rsv1=True)
            client.receive(timeout=1)  # CLOSE 1002 from a strict server
        """
        if not 0 <= opcode <= 0xF:
            raise ValueError(f"an opcode has 4 bits: 0-15, not {opcode}")
        if mask_key is not None and len(mask_key) != 4:
            raise ValueError(f"a mask key is 4 bytes, not {len(mask_key)}")
        if length is not None and not 0 <= length < 1 << 64:
            raise ValueError("a declared length must fit 64 bits")
        rsv = rsv1 << 2 | rsv2 << 1 | int(rsv3)
        data = _as_bytes(payload)
        return runtime.bridge(self._send_raw(opcode, data, fin, rsv, masked, mask_key, length), _WRITE_TIMEOUT)

    async def _send_raw(self, opcode: int, data: bytes, fin: bool, rsv: int, masked: bool, key: bytes | None, length: int | None) -> None:
        stream = self._open_stream()
        head, body = self._codec.send_raw(opcode, data, fin=fin, rsv=rsv, masked=masked, mask_key=key, length=length)
        if opcode == FrameType.CLOSE:
            self._start_close_timer()
        if self._rec is not None:
            self._rec.frame(self.id, "out", head, data)
        if len(body) < LARGE:
            stream.write(head + body)
        else:
            stream.write_through(head, body)
        await self._drain()

    def send_bytes(self, raw: bytes | bytearray | memoryview) -> Awaitable[None]:
        """Write arbitrary bytes to the socket as they are (not recorded: they need not be a frame)."""
        return runtime.bridge(self._send_bytes(bytes(raw)), _WRITE_TIMEOUT)

    async def _send_bytes(self, raw: bytes) -> None:
        self._open_stream().write(raw)
        await self._drain()

    def _open_stream(self) -> Any:
        stream = self._stream
        if stream is None:
            raise InvalidState("this client is not connected yet; use wsplay.connect(url), or client.open()")
        if stream.lost:
            raise self._closed_error()
        return stream

    # -- closing ----------------------------------------------------------------------------------------

    async def _close(self, code: int | None, reason: str) -> None:
        if self._stream is None:  # still opening: give up; open() raises
            self._give_up_opening()
            return
        await super()._close(code, reason)

    # -- context managers -------------------------------------------------------------------------------

    def __enter__(self) -> Client:
        if self._opening is None:
            runtime.run_sync(self._open())
        return self

    def __exit__(self, *exc_info: object) -> None:
        runtime.run_sync(self._close(1000, ""))

    async def __aenter__(self) -> Client:
        return await runtime.bridge(self._open())

    async def __aexit__(self, *exc_info: object) -> None:
        await runtime.bridge(self._close(1000, ""))


class _ResponseReader(asyncio.BufferedProtocol):
    """The HTTP phase of a client's TCP connection: the server's answer, until its 101."""

    def __init__(self, client: Client, loop: asyncio.AbstractEventLoop) -> None:
        self._client = client
        self._loop = loop
        self._head = bytearray(4096)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        transport = cast(asyncio.Transport, transport)  # uvloop's transports are not asyncio.Transport subclasses
        self._client._transport = transport

    def get_buffer(self, sizehint: int) -> memoryview:
        return memoryview(self._head)

    def buffer_updated(self, nbytes: int) -> None:
        self._client._on_head(bytes(self._head[:nbytes]), self._loop)

    def eof_received(self) -> bool | None:
        return None  # the server closed its side: close ours too

    def connection_lost(self, exc: Exception | None) -> None:
        self._client._on_head_lost()


def connect(url: str, **options: Any) -> Awaitable[Client]:
    """Connect to a WebSocket server and return the open client (options as for `Client`).

    In coroutine code, `await` it.

    Raises:
        HandshakeError: the server refused the upgrade ("server answered 404: ...").
        OSError: nothing listens there. TimeoutError: no handshake within open_timeout.
    Example:
        client = wsplay.connect(host.url)
        client.send("hello"); client.receive_text(timeout=1)
    """
    return Client(url, **options).open()


def connect_async(url: str, **options: Any) -> Awaitable[Client]:
    """Deprecated: `connect()` follows the calling convention (`await wsplay.connect(url)` in coroutine code)."""
    warnings.warn(  # deprecated
        "wsplay.connect_async() is deprecated: use `await wsplay.connect(url)` in coroutine code",
        DeprecationWarning,
        stacklevel=2,
    )
    return connect(url, **options)


def _as_bytes(data: str | bytes | bytearray | memoryview) -> bytes:
    return data.encode("utf-8") if isinstance(data, str) else bytes(data)
