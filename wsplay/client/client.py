"""The Client: connecting, the close handshake, keepalive, and the asyncio protocol underneath.

The client lives on wsplay's background loop, so it keeps reading (answering pings, noticing
pongs and closes) while a cell blocks or nobody calls `receive()`. Every public method works with
`await` and synchronously from a cell or any thread, like the server's connections.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import time
import weakref
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from typing import Any

from wsplay import runtime
from wsplay.client.receiving import Receiving, _result
from wsplay.errors import ConnectionClosed, HandshakeError, InvalidState, ProtocolError
from wsplay.observe import ConnectionClosedRecord, ConnectionOpened, LimitHit, Recorder
from wsplay.protocol.connection import Connection, Side, State
from wsplay.protocol.frames import FrameType, close_code_allowed, encode_close_payload
from wsplay.protocol.handshake import ClientHandshake

__all__ = ["Client", "connect", "connect_async"]

# Clients whose connection is not over yet, for close_all() (weak: a client nobody holds and whose
# connection has ended goes away as usual; an open one is held by its transport anyway).
_open_clients: weakref.WeakSet[Client] = weakref.WeakSet()


class Client(Receiving):
    """One WebSocket client connection. Build it with `wsplay.connect(url)` or `await wsplay.connect_async(url)`.

    Args:
        url: ws:// or wss:// URL.
        origin, subprotocols, headers: what the upgrade request offers (extensions never).
        ping_interval: send a keepalive ping this often (seconds); None: never.
        ping_timeout: drop the server (close 1011, abort TCP) when no pong answers within this; None: ping_interval.
        auto_pong: answer pings with a pong carrying the ping's data.
        max_message_size: the largest message accepted; larger fails with 1009.
        manual_continuation: deliver fragments as they come instead of merged messages.
        record: frames kept by `client.recorder` (0 keeps none but counts; False records nothing).
        queue: keep received frames for `receive()`; False when nothing will call it (a panel that only
            shows the recorder), so unread frames never pile up and pause reading.
        mask_source: returns the 4-byte mask key of each frame; `os.urandom(4)` by default.
        open_timeout, close_timeout: seconds for the TCP connect plus handshake, and for the close handshake.

    Example:
        client = wsplay.Client(host.url, ping_interval=5).open()
        client.send_raw(0x1, b"hi", rsv1=True); client.receive(timeout=1)
    """

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
        manual_continuation: bool = False,
        record: int | bool = 2000,
        queue: bool = True,
        mask_source: Callable[[], bytes] | None = None,
        open_timeout: float = 10.0,
        close_timeout: float = 10.0,
    ) -> None:
        self.id = next(Client._ids)
        self.url = url
        self._handshake = ClientHandshake(url, origin=origin, subprotocols=subprotocols, headers=headers)
        self.ping_interval, self.ping_timeout = ping_interval, ping_timeout
        self.auto_pong = auto_pong
        self.manual_continuation = manual_continuation
        self.queue_frames = queue
        self.open_timeout, self.close_timeout = open_timeout, close_timeout
        self._mask = mask_source or (lambda: os.urandom(4))
        self._proto = Connection(Side.CLIENT, max_message_size=max_message_size, mask_source=self._mask)
        kept = 2000 if record is True else int(record)  # record=True: the default size
        self.recorder = Recorder(max_frames=kept, enabled=record is not False, side="client")
        self._rec = self.recorder if self.recorder.enabled else None  # the hot path checks one attribute
        self.subprotocol: str | None = None
        self.response_headers: Any = None
        self.close_code: int | None = None
        self.close_reason = ""
        self.closed_by: str | None = None  # 'server' or 'client': who started the close (or failed it)
        self._transport: asyncio.Transport | None = None
        self._upgraded = False
        self._lost = False
        self._opening: asyncio.Future[None] | None = None
        self._closed: asyncio.Future[None] | None = None
        self._init_sending()
        self._init_receiving()
        self._timers: dict[str, asyncio.TimerHandle] = {}
        self._keepalive_data: bytes | None = None  # the keepalive ping waiting for its pong
        self._later_pings: set[bytes] = set()  # pings sent after it: a pong to one of them answers it too
        self._pings = itertools.count(1)

    def __repr__(self) -> str:
        return f"<Client {self.url} {self.state}>"

    # -- state ----------------------------------------------------------------------------------------

    @property
    def state(self) -> str:
        """'connecting', 'open', 'closing' or 'closed'."""
        if self._lost:
            return "closed"
        if not self._upgraded:
            return "connecting"
        return "open" if self._proto.state is State.OPEN else "closing"

    @property
    def frames(self) -> list[Any]:
        """A snapshot of the recorded frames, both directions (`FrameRecord`s)."""
        return self.recorder.frames()

    @property
    def events(self) -> list[Any]:
        """A snapshot of the recorded events (open, close, limit hit)."""
        return self.recorder.events()

    def decoder(self, name: str, fn: Callable[[bytes], Any]) -> Client:
        """Offer `fn(payload) -> anything` as a payload view in every panel (the registry hosts share too)."""
        from wsplay import decoders

        decoders.register(name, fn)
        return self

    # -- opening --------------------------------------------------------------------------------------

    def open(self) -> Any:
        """Connect and do the opening handshake (what `connect()` calls); returns the client (awaitable in coroutines)."""
        return _result(runtime.bridge(self._open()))

    async def _open(self) -> Client:
        if self._opening is not None:
            if self._lost:
                raise InvalidState(f"this client's connection to {self.url} is over; open a new one with wsplay.connect(url)")
            await asyncio.shield(self._opening)
            return self
        loop = asyncio.get_running_loop()
        self._opening, self._closed, self._queue = loop.create_future(), loop.create_future(), asyncio.Queue()
        _open_clients.add(self)
        uri = self._handshake.uri
        try:
            async with asyncio.timeout(self.open_timeout):
                try:
                    await loop.create_connection(lambda: _Stream(self), uri.host, uri.port, ssl=uri.secure or None)
                except OSError as exc:
                    why = f"cannot connect to {uri.host}:{uri.port}: {exc.strerror or exc}"
                    raise (type(exc)(exc.errno, why) if exc.errno else OSError(why)) from None
                assert self._transport is not None
                self._transport.write(self._handshake.request_bytes())
                await asyncio.shield(self._opening)
        except BaseException as exc:
            if isinstance(exc, TimeoutError):
                exc = TimeoutError(f"no WebSocket handshake with {self.url} within {self.open_timeout} s")
            self._lost = True
            _open_clients.discard(self)
            if self._transport is not None:
                self._transport.abort()
            if not self._opening.done():  # tell concurrent open() callers too
                if isinstance(exc, asyncio.CancelledError):
                    self._opening.cancel()
                else:
                    self._opening.set_exception(exc)
                    self._opening.exception()  # mark it retrieved
            raise exc from None
        return self

    def _on_head(self, data: bytes) -> None:
        """Bytes during the handshake: feed them until the 101, then hand what follows to the codec."""
        assert self._opening is not None and self._transport is not None
        try:
            response = self._handshake.feed(data)
        except HandshakeError as exc:
            self._transport.abort()
            if not self._opening.done():
                self._opening.set_exception(exc)
            return
        if response is None:
            return
        self._upgraded = True
        self.subprotocol = self._handshake.subprotocol
        self.response_headers = response.headers
        if self._rec:
            peer = self._transport.get_extra_info("peername")
            remote = f"{peer[0]}:{peer[1]}" if peer else ""
            request, status = self._handshake.request, f"HTTP/1.1 {response.status_code} {response.reason_phrase}"
            answered = list(response.headers.raw_items())
            self._rec.event(
                ConnectionOpened(
                    time.time(), self.id, remote, request.path, self.subprotocol, url=self.url,
                    request_line=f"GET {request.path} HTTP/1.1", request_headers=list(request.headers.raw_items()),
                    status_line=status, response_headers=answered,
                    extensions=response.headers.get("Sec-WebSocket-Extensions"),
                )
            )  # fmt: skip
        self._opening.set_result(None)
        if self.ping_interval:
            self._timer("keepalive", self.ping_interval, self._on_keepalive)
        leftover = self._handshake.leftover()
        if leftover:
            self._proto.receive_data(leftover)
            self._process()

    # -- closing --------------------------------------------------------------------------------------

    def close(self, code: int = 1000, reason: str = "") -> Awaitable[None]:
        """Close: send a close frame, wait for the server's and for TCP to end (at most close_timeout); idempotent.

        Example:
            client.close(1000, "bye")
            client.close_code, client.closed_by
        """
        if not close_code_allowed(code):
            raise ValueError(f"close code {code} may not be sent (RFC 6455 7.4); send_raw(0x8, ...) sends it anyway")
        encode_close_payload(code, reason)  # checks the reason's length here, in the caller's thread
        return runtime.bridge(self._close(code, reason))

    async def _close(self, code: int, reason: str) -> None:
        if not self._upgraded:
            if self._transport is not None:
                self._transport.abort()  # still opening: give up; open() raises
            self._lost = True
            return
        proto = self._proto
        if not self._lost and proto.close_sent is None and proto.failure is None:
            proto.close_sent = (code, reason)
            self._emit(FrameType.CLOSE, encode_close_payload(code, reason))
            self._flush()
            if self.close_code is None:
                self.close_code, self.close_reason, self.closed_by = code, reason, "client"
            self._timer("close", self.close_timeout, self._abort)
        if self._reading_paused and self._transport is not None:
            self._reading_paused = False
            self._transport.resume_reading()  # the server's close frame may be behind unread data
        await self.wait_closed()

    def wait_closed(self) -> Awaitable[None]:
        """Wait until the TCP connection is gone."""
        return runtime.bridge(self._wait_closed())

    async def _wait_closed(self) -> None:
        if self._closed is not None and not self._lost:
            await asyncio.shield(self._closed)

    def _on_close_frame(self, code: int, reason: str) -> None:
        if self.close_code is None:
            self.close_code, self.close_reason, self.closed_by = code, reason, "server"
        if self._proto.close_sent is None:
            # Echo the code (none for 1005), then wait for the server to close TCP (RFC 6455 7.1.1).
            answer = None if code == 1005 else code
            self._proto.close_sent = (answer, "")
            self._emit(FrameType.CLOSE, encode_close_payload(answer))
            self._timer("close", self.close_timeout, self._abort)

    def _fail(self, exc: ProtocolError) -> None:
        """The server broke the protocol: close with the error's code (RFC 6455 7.1.7)."""
        self.close_code, self.close_reason, self.closed_by = exc.code, str(exc)[:123], "client"
        if self._rec and exc.code == 1009:
            self._rec.event(LimitHit(time.time(), self.id, "max_message_size", self._proto.max_message_size, 1009))
        if self._proto.close_sent is None:
            reason = str(exc).encode("utf-8")[:123].decode("utf-8", "ignore")
            self._proto.close_sent = (exc.code, reason)
            self._emit(FrameType.CLOSE, encode_close_payload(exc.code, reason))
        self._timer("close", self.close_timeout, self._abort)

    def _abort(self) -> None:
        if not self._lost and self._transport is not None:
            self._flush()
            self._transport.abort()

    def _on_lost(self) -> None:
        _open_clients.discard(self)
        if self._lost:
            return
        self._lost = True
        for handle in self._timers.values():
            handle.cancel()
        if self._opening is not None and not self._opening.done():
            try:
                self._handshake.feed_eof()  # a refusal whose body ends with the connection
                error: BaseException = HandshakeError("the server closed the connection during the handshake", 0)
            except HandshakeError as exc:
                error = exc
            self._opening.set_exception(error)
            return
        if self.close_code is None:
            received = self._proto.close_received
            self.close_code, self.close_reason = received if received else (1006, "")
            self.closed_by = "server"
        if self._rec:
            clean = self._proto.close_received is not None and self._proto.close_sent is not None
            by = self.closed_by or "server"
            self._rec.event(ConnectionClosedRecord(time.time(), self.id, self.close_code, self.close_reason, by, clean))
        self._end()
        self._set_write_paused(False)
        if self._closed is not None and not self._closed.done():
            self._closed.set_result(None)

    def _closed_error(self) -> ConnectionClosed:
        code = self.close_code if self.close_code is not None else 1006
        return ConnectionClosed(code, self.close_reason, self.closed_by == "server")

    # -- keepalive ------------------------------------------------------------------------------------

    def _on_keepalive(self) -> None:
        """Every ping_interval: ping, unless the previous keepalive ping still waits for its pong."""
        assert self.ping_interval
        if self._proto.state is not State.OPEN:
            return  # closing: the close timer takes it from here
        self._timer("keepalive", self.ping_interval, self._on_keepalive)
        if self._keepalive_data is not None:
            return
        self._keepalive_data = f"wsplay keepalive {next(self._pings)}".encode()
        self._later_pings.clear()
        self._emit(FrameType.PING, self._keepalive_data)
        self._timer("pong", self.ping_timeout or self.ping_interval, self._on_pong_timeout)

    def _on_pong_timeout(self) -> None:
        if self._proto.state is not State.OPEN:
            return
        if self._reading_paused:  # the pong may be waiting behind unread frames: not the server's fault
            self._timer("pong", self.ping_timeout or self.ping_interval or 1.0, self._on_pong_timeout)
            return
        self.close_code, self.close_reason, self.closed_by = 1011, "keepalive ping timeout", "client"
        if self._proto.close_sent is None:
            self._proto.close_sent = (1011, self.close_reason)
            self._emit(FrameType.CLOSE, encode_close_payload(1011, self.close_reason))
        self._abort()

    def _timer(self, name: str, delay: float, callback: Callable[[], None]) -> None:
        self._cancel(name)
        if not self._lost:
            self._timers[name] = asyncio.get_running_loop().call_later(delay, callback)

    def _cancel(self, name: str) -> None:
        handle = self._timers.pop(name, None)
        if handle is not None:
            handle.cancel()

    # -- context managers -----------------------------------------------------------------------------

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


class _Stream(asyncio.BufferedProtocol):
    """The asyncio side of a Client: a small buffer for the HTTP answer, then the codec's own buffer."""

    def __init__(self, client: Client) -> None:
        self.client = client
        self._head = bytearray(4096)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.client._transport = transport

    def get_buffer(self, sizehint: int) -> memoryview:
        if self.client._upgraded:
            return self.client._proto.get_buffer(sizehint)
        return memoryview(self._head)

    def buffer_updated(self, nbytes: int) -> None:
        if self.client._upgraded:
            self.client._on_data(nbytes)
        else:
            self.client._on_head(bytes(self._head[:nbytes]))

    def eof_received(self) -> bool | None:
        return None  # the server closed its side: close ours too

    def connection_lost(self, exc: Exception | None) -> None:
        self.client._on_lost()

    def pause_writing(self) -> None:
        self.client._set_write_paused(True)

    def resume_writing(self) -> None:
        self.client._set_write_paused(False)


async def close_all(code: int = 1001, reason: str = "going away", timeout: float | None = None) -> None:
    """Close every wsplay client of this process that is still open (what `wsplay.stop_all()` ends with).

    Each gets the close handshake within its own close_timeout; with `timeout`, those still open after
    that many seconds are dropped (at interpreter exit a server that does not answer must not hold it up).
    """
    clients = [c for c in list(_open_clients) if not c._lost]
    if not clients:
        return
    tasks = [asyncio.ensure_future(c._close(code, reason)) for c in clients]
    _, pending = await asyncio.wait(tasks, timeout=timeout)
    if pending:
        for c in clients:
            c._abort()
        await asyncio.wait(pending, timeout=1.0)
    for task in tasks:  # a client that failed to close is closed all the same: nothing to report
        if task.done() and not task.cancelled():
            task.exception()


def connect(url: str, **options: Any) -> Client:
    """Connect to a WebSocket server and return the open client (options as for `Client`).

    Raises:
        HandshakeError: the server refused the upgrade ("server answered 404: ...").
        OSError: nothing listens there. TimeoutError: no handshake within open_timeout.
    Example:
        client = wsplay.connect(host.url)
        client.send("hello"); client.receive_text(timeout=1)
    """
    return runtime.run_sync(Client(url, **options)._open())


def connect_async(url: str, **options: Any) -> Awaitable[Client]:
    """`connect()` for `await`, from any loop or thread.

    Example:
        client = await wsplay.connect_async(host.url)
        async for frame in client: print(frame)
    """
    return runtime.bridge(Client(url, **options)._open())
