"""The raw side of the wire, shared by the test directories: client frames and requests built by hand,
a blocking TCP client that speaks HTTP and RFC 6455 itself, and a reader of what the server sent.

Nothing here uses wsplay's own codec, so the engine is never only checked against itself. Every
timeout is a multiple of UNIT (seconds; raise WSPLAY_TEST_UNIT on a slow machine). The conftests
import this module (pyproject puts tests/ on the path) and hand the helpers to tests as fixtures.
"""

from __future__ import annotations

import base64
import hashlib
import re
import socket
import struct
import threading
import time
from collections.abc import Callable
from typing import Any

from testenv import UNIT

KEY = base64.b64encode(b"wsplay-test-key!").decode()  # 16 bytes, as RFC 6455 4.1 asks
GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


# -- bytes made by hand ---------------------------------------------------------------------------


def mask_frame(
    opcode: int,
    payload: bytes = b"",
    fin: bool = True,
    rsv: int = 0,
    mask: bytes = b"\x37\xfa\x21\x3d",
    masked: bool = True,
    length_override: int | None = None,
) -> bytes:
    """Encode one client frame (RFC 6455 5.2).

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
    n = len(payload)
    key = int.from_bytes((mask * (n // 4 + 1))[:n], "big") if n else 0
    body = (int.from_bytes(payload, "big") ^ key).to_bytes(n, "big") if n else b""
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
    host: bool | str = True,
    key: str | None | list[str] = KEY,
    ws_version: str | None = "13",
    upgrade: bool = True,
    origin: str | None = None,
    extra: list[tuple[str, str]] | None = None,
) -> bytes:
    """The bytes of an HTTP upgrade request, valid by default; each argument changes one part of it.

    Args:
        host: True sends `Host: 127.0.0.1:<port>`, a string sends that, False sends none.
        key: one key, several (each its own header line), or None for none.
    """
    lines = [f"{method} {path} {version}"]
    if host:
        lines.append(f"Host: {host if isinstance(host, str) else f'127.0.0.1:{port}'}")
    if upgrade:
        lines += ["Upgrade: websocket", "Connection: Upgrade"]
    for k in [key] if isinstance(key, str) else key or []:
        lines.append(f"Sec-WebSocket-Key: {k}")
    if ws_version is not None and upgrade:
        lines.append(f"Sec-WebSocket-Version: {ws_version}")
    if origin is not None:
        lines.append(f"Origin: {origin}")
    for name, value in extra or []:
        lines.append(f"{name}: {value}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


# -- what the server sent -------------------------------------------------------------------------


def parse_server_frames(data: bytes) -> tuple[list[tuple[int, int, bool, bytes]], bytes]:
    """Split bytes from the server into frames: [(b0, opcode, masked, payload)], and the incomplete rest."""
    frames = []
    pos = 0
    while True:
        if len(data) - pos < 2:
            break
        b0, b1 = data[pos], data[pos + 1]
        length = b1 & 0x7F
        p = pos + 2
        if length == 126:
            if len(data) - p < 2:
                break
            (length,) = struct.unpack("!H", data[p : p + 2])
            p += 2
        elif length == 127:
            if len(data) - p < 8:
                break
            (length,) = struct.unpack("!Q", data[p : p + 8])
            p += 8
        masked = bool(b1 & 0x80)
        if masked:
            p += 4
        if len(data) - p < length:
            break
        frames.append((b0, b0 & 0x0F, masked, data[p : p + length]))
        pos = p + length
    return frames, data[pos:]


def close_code_of(payload: bytes) -> int | None:
    return struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else None


class HttpAnswer:
    """A parsed HTTP response head and its body (Content-Length, or up to EOF when asked)."""

    def __init__(self, head: bytes, body: bytes) -> None:
        first, *rest = head.decode("latin-1").split("\r\n")
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
        return f"<HttpAnswer {self.status_line!r} {self.headers} {self.body[:120]!r}>"


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


# -- a blocking raw client ------------------------------------------------------------------------


class RawClient:
    """A TCP client that speaks HTTP and RFC 6455 by hand, for input no well-behaved client would send.

    Args:
        rcvbuf: a small receive window, set before connecting, stops the kernel from absorbing
            megabytes on behalf of a client that does not read.
    """

    def __init__(self, port: int, rcvbuf: int | None = None, address: str = "127.0.0.1") -> None:
        self.port = port
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf is not None:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.settimeout(2 * UNIT)
        self.sock.connect((address, port))
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

    def reset(self) -> None:
        """Close with SO_LINGER 0: the kernel sends RST instead of FIN."""
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.sock.close()

    @property
    def local_port(self) -> int:
        return self.sock.getsockname()[1]

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass


# -- a scripted raw server --------------------------------------------------------------------------


def accept_key(key: bytes) -> bytes:
    """Sec-WebSocket-Accept for a Sec-WebSocket-Key (RFC 6455 4.2.2)."""
    return base64.b64encode(hashlib.sha1(key + GUID).digest())


def switching_protocols(key: bytes, *extra: bytes) -> bytes:
    """The right 101 answer head for `key`, with extra header lines."""
    lines = [b"HTTP/1.1 101 Switching Protocols", b"Upgrade: websocket", b"Connection: Upgrade", b"Sec-WebSocket-Accept: " + accept_key(key), *extra]
    return b"\r\n".join(lines)


def server_frame(opcode: int, payload: bytes = b"", fin: bool = True, rsv: int = 0, mask: bytes | None = None, length_override: int | None = None) -> bytes:
    """Encode one frame as a server would (unmasked), or masked on purpose with `mask`."""
    return mask_frame(opcode, payload, fin, rsv, mask=mask or b"\0\0\0\0", masked=mask is not None, length_override=length_override)


class RawServer:
    """A scripted server: completes one opening handshake by hand, sends `after_101` right behind the 101,
    then only listens (to see the exact bytes a client sends, and to stay silent on purpose).

    Args:
        after_101: bytes to send right behind the answer (frames made with `server_frame`, or any bytes).
        answer: a function of the request's Sec-WebSocket-Key giving the whole HTTP answer head
            (without the blank line), to answer a handshake wrongly; the right 101 by default.
    """

    GUID = GUID

    def __init__(self, after_101: bytes = b"", answer: Callable[[bytes], bytes] | None = None) -> None:
        self.after_101 = after_101
        self.answer = answer
        self.received = bytearray()
        self.eof = threading.Event()
        self._stop = threading.Event()
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(0.05)
        self.url = f"ws://127.0.0.1:{self.listener.getsockname()[1]}/"
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _recv(self, conn: socket.socket) -> bytes | None:
        """Bytes, b"" at EOF, or None when nothing came in 50 ms."""
        try:
            return conn.recv(65536)
        except socket.timeout:
            return None
        except OSError:
            return b""

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.listener.accept()
                break
            except socket.timeout:
                continue
        else:
            return
        conn.settimeout(0.05)
        head = b""
        with conn:
            while b"\r\n\r\n" not in head and not self._stop.is_set():
                chunk = self._recv(conn)
                if chunk == b"":
                    return
                head += chunk or b""
            head, _, rest = head.partition(b"\r\n\r\n")
            found = re.search(rb"(?im)^sec-websocket-key:\s*(\S+)", head)
            assert found, head
            self.request = head
            answer = (self.answer or switching_protocols)(found.group(1))
            conn.sendall(answer + b"\r\n\r\n" + self.after_101)
            self.received += rest
            while not self._stop.is_set():
                chunk = self._recv(conn)
                if chunk == b"":
                    break
                self.received += chunk or b""
        self.eof.set()

    def frames(self) -> list[tuple[int, bytes | None, bytes]]:
        """The client frames received so far, decoded by hand: (first byte, mask key, unmasked payload)."""
        out, data, pos = [], bytes(self.received), 0
        while len(data) - pos >= 2:
            b0, b1 = data[pos], data[pos + 1]
            length, p = b1 & 0x7F, pos + 2
            if length == 126:
                (length,), p = struct.unpack("!H", data[p : p + 2]), p + 2
            elif length == 127:
                (length,), p = struct.unpack("!Q", data[p : p + 8]), p + 8
            key = data[p : p + 4] if b1 & 0x80 else None
            p += 4 if key else 0
            if len(data) < p + length:
                break
            body = data[p : p + length]
            out.append((b0, key, bytes(b ^ key[i % 4] for i, b in enumerate(body)) if key else body))
            pos = p + length
        return out

    def stop(self) -> None:
        self._stop.set()
        self.thread.join(5 * UNIT)
        self.listener.close()


def wait_for(predicate: Callable[[], Any], timeout: float, step: float = 0.01) -> bool:
    """Poll `predicate` until it is true (True) or `timeout` seconds have passed (False)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(step)
    return True
