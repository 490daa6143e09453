"""A listening WebSocket server: routes, the set of live connections, and graceful shutdown."""

from __future__ import annotations

import asyncio
import collections
import ipaddress
import logging
import socket as socketlib
import time
import traceback
from typing import Any

from wsplay.engine.connection import Endpoint, SocketConnection
from wsplay.engine.http import HttpProtocol
from wsplay.engine.options import ServerOptions
from wsplay.errors import ConnectionClosed
from wsplay.observe import HandlerErrorRecord, LimitHit, LoopBlocked, Recorder, Refused

__all__ = ["HandlerError", "Server"]

log = logging.getLogger("wsplay")


def _is_loopback(address: str) -> bool:
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


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
        self.tls_in_listener = False  # TLS done by the listener, not in the HTTP phase (set by start)
        self.connections: dict[int, SocketConnection] = {}
        self.handler_tasks: set[asyncio.Task[Any]] = set()  # the task serving each connection
        self.errors: collections.deque[HandlerError] = collections.deque(maxlen=100)
        self._http: set[HttpProtocol] = set()  # TCP connections in the HTTP phase, until upgraded or gone
        # Those whose request head is not answered yet -> the loop time it is due by, oldest first: one
        # timer for all of them instead of one per connection (handshakes are many and short).
        self._pending: dict[HttpProtocol, float] = {}
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
        # On asyncio's own loop TLS runs in the HTTP phase (start_tls), where a failed handshake
        # becomes an event. Other loops (uvloop) may hand a connection's first bytes to the protocol
        # before start_tls() can take them: there the listener does TLS itself, and a failed
        # handshake is dropped (quietly still) without an event.
        tls = self.options.tls
        self.tls_in_listener = tls is not None and not isinstance(loop, asyncio.BaseEventLoop)
        self._server = await loop.create_server(
            lambda: HttpProtocol(self),
            host,
            port,
            reuse_address=True,
            backlog=1024,
            ssl=tls if self.tls_in_listener else None,
            ssl_handshake_timeout=self.options.handshake_timeout if self.tls_in_listener else None,
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

    @property
    def handshaking(self) -> int:
        """TCP connections still in the HTTP phase (not upgraded, and not closed yet)."""
        return len(self._http)

    def track_handshake(self, protocol: HttpProtocol) -> None:
        """A new TCP connection: give it handshake_timeout seconds to send its request head."""
        loop = self.loop
        assert loop is not None
        deadline = loop.time() + self.options.handshake_timeout
        self._http.add(protocol)
        self._pending[protocol] = deadline
        if self._sweep is None:
            self._sweep = loop.call_at(deadline, self._sweep_handshakes)

    def answered(self, protocol: HttpProtocol) -> None:
        """That connection's request head was answered: no timeout for it any more."""
        self._pending.pop(protocol, None)

    def handshake_over(self, protocol: HttpProtocol) -> None:
        """The HTTP phase of that connection is over: upgraded, or the connection is gone."""
        self._pending.pop(protocol, None)
        self._http.discard(protocol)

    def _sweep_handshakes(self) -> None:
        """Answer 408 to every connection whose request head is overdue; wait for the next one."""
        self._sweep = None
        pending = self._pending
        assert self.loop is not None
        now = self.loop.time()
        while pending:
            protocol, deadline = next(iter(pending.items()))
            if deadline > now:
                self._sweep = self.loop.call_at(deadline, self._sweep_handshakes)
                return
            del pending[protocol]
            protocol.timed_out()

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
        for protocol in list(self._http):
            protocol.abort()  # still in the HTTP phase
        self._pending.clear()
        connections = list(self.connections.values())
        # Every client gets 1001 at once; the close handshakes then run side by side.
        closing = [asyncio.ensure_future(c.shutdown(1001, "server shutting down")) for c in connections]
        # A handler may itself be stopping the host: never wait for (or cancel) the caller's own task.
        current = asyncio.current_task()
        tasks = [c.task for c in connections if c.task is not None and c.task is not current]
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=timeout)
            for conn in connections:
                if conn.task is not current:
                    await conn.abort()
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.wait(pending, timeout=1)
        if closing:
            await asyncio.wait(closing, timeout=1)
            for fut in closing:  # retrieved: a close that failed is a connection already gone
                if fut.done() and not fut.cancelled():
                    fut.exception()
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None

    # -- connections ----------------------------------------------------------------------------

    def serve(self, connection: SocketConnection, endpoint: Endpoint) -> None:
        """A connection was upgraded: keep it, and run the endpoint's handler for it in a task."""
        self.connections[connection.id] = connection
        if log.isEnabledFor(logging.INFO):  # the arguments alone cost a handshake something
            peer = connection.remote_address
            log.info("connection %s opened from %s on %s", connection.id, f"{peer[0]}:{peer[1]}" if peer else "?", connection.request.path)
        assert self.loop is not None
        connection.task = task = self.loop.create_task(self._serve(endpoint, connection))
        self.handler_tasks.add(task)
        task.add_done_callback(self.handler_tasks.discard)

    async def _serve(self, endpoint: Endpoint, connection: SocketConnection) -> None:
        try:
            await endpoint.serve(connection)
        except ConnectionClosed:
            pass
        except asyncio.CancelledError:
            await connection.abort()
            raise
        except Exception as exc:
            self._on_handler_error(connection, exc, traceback.format_exc())
            await connection.shutdown(1011, f"handler raised {type(exc).__name__}"[:123])
        finally:
            try:
                if connection.state != "closed":  # a handler that returned without closing: close for it
                    await connection.close()
            except asyncio.CancelledError:
                await connection.abort()
                raise
            finally:
                self._on_close(connection)

    def _on_close(self, conn: SocketConnection) -> None:
        self.connections.pop(conn.id, None)
        if log.isEnabledFor(logging.INFO):
            reason = f" {conn.close_reason!r}" if conn.close_reason else ""
            log.info("connection %s closed by the %s: %s%s", conn.id, conn.closed_by, conn.close_code, reason)

    def refused(self, status: int, why: str, transport: asyncio.BaseTransport | None) -> None:
        """A handshake was refused (403 origin, 503 limit): log it and record it."""
        peer = transport.get_extra_info("peername") if transport is not None else None
        where = f"{peer[0]}:{peer[1]}" if peer else "?"
        log.warning("refused a handshake from %s with %s: %s", where, status, why)
        if self.recorder is not None:
            self.recorder.event(Refused(time.time(), 0, status, why, where))
            if status == 503:
                self.recorder.event(LimitHit(time.time(), 0, "connections", self.options.max_connections or 0, 503))

    def tls_failed(self, why: str, peer: Any) -> None:
        """A TLS handshake failed or stalled: that connection is dropped, quietly, and recorded."""
        where = f"{peer[0]}:{peer[1]}" if peer else "?"
        log.info("dropped %s: %s", where, why)
        if self.recorder is not None:
            self.recorder.event(Refused(time.time(), 0, 0, why, where))

    def task_failed(self, connection: Any, exc: BaseException, tb: str) -> None:
        """A task a handler spawned raised (the connection recorded it): keep it in `errors` too."""
        self.errors.append(HandlerError(connection.id, exc, tb))

    def _on_handler_error(self, conn: SocketConnection, exc: BaseException, tb: str) -> None:
        error = HandlerError(conn.id, exc, tb)
        self.errors.append(error)
        log.error("connection %s: handler raised %s: %s; closing it with 1011\n%s", conn.id, type(exc).__name__, exc, tb.rstrip())
        if self.recorder is not None:
            self.recorder.event(HandlerErrorRecord(time.time(), conn.id, conn.handler_name, f"{type(exc).__name__}: {exc}", tb))
