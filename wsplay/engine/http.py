"""One TCP connection until its upgrade: the request head, then an HTTP answer or a WebSocket connection.

The head is collected in a small buffer and answered: 101 (and the transport goes to a
`SocketConnection`, whose stream reads straight into the codec's buffer from then on), the client page,
or an HTTP error that closes the connection.
"""

from __future__ import annotations

import asyncio
import email.utils
import ipaddress
import logging
import time
from collections.abc import Collection, Mapping
from typing import Any, Protocol, cast
from urllib.parse import urlsplit

from websockets.datastructures import MultipleValuesError

from wsplay.engine.connection import Endpoint, RequestInfo, SocketConnection
from wsplay.engine.options import ServerOptions
from wsplay.errors import HandshakeError
from wsplay.observe import ConnectionOpened, Recorder
from wsplay.protocol import handshake

__all__ = ["HttpProtocol", "Listener", "http_date"]

log = logging.getLogger("wsplay")


_date = (0, "")


def http_date() -> str:
    """The Date header's value, formatted once per second rather than once per handshake."""
    global _date
    now = int(time.time())
    if _date[0] != now:
        _date = (now, email.utils.formatdate(now, usegmt=True))
    return _date[1]


class Listener(Protocol):
    """What the HTTP phase needs of the server that accepted the connection (wsplay.engine.Server)."""

    @property
    def options(self) -> ServerOptions: ...

    @property
    def recorder(self) -> Recorder | None: ...

    @property
    def loop(self) -> asyncio.AbstractEventLoop | None: ...

    @property
    def loopback(self) -> bool: ...

    @property
    def connections(self) -> Mapping[int, SocketConnection]: ...

    @property
    def handler_tasks(self) -> Collection[asyncio.Task[Any]]: ...

    @property
    def running(self) -> bool: ...

    @property
    def tls_in_listener(self) -> bool: ...

    def resolve(self, path: str) -> Endpoint | None: ...

    def track_handshake(self, protocol: HttpProtocol) -> None: ...

    def answered(self, protocol: HttpProtocol) -> None: ...

    def handshake_over(self, protocol: HttpProtocol) -> None: ...

    def refused(self, status: int, why: str, transport: asyncio.BaseTransport | None) -> None: ...

    def tls_failed(self, why: str, peer: Any) -> None: ...

    def task_failed(self, connection: Any, exc: BaseException, tb: str) -> None: ...

    def serve(self, connection: SocketConnection, endpoint: Endpoint) -> None: ...


class HttpProtocol(asyncio.BufferedProtocol):
    """The HTTP phase of one TCP connection of a server."""

    def __init__(self, server: Listener) -> None:
        self.server = server
        self.transport: asyncio.Transport | None = None
        self._reader: handshake.RequestReader | None = handshake.RequestReader(server.options.max_request_size)
        self._head = bytearray(4096)
        self._done = False  # an HTTP answer was sent, or the connection was upgraded: ignore further bytes
        self._tls: asyncio.Task[None] | None = None  # the TLS handshake, while it runs
        self._early: handshake.Request | None = None  # a request complete before that task resumed

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        transport = cast(asyncio.Transport, transport)  # uvloop's transports are not asyncio.Transport subclasses
        self.transport = transport
        self.server.track_handshake(self)  # the deadline covers the TLS handshake too
        context = self.server.options.tls
        if context is not None and not self.server.tls_in_listener:
            transport.pause_reading()  # not a byte as HTTP before TLS has it (start_tls resumes)
            assert self.server.loop is not None
            self._tls = self.server.loop.create_task(self._start_tls(transport, context))

    async def _start_tls(self, transport: asyncio.Transport, context: Any) -> None:
        """TLS first: a failure (garbage, plain HTTP on the TLS port, a client that stalls) is an event, not a traceback."""
        assert self.server.loop is not None
        try:
            tls = await self.server.loop.start_tls(
                transport, self, context, server_side=True, ssl_handshake_timeout=self.server.options.handshake_timeout
            )
        except (OSError, TimeoutError, ValueError) as exc:  # ssl.SSLError is an OSError
            self._tls_failed(transport, f"TLS handshake failed: {exc or type(exc).__name__} (plain HTTP on a TLS port?)")
            return
        finally:
            self._tls = None
        if tls is None or self._done:
            transport.abort()
            return
        self.transport = tls
        if self._early is not None:
            request, self._early = self._early, None
            self._on_request(request)

    def _tls_failed(self, transport: asyncio.Transport, why: str) -> None:
        if self._done:
            return
        self._done = True
        self.server.handshake_over(self)  # asyncio tells no connection_lost for a handshake that never completed
        self.server.tls_failed(why, transport.get_extra_info("peername"))
        transport.abort()

    def get_buffer(self, sizehint: int) -> memoryview:
        return memoryview(self._head)

    def buffer_updated(self, nbytes: int) -> None:
        if self._done or self._reader is None:
            return
        try:
            request = self._reader.feed(memoryview(self._head)[:nbytes])
        except HandshakeError as exc:
            self._answer(handshake.error_response(exc), exc.status, str(exc))
            return
        if request is not None:
            if self._tls is not None:  # the request came before start_tls() handed back the TLS transport
                self._early = request
            else:
                self._on_request(request)

    def eof_received(self) -> bool | None:
        return None  # close our side too

    def connection_lost(self, exc: Exception | None) -> None:
        self.server.handshake_over(self)

    def timed_out(self) -> None:
        """The server says the request head has not arrived in time."""
        if self._tls is not None and self.transport is not None:  # still in the TLS handshake: no HTTP to answer with
            self._tls.cancel()
            self._tls_failed(self.transport, f"no TLS handshake within {self.server.options.handshake_timeout} s")
            return
        if self.transport is not None and not self._done:
            log.info("closing a client that sent no complete request within %s s", self.server.options.handshake_timeout)
            self._answer(handshake.http_response(408, "request timeout\n"), 408, "handshake timeout")

    def abort(self) -> None:
        """Drop the connection (the server is stopping)."""
        if self._tls is not None:
            self._tls.cancel()
        if self.transport is not None:
            self.transport.abort()

    def _answer(self, response: bytes, status: int, why: str) -> None:
        self._done = True
        self.server.answered(self)
        assert self.transport is not None
        self.transport.write(response)
        self.transport.close()
        if status >= 400:
            log.debug("answered %s: %s", status, why)

    def _on_request(self, request: handshake.Request) -> None:
        server = self.server
        url = urlsplit(request.path)
        endpoint = server.resolve(url.path)
        if not handshake.is_upgrade(request):
            self._plain_http(request, endpoint is not None)
            return
        if endpoint is None:
            self._answer(handshake.http_response(404, f"no WebSocket endpoint at {url.path}\n"), 404, "no route")
            return
        refusal = self._refusal(request)
        if refusal is not None:
            status, why, headers = refusal
            self._answer(handshake.http_response(status, why + "\n", headers=headers), status, why)
            server.refused(status, why, self.transport)
            return
        settings = endpoint.settings
        try:
            accepted = handshake.accept(request, settings.subprotocols, http_date(), settings.compression)
        except HandshakeError as exc:
            self._answer(handshake.error_response(exc), exc.status, str(exc))
            return
        self._upgrade(request, accepted, endpoint, url.path, url.query)

    def _refusal(self, request: handshake.Request) -> tuple[int, str, dict[str, str]] | None:
        """A foreign Origin gets 403, one client too many 503: (status, why, headers), or None."""
        server = self.server
        options = server.options
        try:
            origin = request.headers.get("Origin")
            host = request.headers.get("Host")
        except MultipleValuesError as exc:  # checked before accept(), which would answer a duplicate Host the same way
            return 400, f"duplicate {exc.args[0]} header", {}
        why = options.origins.check(origin, host, server.loopback or self._arrived_on_loopback())
        if why is not None:
            return 403, why, {}
        limit = options.max_connections
        if limit is not None and len(server.connections) >= limit:
            return 503, f"this server is at its limit of {limit} connections; try again later", {"Retry-After": "5"}
        return None

    def _arrived_on_loopback(self) -> bool:
        """True when this connection came in on a loopback address (also when the server listens on all).

        A page whose name was rebound to 127.0.0.1 reaches a server on 0.0.0.0 that way: there, as on a
        loopback-only server, "same host" must be a local name or an IP address, never a mere name.
        """
        assert self.transport is not None
        local = self.transport.get_extra_info("sockname")
        try:
            address = ipaddress.ip_address(local[0]) if local else None
        except ValueError:
            return False
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        return address is not None and address.is_loopback

    def _plain_http(self, request: handshake.Request, routed: bool) -> None:
        try:
            handshake.check_host(request)
        except HandshakeError as exc:
            self._answer(handshake.error_response(exc), exc.status, str(exc))
            return
        options = self.server.options
        if request.method not in ("GET", "HEAD"):
            self._answer(handshake.http_response(405, "only GET\n", headers={"Allow": "GET"}), 405, "method")
        elif options.client_page and routed:  # development() or page() chose a page
            page = options.client_page if request.method == "GET" else b""
            self._answer(handshake.http_response(200, page, "text/html; charset=utf-8"), 200, "client page")
        elif routed:
            body = "This is a WebSocket endpoint: connect with a WebSocket client (Upgrade: websocket).\n"
            self._answer(handshake.http_response(426, body, headers={"Upgrade": "websocket"}), 426, "plain GET")
        else:
            self._answer(handshake.http_response(404, "not found\n"), 404, "no route")

    def _upgrade(self, request: handshake.Request, accepted: handshake.Accepted, endpoint: Endpoint, path: str, query: str) -> None:
        transport = self.transport
        reader = self._reader
        assert transport is not None and reader is not None
        server = self.server
        self._done = True
        server.handshake_over(self)
        peer = transport.get_extra_info("peername")
        subprotocol = accepted.subprotocol
        info = RequestInfo(
            method=request.method,
            path=path,
            query=query,
            headers=reader.head(),  # parsed again only if the handler reads request.headers
            remote_address=peer,
            subprotocol=subprotocol,
            server=server,
        )
        connection = SocketConnection(info, endpoint.settings, server.options, server.recorder, server.handler_tasks, server.task_failed)
        transport.write(accepted.response)
        opened = None
        if server.recorder is not None:
            opened = _opened(connection, info, request.headers.get("Host", ""), peer, accepted.response)
        assert server.loop is not None  # a transport exists only while its server runs
        # From here on the connection's stream is the transport's protocol and reads into its codec.
        connection.attach(transport, server.loop, opened, reader.leftover(), accepted.extension)
        self._head = bytearray()  # the HTTP phase is over: keep nothing of it
        self._reader = None
        server.serve(connection, endpoint)


def _opened(connection: SocketConnection, request: RequestInfo, host: str, peer: Any, response: bytes) -> ConnectionOpened:
    """The open event with the handshake as the panel shows it (the request head, the 101 we answered)."""
    where = f"{peer[0]}:{peer[1]}" if peer else "?"
    target = request.path + (f"?{request.query}" if request.query else "")
    scheme = "wss" if connection.options.tls is not None else "ws"  # type: ignore[attr-defined]
    return ConnectionOpened(
        time.time(), connection.id, where, request.path, request.subprotocol,
        url=f"{scheme}://{host}{target}" if host else "",
        request_line=f"{request.method} {target} HTTP/1.1",
        request_head=request.head,
        response_head=response,
    )  # fmt: skip
