"""Shared helpers for the engine tests: real sockets on 127.0.0.1, bytes made by hand.

Every timeout is a multiple of UNIT (seconds; raise WSPLAY_TEST_UNIT on a slow machine). Frames
sent to the server are built here with `struct`, never with wsplay's encoder, so the engine is not
only checked against its own codec.

Plain helpers are offered through the `wire` fixture: test directories have no `__init__.py`, so
importing `conftest` by name would pick whichever directory's conftest pytest loaded last.
"""

from __future__ import annotations

import base64
import os
import socket
import struct
import time
from collections.abc import Callable, Iterator

import pytest

from wsplay import Host, Websocket
from wsplay.examples import build_example

UNIT = float(os.environ.get("WSPLAY_TEST_UNIT", "1.0"))

KEY = base64.b64encode(b"wsplay-test-key!").decode()  # 16 bytes, as RFC 6455 4.1 asks


# -- building client frames by hand -----------------------------------------------------------------


def mask_frame(
    opcode: int,
    payload: bytes = b"",
    fin: bool = True,
    rsv: int = 0,
    mask: bytes = b"\x01\x02\x03\x04",
    masked: bool = True,
    length_override: int | None = None,
) -> bytes:
    """Encode one client frame (RFC 6455 5.2) without wsplay's code.

    Args:
        rsv: the three reserved bits as a number 0-7 (4 is RSV1, 2 is RSV2, 1 is RSV3).
        length_override: the length to declare in the header instead of len(payload).
    """
    b0 = (0x80 if fin else 0) | (rsv & 7) << 4 | (opcode & 0x0F)
    length = len(payload) if length_override is None else length_override
    mask_bit = 0x80 if masked else 0
    if length < 126:
        head = struct.pack("!BB", b0, mask_bit | length)
    elif length < 1 << 16:
        head = struct.pack("!BBH", b0, mask_bit | 126, length)
    else:
        head = struct.pack("!BBQ", b0, mask_bit | 127, length)
    if not masked:
        return head + payload
    body = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return head + mask + body


def close_payload(code: int, reason: bytes | str = b"") -> bytes:
    if isinstance(reason, str):
        reason = reason.encode("utf-8")
    return struct.pack("!H", code) + reason


def upgrade_request(
    port: int,
    *,
    method: str = "GET",
    path: str = "/",
    version: str = "HTTP/1.1",
    host: bool = True,
    key: str | None | list[str] = KEY,
    ws_version: str | None = "13",
    upgrade: bool = True,
    extra: list[tuple[str, str]] | None = None,
) -> bytes:
    """The bytes of an HTTP upgrade request; each argument breaks one part of it."""
    lines = [f"{method} {path} {version}"]
    if host:
        lines.append(f"Host: 127.0.0.1:{port}")
    if upgrade:
        lines += ["Upgrade: websocket", "Connection: Upgrade"]
    for k in [key] if isinstance(key, str) else key or []:
        lines.append(f"Sec-WebSocket-Key: {k}")
    if ws_version is not None and upgrade:
        lines.append(f"Sec-WebSocket-Version: {ws_version}")
    for name, value in extra or []:
        lines.append(f"{name}: {value}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("ascii")


# -- a raw client -------------------------------------------------------------------------------------


class HttpAnswer:
    """A parsed HTTP response head (and body, when the server ended the connection)."""

    def __init__(self, head: bytes, body: bytes) -> None:
        text = head.decode("latin-1")
        first, *rest = text.split("\r\n")
        self.status_line = first
        self.status = int(first.split(" ")[1])
        self.headers: dict[str, str] = {}
        for line in rest:
            if line:
                name, _, value = line.partition(":")
                self.headers[name.strip().lower()] = value.strip()
        self.body = body

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    def __repr__(self) -> str:
        return f"<HttpAnswer {self.status_line!r} {self.headers} {self.body[:80]!r}>"


class ServerFrame:
    def __init__(self, fin: bool, rsv: int, opcode: int, masked: bool, payload: bytes) -> None:
        self.fin, self.rsv, self.opcode, self.masked, self.payload = fin, rsv, opcode, masked, payload

    @property
    def close(self) -> tuple[int | None, str]:
        """(code, reason) of a close frame, parsed by hand; code None when the payload is empty."""
        assert self.opcode == 8, f"not a close frame: {self!r}"
        if not self.payload:
            return None, ""
        (code,) = struct.unpack("!H", self.payload[:2])
        return code, self.payload[2:].decode("utf-8")

    def __repr__(self) -> str:
        return f"<ServerFrame op={self.opcode} fin={self.fin} rsv={self.rsv} masked={self.masked} {self.payload[:60]!r}>"


class RawClient:
    """A TCP client that speaks RFC 6455 by hand, for input no well-behaved client would send."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=2 * UNIT)
        self.buf = bytearray()
        self.eof = False

    # bytes
    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def _fill(self, deadline: float) -> bool:
        """Read more bytes; False on EOF. Raises TimeoutError past the deadline."""
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("no bytes from the server in time")
        self.sock.settimeout(left)
        try:
            chunk = self.sock.recv(65536)
        except socket.timeout:
            raise TimeoutError("no bytes from the server in time") from None
        except ConnectionResetError:
            chunk = b""
        if not chunk:
            self.eof = True
            return False
        self.buf += chunk
        return True

    def _take(self, n: int, deadline: float) -> bytes:
        while len(self.buf) < n:
            if not self._fill(deadline):
                raise EOFError(f"EOF after {len(self.buf)} of {n} bytes")
        out = bytes(self.buf[:n])
        del self.buf[:n]
        return out

    # HTTP
    def read_http(self, timeout: float = 2 * UNIT, body_until_eof: bool = False) -> HttpAnswer:
        deadline = time.monotonic() + timeout
        while b"\r\n\r\n" not in self.buf:
            if not self._fill(deadline):
                raise EOFError(f"EOF inside the HTTP head: {bytes(self.buf)!r}")
        head, _, rest = bytes(self.buf).partition(b"\r\n\r\n")
        self.buf = bytearray(rest)
        answer = HttpAnswer(head, b"")
        length = answer.header("content-length")
        if length is not None:
            answer.body = self._take(int(length), deadline)
        elif body_until_eof:
            answer.body = self.read_until_eof(timeout)
        return answer

    def handshake(self, request: bytes | None = None) -> HttpAnswer:
        """Send an upgrade request (a good one by default) and read the answer head; assert 101."""
        self.send(request if request is not None else upgrade_request(self.port))
        answer = self.read_http()
        assert answer.status == 101, answer
        return answer

    # frames
    def read_frame(self, timeout: float = 2 * UNIT) -> ServerFrame:
        deadline = time.monotonic() + timeout
        b0, b1 = self._take(2, deadline)
        length = b1 & 0x7F
        if length == 126:
            (length,) = struct.unpack("!H", self._take(2, deadline))
        elif length == 127:
            (length,) = struct.unpack("!Q", self._take(8, deadline))
        masked = bool(b1 & 0x80)
        key = self._take(4, deadline) if masked else b""
        payload = self._take(length, deadline)
        if masked:
            payload = bytes(b ^ key[i % 4] for i, b in enumerate(payload))
        return ServerFrame(bool(b0 & 0x80), (b0 >> 4) & 7, b0 & 0x0F, masked, payload)

    def read_close(self, timeout: float = 2 * UNIT, data: list[bytes] | None = None) -> tuple[int | None, str]:
        """Read frames up to the server's close frame; return its (code, reason).

        Control frames before it are skipped; data frames fail the test unless their payloads are
        exactly the ones listed in `data` (echoes the server was right to send first).
        """
        deadline = time.monotonic() + timeout
        expected = list(data or [])
        while True:
            frame = self.read_frame(max(deadline - time.monotonic(), 0.001))
            if frame.opcode == 8:
                assert not expected, f"the server closed before sending {expected!r}"
                return frame.close
            if frame.opcode in (1, 2) and expected:
                assert frame.payload == expected.pop(0), frame
                continue
            assert frame.opcode in (9, 10), f"expected a close frame, got {frame!r}"

    def read_until_eof(self, timeout: float = 3 * UNIT) -> bytes:
        """Read everything until the server closes TCP; raise TimeoutError when it does not in time."""
        deadline = time.monotonic() + timeout
        while not self.eof:
            self._fill(deadline)
        out = bytes(self.buf)
        self.buf.clear()
        return out

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass


class Wire:
    """The helpers above, handed out by the `wire` fixture."""

    UNIT = UNIT
    KEY = KEY
    mask_frame = staticmethod(mask_frame)
    close_payload = staticmethod(close_payload)
    upgrade_request = staticmethod(upgrade_request)
    RawClient = RawClient


@pytest.fixture
def wire() -> type[Wire]:
    return Wire


@pytest.fixture
def raw_client() -> Iterator[Callable[[int], RawClient]]:
    """A factory of raw clients; every one is closed after the test."""
    clients: list[RawClient] = []

    def make(port: int) -> RawClient:
        client = RawClient(port)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


def start_host(builder, **options) -> Host:
    """Start a host on a free port with test-sized timeouts."""
    host = Host.create().handler(builder).port(0).close_timeout(2 * UNIT).handshake_timeout(3 * UNIT)
    if options.get("development"):
        host.development()
    if "keepalive" in options:
        host.keepalive(*options["keepalive"])
    return host.start()


@pytest.fixture
def hosts() -> Iterator[Callable[..., Host]]:
    """A factory: `hosts(builder, development=True, keepalive=(i, t))`; every host is stopped after the test."""
    started: list[Host] = []

    def make(builder, **options) -> Host:
        host = start_host(builder, **options)
        started.append(host)
        return host

    yield make
    for host in started:
        host.stop()


@pytest.fixture
def echo_host(hosts) -> Host:
    """The functional echo example on a free port."""
    return hosts(build_example("echo", "functional"))


@pytest.fixture
def limited_host(hosts) -> Host:
    """A functional echo that refuses messages over 1024 bytes."""

    async def echo(connection, frame):
        await connection.write(frame.data, frame.type)

    return hosts(Websocket.functional().on_message(echo).on_binary(echo).max_message_size(1024))
