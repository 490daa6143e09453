"""A listening WebSocket server: routes, the set of live connections, and graceful shutdown."""

from __future__ import annotations

import asyncio
import collections
import ipaddress
import logging
import socket as socketlib
import time
from collections.abc import Callable
from typing import Protocol

from wsplay.engine.settings import ServerOptions, Settings
from wsplay.engine.socket import SocketConnection
from wsplay.engine.transport import WebsocketTransport
from wsplay.observe import (
    ConnectionClosedRecord,
    ConnectionOpened,
    HandlerErrorRecord,
    LimitHit,
    LoopBlocked,
    Recorder,
    Refused,
    parse_head,
)

__all__ = ["Endpoint", "HandlerError", "Server"]

log = logging.getLogger("wsplay")


def _is_loopback(address: str) -> bool:
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


class Endpoint(Protocol):
    """What a flavor hands the engine: its settings and a coroutine that serves one connection."""

    settings: Settings

    async def serve(self, connection: SocketConnection) -> None: ...


class HandlerError:
    """A handler exception, kept for the caller: which connection, what, and the traceback."""

    __slots__ = ("connection_id", "exception", "traceback")

    def __init__(self, connection_id: int, exception: BaseException, traceback: str) -> None:
        self.connection_id = connection_id
        self.exception = exception
        self.traceback = traceback

    def __repr__(self) -> str:
        return f"<HandlerError connection {self.connection_id}: {self.exception!r}>"


class Server:
    """Serve WebSocket endpoints on one listening socket, on the running loop.

    Args:
        routes: path -> endpoint; the path "*" catches every path without its own route.
        options: timeouts, keepalive, development mode.
    """

    def __init__(self, routes: dict[str, Endpoint], options: ServerOptions, recorder: Recorder | None = None) -> None:
        self.routes = dict(routes)
        self.options = options
        self.recorder = recorder if recorder is not None and recorder.enabled else None
        self._watchdog: asyncio.Task[None] | None = None
        self.loopback = True  # listening on loopback addresses only (set by start)
        self.connections: dict[int, SocketConnection] = {}
        self.handler_tasks: set[asyncio.Task[None]] = set()  # the task serving each connection
        self.errors: collections.deque[HandlerError] = collections.deque(maxlen=100)
        self.listeners: list[Callable[[str, SocketConnection, object], None]] = []
        self._transports: set[WebsocketTransport] = set()
        # Connections still in the HTTP phase -> the loop time their request head is due by, oldest
        # first: one timer for all of them instead of one per connection (handshakes are many and short).
        self._handshaking: dict[WebsocketTransport, float] = {}
        self._sweep: asyncio.TimerHandle | None = None
        self._server: asyncio.Server | None = None
        self.loop: asyncio.AbstractEventLoop | None = None  # the loop it serves on (set by start)
        self.running = False

    def resolve(self, path: str) -> Endpoint | None:
        endpoint = self.routes.get(path)
        if endpoint is None:
            endpoint = self.routes.get("*")
        return endpoint

    async def start(self, host: str, port: int) -> int:
        """Listen; return the port actually bound (useful with port 0).

        Raises:
            OSError: the address cannot be bound.
        """
        self.loop = loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            lambda: WebsocketTransport(self), host, port, reuse_address=True, backlog=1024
        )
        self.running = True
        self.loopback = all(_is_loopback(sock.getsockname()[0]) for sock in self._server.sockets)
        if self.options.development and self.recorder is not None:
            self._watchdog = loop.create_task(self._watch())
        sock = self._server.sockets[0]
        return int(sock.getsockname()[1])

    async def _watch(self) -> None:
        """Development mode: report pumps held by slow handlers, and a loop blocked outright."""
        period = max(0.05, self.options.stall_threshold / 4)
        loop = asyncio.get_running_loop()
        while True:
            before = loop.time()
            await asyncio.sleep(period)
            late = loop.time() - before - period
            if late >= self.options.stall_threshold and self.recorder is not None:
                self.recorder.event(LoopBlocked(time.time(), 0, late))
            for conn in list(self.connections.values()):
                conn.check_stall()

    def _await_request(self, transport: WebsocketTransport) -> None:
        """A new TCP connection: give it handshake_timeout seconds to send its request head."""
        loop = self.loop
        assert loop is not None
        deadline = loop.time() + self.options.handshake_timeout
        self._handshaking[transport] = deadline
        if self._sweep is None:
            self._sweep = loop.call_at(deadline, self._sweep_handshakes)

    def _sweep_handshakes(self) -> None:
        """Answer 408 to every connection whose request head is overdue; wait for the next one."""
        self._sweep = None
        pending = self._handshaking
        assert self.loop is not None
        now = self.loop.time()
        while pending:
            transport, deadline = next(iter(pending.items()))
            if deadline > now:
                self._sweep = self.loop.call_at(deadline, self._sweep_handshakes)
                return
            del pending[transport]
            transport.on_handshake_timeout()

    @property
    def sockets(self) -> list[socketlib.socket]:
        return list(self._server.sockets) if self._server is not None else []

    async def stop(self, close_timeout: float | None = None) -> None:
        """Stop listening, close every connection with 1001 and wait for them (at most close_timeout)."""
        self.running = False
        if self._watchdog is not None:
            self._watchdog.cancel()
        if self._sweep is not None:
            self._sweep.cancel()
            self._sweep = None
        if self._server is not None:
            self._server.close()
        timeout = self.options.close_timeout if close_timeout is None else close_timeout
        sockets = list(self.connections.values())
        for conn in sockets:
            try:
                await conn._close(1001, "server shutting down", by_engine=True)
            except Exception:  # a connection mid-failure must not stop the others from closing
                conn._abort(1001)
        for transport in list(self._transports):
            if transport.socket is None and transport.transport is not None:
                transport.transport.abort()  # still in the HTTP phase
        # A handler may itself be stopping the host: never wait for (or cancel) the caller's own task.
        current = asyncio.current_task()
        tasks = [c.task for c in sockets if c.task is not None and c.task is not current]
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=timeout)
            for conn in sockets:
                if conn.task is not current:
                    conn._abort(1001, "server shutting down")
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.wait(pending, timeout=1)
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None

    # -- events ---------------------------------------------------------------------------------

    def _emit(self, kind: str, conn: SocketConnection, detail: object = None) -> None:
        for listener in self.listeners:
            try:
                listener(kind, conn, detail)
            except Exception:  # an observer must never break the server
                log.exception("wsplay listener failed")

    def _on_open(self, conn: SocketConnection, response: bytes = b"") -> None:
        self.connections[conn.id] = conn
        host = conn.remote_address
        where = f"{host[0]}:{host[1]}" if host else "?"
        log.info("connection %s opened from %s on %s", conn.id, where, conn.request.path)
        if self.recorder is not None:
            self.recorder.event(_opened(conn, where, response))
        self._emit("open", conn)

    def _on_close(self, conn: SocketConnection) -> None:
        self.connections.pop(conn.id, None)
        who = "peer" if conn.closed_by_peer else "server"
        reason = f" {conn.close_reason!r}" if conn.close_reason else ""
        log.info("connection %s closed by %s: %s%s", conn.id, who, conn.close_code, reason)
        if self.recorder is not None:
            proto = conn._proto
            clean = proto.close_sent is not None and proto.close_received is not None
            self.recorder.event(
                ConnectionClosedRecord(time.time(), conn.id, conn.close_code or 1006, conn.close_reason, who, clean)
            )
            self.recorder.retire(conn.id)
        self._emit("close", conn)

    def _on_refused(self, status: int, why: str, transport: asyncio.BaseTransport | None) -> None:
        peer = transport.get_extra_info("peername") if transport is not None else None
        where = f"{peer[0]}:{peer[1]}" if peer else "?"
        log.warning("refused a handshake from %s with %s: %s", where, status, why)
        if self.recorder is not None:
            self.recorder.event(Refused(time.time(), 0, status, why, where))
            if status == 503:
                self.recorder.event(LimitHit(time.time(), 0, "connections", self.options.max_connections or 0, 503))

    def _on_handler_error(self, conn: SocketConnection, exc: BaseException, tb: str) -> None:
        error = HandlerError(conn.id, exc, tb)
        self.errors.append(error)
        log.error("connection %s: handler raised %s: %s; closing it with 1011\n%s", conn.id, type(exc).__name__, exc, tb.rstrip())
        if self.recorder is not None:
            self.recorder.event(HandlerErrorRecord(time.time(), conn.id, conn._busy_handler, f"{type(exc).__name__}: {exc}", tb))
        self._emit("error", conn, error)


def _opened(conn: SocketConnection, where: str, response: bytes) -> ConnectionOpened:
    """The open event with the handshake as the panel shows it (request head, the 101 we answered)."""
    request = conn.request
    target = request.path + (f"?{request.query}" if request.query else "")
    headers = list(request.headers.raw_items())
    status, answered = parse_head(response) if response else ("", [])
    host = request.headers.get("Host", "")
    return ConnectionOpened(
        time.time(), conn.id, where, request.path, request.subprotocol,
        url=f"ws://{host}{target}" if host else "",
        request_line=f"{request.method} {target} HTTP/1.1",
        request_headers=headers,
        status_line=status,
        response_headers=answered,
        extensions=dict((k.lower(), v) for k, v in answered).get("sec-websocket-extensions"),
    )  # fmt: skip
