"""The asyncio protocol for one TCP connection: HTTP until the upgrade, then WebSocket frames.

Before the upgrade it collects the request head and answers it (101, the client page, or an HTTP
error); after it, reads go straight into the connection's reusable receive buffer
(`asyncio.BufferedProtocol`), and a task runs the endpoint's handler.
"""

from __future__ import annotations

import asyncio
import email.utils
import ipaddress
import logging
import time
import traceback
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from websockets.datastructures import MultipleValuesError

from wsplay.engine.socket import RequestInfo, SocketConnection
from wsplay.errors import ConnectionClosed, HandshakeError
from wsplay.protocol import handshake

if TYPE_CHECKING:
    from wsplay.engine.server import Endpoint, Server

__all__ = ["WebsocketTransport"]

log = logging.getLogger("wsplay")


_date = (0, "")


def http_date() -> str:
    """The Date header's value, formatted once per second rather than once per handshake."""
    global _date
    now = int(time.time())
    if _date[0] != now:
        _date = (now, email.utils.formatdate(now, usegmt=True))
    return _date[1]


class WebsocketTransport(asyncio.BufferedProtocol):
    """One TCP connection of a Server."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.transport: asyncio.Transport | None = None
        self.socket: SocketConnection | None = None
        self._reader = handshake.RequestReader(server.options.max_request_size)
        self._head = bytearray(4096)
        self._done = False  # an HTTP answer was sent; ignore further bytes

    # -- HTTP phase -------------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.server._transports.add(self)
        self.server._await_request(self)

    def get_buffer(self, sizehint: int) -> memoryview:
        return memoryview(self._head)

    def buffer_updated(self, nbytes: int) -> None:
        if self._done:
            return
        try:
            request = self._reader.feed(memoryview(self._head)[:nbytes])
        except HandshakeError as exc:
            self._answer(handshake.error_response(exc), exc.status, str(exc))
            return
        if request is not None:
            self._on_request(request)

    def on_handshake_timeout(self) -> None:
        """Called by the server when the request head has not arrived in time."""
        if self.socket is None and self.transport is not None and not self._done:
            log.info("closing a client that sent no complete request within %s s", self.server.options.handshake_timeout)
            self._answer(handshake.http_response(408, "request timeout\n"), 408, "handshake timeout")

    def _answer(self, response: bytes, status: int, why: str) -> None:
        self._done = True
        self.server._handshaking.pop(self, None)
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
            server._on_refused(status, why, self.transport)
            return
        try:
            response, subprotocol = handshake.accept(request, endpoint.settings.subprotocols, http_date())
        except HandshakeError as exc:
            self._answer(handshake.error_response(exc), exc.status, str(exc))
            return
        self._upgrade(request, response, subprotocol, endpoint, url.path, url.query)

    def _refusal(self, request: handshake.Request) -> tuple[int, str, dict[str, str]] | None:
        """A foreign Origin gets 403, one client too many 503: (status, why, headers), or None."""
        options = self.server.options
        try:
            origin = request.headers.get("Origin")
            host = request.headers.get("Host")
        except MultipleValuesError as exc:  # checked before accept(), which would answer a duplicate Host the same way
            return 400, f"duplicate {exc.args[0]} header", {}
        why = options.origins.check(origin, host, self.server.loopback or self._arrived_on_loopback())
        if why is not None:
            return 403, why, {}
        limit = options.max_connections
        if limit is not None and len(self.server.connections) >= limit:
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
        elif options.development and options.client_page and routed:
            page = options.client_page if request.method == "GET" else b""
            self._answer(handshake.http_response(200, page, "text/html; charset=utf-8"), 200, "client page")
        elif routed:
            body = "This is a WebSocket endpoint: connect with a WebSocket client (Upgrade: websocket).\n"
            self._answer(handshake.http_response(426, body, headers={"Upgrade": "websocket"}), 426, "plain GET")
        else:
            self._answer(handshake.http_response(404, "not found\n"), 404, "no route")

    def _upgrade(
        self,
        request: handshake.Request,
        response: bytes,
        subprotocol: str | None,
        endpoint: Endpoint,
        path: str,
        query: str,
    ) -> None:
        assert self.transport is not None
        server = self.server
        server._handshaking.pop(self, None)
        info = RequestInfo(
            method=request.method,
            path=path,
            query=query,
            headers=request.headers,
            remote_address=self.transport.get_extra_info("peername"),
            subprotocol=subprotocol,
            server=server,
        )
        socket = SocketConnection(self.transport, info, endpoint.settings, server.options, server.recorder, server.loop)
        self.transport.write(response)
        leftover = self._reader.leftover()
        if leftover:
            socket._proto.receive_data(leftover)
        self._head = bytearray()  # the HTTP phase is over: keep nothing of it per connection
        self._reader = None  # type: ignore[assignment]
        self.socket = socket
        # From here on asyncio reads straight into the connection's buffer.
        self.get_buffer = socket._proto.get_buffer  # type: ignore[method-assign]
        self.buffer_updated = socket.data_received  # type: ignore[method-assign]
        self.pause_writing = socket.pause_writing  # type: ignore[method-assign]
        self.resume_writing = socket.resume_writing  # type: ignore[method-assign]
        server._on_open(socket, response)
        assert server.loop is not None  # a transport exists only while its server runs
        socket.task = task = server.loop.create_task(self._serve(endpoint, socket))
        server.handler_tasks.add(task)
        task.add_done_callback(server.handler_tasks.discard)

    async def _serve(self, endpoint: Endpoint, socket: SocketConnection) -> None:
        try:
            await endpoint.serve(socket)
        except ConnectionClosed:
            pass
        except asyncio.CancelledError:
            socket._abort(1001, "server stopped")
            raise
        except Exception as exc:
            self.server._on_handler_error(socket, exc, traceback.format_exc())
            if not socket._lost and socket._proto.close_sent is None:
                name = type(exc).__name__
                await socket._close(1011, f"handler raised {name}"[:123], by_engine=True)
        finally:
            if not socket._lost:
                try:
                    await socket._finish_close()
                except asyncio.CancelledError:
                    socket._abort(1001, "server stopped")
                    raise
            self.server._on_close(socket)

    # -- both phases ------------------------------------------------------------------------------

    def eof_received(self) -> bool | None:
        return None  # close our side too

    def connection_lost(self, exc: Exception | None) -> None:
        self.server._handshaking.pop(self, None)
        self.server._transports.discard(self)
        if self.socket is not None:
            self.socket.connection_lost(exc)
