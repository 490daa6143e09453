"""The opening handshake, on websockets' Sans-I/O HTTP parsing and key/accept, plus the checks it leaves to us.

Server side: websockets' `ServerProtocol` checks the method (405), the HTTP version (505), Connection and
Upgrade (426), the key (400, duplicates included) and negotiates subprotocols (`process_request()`; a
refusal's answer comes from its `accept()`; the 101 is written here from a template, the same bytes
`accept()` would write). It leaves the Host header to the caller and answers a wrong version with 400;
RFC 6455 4.2.2 wants 426 with `Sec-WebSocket-Version: 13`, so those two are done here.
permessage-deflate is negotiated here too (wsplay.protocol.deflate): an offer that is declined is
left out of the answer, and the handshake goes on.

Client side: `ClientHandshake` builds the request with websockets' `ClientProtocol` (a fresh key each
time) and parses the answer itself over a `StreamReader`, so frames the server sends right behind the
101 stay with the caller as leftover; `ClientProtocol.process_response` then checks the accept key,
the upgrade headers and the subprotocol. permessage-deflate is offered and its answer checked here
(wsplay.protocol.deflate), so websockets sees neither.
"""

from __future__ import annotations

import dataclasses
import email.utils
import functools
import http
from collections.abc import Iterable, Mapping, Sequence
from typing import NamedTuple

from websockets.client import ClientProtocol
from websockets.datastructures import Headers, MultipleValuesError
from websockets.exceptions import HeaderLineTooLong, InvalidHandshake, InvalidURI, RequestLineTooLong, TooManyHeaders
from websockets.http11 import Request, Response
from websockets.server import ServerProtocol
from websockets.streams import StreamReader
from websockets.typing import Origin, Subprotocol
from websockets.uri import WebSocketURI, parse_uri

from wsplay.errors import HandshakeError, InvalidState
from wsplay.protocol.deflate import Compression, Negotiated, client_accept, client_offer, server_negotiate

__all__ = [
    "Accepted",
    "ClientHandshake",
    "Request",
    "RequestReader",
    "Response",
    "accept",
    "check_host",
    "error_response",
    "http_response",
    "is_upgrade",
    "parse_headers",
]

MAX_REQUEST_SIZE = 16 * 1024


class RequestReader:
    """Collect the bytes of an HTTP request head until it is complete.

    Args:
        max_size: the most bytes a request head may take before it is answered with 431.
    """

    def __init__(self, max_size: int = MAX_REQUEST_SIZE) -> None:
        self.max_size = max_size
        self._reader = StreamReader()
        self._parser = Request.parse(self._reader.read_line)
        self._received = 0
        self._raw = bytearray()  # what was fed: head() is its first part

    def feed(self, data: bytes | bytearray | memoryview) -> Request | None:
        """Add bytes; return the request once its head is complete, else None.

        Raises:
            HandshakeError: the bytes are not an acceptable HTTP request (400, 414 or 431).
        """
        self._received += len(data)
        self._raw += data
        self._reader.feed_data(bytes(data))
        try:
            next(self._parser)
        except StopIteration as done:
            # The head may complete inside one large read: measure it, not the reads, so the limit
            # does not depend on how the bytes were chunked.
            if self._received - len(self._reader.buffer) > self.max_size:
                raise HandshakeError(f"request head exceeds {self.max_size} bytes", 431) from None
            return done.value
        except RequestLineTooLong as exc:
            raise HandshakeError(f"request line too long: {exc}", 414) from None
        except (HeaderLineTooLong, TooManyHeaders) as exc:
            raise HandshakeError(f"request header fields too large: {exc}", 431) from None
        except Exception as exc:  # websockets raises ValueError, UnicodeDecodeError, NotImplementedError
            raise HandshakeError(f"malformed HTTP request: {exc}", 400) from None
        if self._received > self.max_size:
            raise HandshakeError(f"request head exceeds {self.max_size} bytes", 431)
        return None

    def leftover(self) -> bytes:
        """Bytes received after the request head (a client may send frames right behind it)."""
        return bytes(self._reader.buffer)

    def head(self) -> bytes:
        """The request head as received, up to its blank line (once feed() returned the request)."""
        return bytes(self._raw[: len(self._raw) - len(self._reader.buffer)])


def parse_headers(head: bytes) -> Headers:
    """The headers of a request head that RequestReader accepted, decoded as websockets decodes them."""
    headers = Headers()
    for line in head.split(b"\r\n")[1:]:
        if line:
            name, _, value = line.partition(b":")
            # validated by the reader already: set as websockets' own parser sets them (obs-text as ISO-8859-1)
            headers.set_insecure(name.decode("ascii"), value.strip(b" \t").decode("iso-8859-1"))
    return headers


def is_upgrade(request: Request) -> bool:
    """Tell a WebSocket upgrade attempt from a plain HTTP request."""
    return "Upgrade" in request.headers or "Sec-WebSocket-Key" in request.headers


def _single(headers: Headers, name: str) -> str | None:
    try:
        return headers.get(name)
    except MultipleValuesError:
        raise HandshakeError(f"duplicate {name} header", 400) from None


def check_host(request: Request) -> None:
    """HTTP/1.1 requires exactly one Host header (RFC 9112 3.2)."""
    if not _single(request.headers, "Host"):
        raise HandshakeError("missing Host header (RFC 9112 3.2)", 400)


@functools.lru_cache(maxsize=64)
def _acceptor(subprotocols: tuple[str, ...]) -> ServerProtocol:
    """One ServerProtocol per subprotocol list, reused: building one per handshake cost more than the
    rest of accept(), and nothing is read back from it but the response accept() returns."""
    return ServerProtocol(subprotocols=[Subprotocol(name) for name in subprotocols] or None)


class Accepted(NamedTuple):
    """A request accepted: the 101 to send and what it agreed to."""

    response: bytes
    subprotocol: str | None
    extension: Negotiated | None  # permessage-deflate's parameters, when agreed
    declined: list[str]  # why extension offers were declined, for the record


def accept(
    request: Request,
    subprotocols: Sequence[str] | None = None,
    date: str | None = None,
    compression: Compression | None = None,
) -> Accepted:
    """Check an upgrade request and build the 101 response.

    `date` is the Date header's value (a server formats it once per second); now, when not given.
    `compression` is the endpoint's permessage-deflate settings (None declines every offer).

    Raises:
        HandshakeError: with the status and headers to answer with.
    """
    check_host(request)
    version = _single(request.headers, "Sec-WebSocket-Version")
    if version is not None and version != "13":
        raise HandshakeError(
            f"unsupported WebSocket version {version!r}; this server speaks 13 (RFC 6455 4.4)",
            426,
            {"Sec-WebSocket-Version": "13"},
        )
    protocol = _acceptor(tuple(subprotocols or ()))
    try:
        # websockets' own checks and negotiation; the 101 is then written from a template (a Headers
        # object, a Response and a fresh Date per handshake cost more than the checks themselves).
        accept_header, _, subprotocol = protocol.process_request(request)
    except Exception:
        # Refused: accept() runs the same checks again and maps the failure to its HTTP answer.
        response = protocol.accept(request)
        # accept() keeps the failure on the protocol object, which is shared: its traceback would hold
        # the caller's frames, and with them the refused connection, until the next refusal.
        protocol.handshake_exc = None
        detail = response.body.decode("utf-8", "replace").strip().removeprefix("Failed to open a WebSocket connection: ")
        extra = {k: v for k, v in response.headers.raw_items() if k in ("Allow", "Upgrade")}
        raise HandshakeError(detail.rstrip("."), response.status_code, extra) from None
    lines = [
        "HTTP/1.1 101 Switching Protocols",
        f"Date: {date or email.utils.formatdate(usegmt=True)}",
        "Upgrade: websocket",
        "Connection: Upgrade",
        f"Sec-WebSocket-Accept: {accept_header}",
    ]
    if subprotocol is not None:
        lines.append(f"Sec-WebSocket-Protocol: {subprotocol}")
    extension: Negotiated | None = None
    declined: list[str] = []
    if compression is not None:
        extension, declined = server_negotiate(request.headers.get_all("Sec-WebSocket-Extensions"), compression)
        if extension is not None:
            lines.append(f"Sec-WebSocket-Extensions: {extension.header()}")
    return Accepted(("\r\n".join(lines) + "\r\n\r\n").encode(), subprotocol, extension, declined)


def http_response(
    status: int,
    body: bytes | str = b"",
    content_type: str = "text/plain; charset=utf-8",
    headers: dict[str, str] | None = None,
) -> bytes:
    """Serialize a plain HTTP response that ends the connection."""
    if isinstance(body, str):
        body = body.encode("utf-8")
    status_obj = http.HTTPStatus(status)
    out = Headers(
        [
            ("Date", email.utils.formatdate(usegmt=True)),
            ("Connection", "close"),
            ("Content-Type", content_type),
            ("Content-Length", str(len(body))),
        ]
    )
    for name, value in (headers or {}).items():
        out[name] = value
    return Response(status_obj.value, status_obj.phrase, out, body).serialize()


def error_response(exc: HandshakeError) -> bytes:
    """The HTTP answer to a failed handshake: the status, its headers and a one-line explanation."""
    return http_response(exc.status, f"Failed to open a WebSocket connection: {exc}.\n", headers=exc.headers)


# -- client side ------------------------------------------------------------------------------------


class ClientHandshake:
    """The client's opening handshake: the request to send, then the server's answer, fed as it arrives.

    Args:
        url: a ws:// or wss:// URL.
        origin: the Origin header to send, if any.
        subprotocols: subprotocols to offer, in order of preference.
        headers: extra request headers (a mapping or (name, value) pairs).

    Raises:
        ValueError: the URL is not a WebSocket URL.
    """

    def __init__(
        self,
        url: str,
        *,
        origin: str | None = None,
        subprotocols: Sequence[str] = (),
        headers: Mapping[str, str] | Iterable[tuple[str, str]] | None = None,
        compression: Compression | None = None,
    ) -> None:
        try:
            self.uri: WebSocketURI = parse_uri(url)
        except InvalidURI as exc:
            raise ValueError(str(exc)) from None
        self.compression = compression
        # extensions=None for websockets: the offer and the answer's check are wsplay's (deflate.py).
        self._protocol = ClientProtocol(
            self.uri,
            origin=Origin(origin) if origin is not None else None,
            subprotocols=[Subprotocol(p) for p in subprotocols] or None,
        )
        self.request = self._protocol.connect()
        if compression is not None:
            self.request.headers["Sec-WebSocket-Extensions"] = client_offer(compression)
        pairs = headers.items() if isinstance(headers, Mapping) else headers or ()
        for name, value in pairs:
            self.request.headers[name] = value
        self.extension: Negotiated | None = None
        self._reader = StreamReader()
        self._parser = Response.parse(self._reader.read_line, self._reader.read_exact, self._reader.read_to_eof)
        self.response: Response | None = None
        self.subprotocol: str | None = None

    def request_bytes(self) -> bytes:
        """The upgrade request, ready to write."""
        return self.request.serialize()

    def feed(self, data: bytes | bytearray | memoryview) -> Response | None:
        """Add bytes from the server; return its 101 response once complete, else None.

        Raises:
            HandshakeError: the server refused the upgrade (`status` is its HTTP status and the message
                carries the body: "server answered 404: ..."), or its answer is not a valid upgrade
                (`status` 101) or not HTTP at all (`status` 0).
        """
        if self.response is not None:
            raise InvalidState("the handshake is complete; read the rest with leftover()")
        self._reader.feed_data(bytes(data))
        return self._step()

    def feed_eof(self) -> Response | None:
        """Say the server closed the connection (a refusal's body may be delimited by EOF)."""
        if self.response is not None:
            return self.response
        self._reader.feed_eof()
        return self._step()

    def leftover(self) -> bytes:
        """Bytes received after the response head: frames the server sent right behind its 101."""
        return bytes(self._reader.buffer)

    def _step(self) -> Response | None:
        try:
            next(self._parser)
        except StopIteration as done:
            response: Response = done.value
        except EOFError:
            raise HandshakeError("the server closed the connection before answering the upgrade", 0) from None
        except Exception as exc:  # ValueError, LookupError, SecurityError, NotImplementedError from websockets
            raise HandshakeError(f"the server's answer is not valid HTTP: {exc}", 0) from None
        else:
            return None
        if response.status_code != 101:
            body = bytes(response.body).decode("utf-8", "replace").strip()
            body = " ".join(body.split())[:300] or response.reason_phrase
            headers = {k: v for k, v in response.headers.raw_items()}
            raise HandshakeError(f"server answered {response.status_code}: {body}", response.status_code, headers)
        self.extension = client_accept(response.headers.get_all("Sec-WebSocket-Extensions"), self.compression)
        # websockets checks the rest; it was offered no extension, so it must not see the answer's.
        rest = Headers((k, v) for k, v in response.headers.raw_items() if k.lower() != "sec-websocket-extensions")
        try:
            self._protocol.process_response(dataclasses.replace(response, headers=rest))
        except InvalidHandshake as exc:
            raise HandshakeError(f"invalid upgrade response: {exc}", 101) from None
        self.response = response
        self.subprotocol = self._protocol.subprotocol
        return response
