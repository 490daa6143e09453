"""A deliberately sloppy echo server and echo client, for the check suite's tests: each is right in
everything but three things (the client's are in `sloppy_client`'s docstring). The server gets wrong, on purpose:

1. masking: it accepts client frames that are not masked;
2. UTF-8: it never checks it (text messages, close reasons);
3. close codes: where it does fail a connection, it says 1000 (normal closure) instead of 1002/1009.

Everything else follows RFC 6455: the opening handshake with its HTTP errors, fragments and control
frames between them, pings, reserved bits and opcodes refused, close codes checked, the close
handshake, the server closing TCP first. It does not negotiate permessage-deflate. Written with
asyncio streams and nothing of wsplay's, it runs on its own loop in a daemon thread.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import struct
import threading

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
LIMIT = 16 << 20


class Fail(Exception):
    """The connection must be failed; this server always says 1000 (defect 3)."""


def valid_code(code: int) -> bool:
    return 1000 <= code <= 1003 or 1007 <= code <= 1014 or 3000 <= code <= 4999


def frame(opcode: int, payload: bytes = b"") -> bytes:
    n = len(payload)
    if n < 126:
        head = struct.pack("!BB", 0x80 | opcode, n)
    elif n < 1 << 16:
        head = struct.pack("!BBH", 0x80 | opcode, 126, n)
    else:
        head = struct.pack("!BBQ", 0x80 | opcode, 127, n)
    return head + payload


def refuse(status: str, extra: str = "") -> bytes:
    return f"HTTP/1.1 {status}\r\nContent-Length: 0\r\nConnection: close\r\n{extra}\r\n".encode()


def handshake(head: bytes) -> tuple[bytes, bool]:
    """The answer to a request head, and whether it upgrades."""
    first, *lines = head.decode("latin-1").split("\r\n")
    parts = first.split(" ")
    headers: dict[str, list[str]] = {}
    for line in lines:
        name, _, value = line.partition(":")
        headers.setdefault(name.strip().lower(), []).append(value.strip())
    tokens = lambda name: [t.strip().lower() for v in headers.get(name, []) for t in v.split(",")]  # noqa: E731
    if len(parts) != 3 or parts[0] != "GET":
        return refuse("405 Method Not Allowed", "Allow: GET\r\n"), False
    if parts[2] != "HTTP/1.1":
        return refuse("505 HTTP Version Not Supported"), False
    if len(headers.get("host", [])) != 1:
        return refuse("400 Bad Request"), False
    if "websocket" not in tokens("upgrade") or "upgrade" not in tokens("connection"):
        return refuse("426 Upgrade Required", "Upgrade: websocket\r\n"), False
    if headers.get("sec-websocket-version") != ["13"]:
        return refuse("426 Upgrade Required", "Sec-WebSocket-Version: 13\r\n"), False
    keys = headers.get("sec-websocket-key", [])
    try:
        ok = len(keys) == 1 and len(base64.b64decode(keys[0], validate=True)) == 16
    except binascii.Error:
        ok = False
    if not ok:
        return refuse("400 Bad Request"), False
    accept = base64.b64encode(hashlib.sha1(keys[0].encode() + GUID).digest()).decode()
    return f"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n\r\n".encode(), True


async def read_frame(reader: asyncio.StreamReader) -> tuple[bool, int, int, bytes]:
    b0, b1 = await reader.readexactly(2)
    n = b1 & 0x7F
    if n == 126:
        (n,) = struct.unpack("!H", await reader.readexactly(2))
    elif n == 127:
        (n,) = struct.unpack("!Q", await reader.readexactly(8))
    if n > LIMIT:
        raise Fail("too big")  # defect 3: 1000, not 1009 (nor 1002 for a length with its top bit set)
    key = await reader.readexactly(4) if b1 & 0x80 else None  # defect 1: no mask is fine too
    data = await reader.readexactly(n)
    if key is not None:
        data = bytes(b ^ key[i % 4] for i, b in enumerate(data))
    return bool(b0 & 0x80), (b0 >> 4) & 7, b0 & 0x0F, data


async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        head = await reader.readuntil(b"\r\n\r\n")
        answer, upgraded = handshake(head[:-4])
        writer.write(answer)
        if not upgraded:
            return
        message: list[bytes] = []
        opcode_open = 0
        while True:
            fin, rsv, opcode, data = await read_frame(reader)
            if rsv or opcode in (3, 4, 5, 6, 7, 11, 12, 13, 14, 15):
                raise Fail("reserved bits or opcode")
            if opcode >= 8:
                if not fin or len(data) > 125:
                    raise Fail("bad control frame")
                if opcode == 9:
                    writer.write(frame(10, data))
                elif opcode == 8:
                    if len(data) == 1:
                        raise Fail("1-byte close")
                    code = struct.unpack("!H", data[:2])[0] if data else None
                    if code is not None and not valid_code(code):
                        raise Fail("close code")
                    # defect 2: the reason is not checked for UTF-8
                    writer.write(frame(8, struct.pack("!H", code) if code is not None else b""))
                    await writer.drain()
                    return  # the server closes TCP first
                continue
            if opcode == 0 and not opcode_open or opcode != 0 and opcode_open:
                raise Fail("fragmentation")
            if opcode:
                opcode_open = opcode
            message.append(data)
            if fin:
                # defect 2: text is echoed without a UTF-8 check
                writer.write(frame(opcode_open, b"".join(message)))
                message, opcode_open = [], 0
            await writer.drain()
    except Fail:
        writer.write(frame(8, struct.pack("!H", 1000)))  # defect 3: always 1000
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
        pass
    finally:
        try:
            await writer.drain()
        except ConnectionError:
            pass
        writer.close()


class SloppyServer:
    """Start the sloppy server on 127.0.0.1 (its own loop in a daemon thread); `stop()` ends it."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        started = threading.Event()
        self.server: asyncio.Server | None = None

        async def main() -> None:
            self.server = await asyncio.start_server(serve, "127.0.0.1", 0)
            started.set()
            await self.server.serve_forever()

        def run() -> None:
            try:
                self.loop.run_until_complete(main())
            except asyncio.CancelledError:
                pass

        self.thread = threading.Thread(target=run, name="sloppy-server", daemon=True)
        self.thread.start()
        started.wait(5)
        assert self.server is not None
        self.url = f"ws://127.0.0.1:{self.server.sockets[0].getsockname()[1]}/"

    def stop(self) -> None:
        async def end() -> None:
            assert self.server is not None
            self.server.close()
            for task in asyncio.all_tasks():
                if task is not asyncio.current_task():
                    task.cancel()

        if self.thread.is_alive():
            asyncio.run_coroutine_threadsafe(end(), self.loop)
        self.thread.join(5)


# -- the client ------------------------------------------------------------------------------------

def sloppy_client(url: str) -> None:
    """A blocking echo client (a driver for wsplay.check.client).

    It gets wrong, on purpose:

    1. masking: it accepts frames the server masked (and unmasks them);
    2. UTF-8: it never checks it (text messages, close reasons);
    3. the handshake: it never checks Sec-WebSocket-Accept.

    Everything else follows RFC 6455: its own frames are masked with fresh keys, reserved bits and opcodes,
    bad control frames and fragments are refused with 1002, close codes are checked, a frame over 16 MiB
    is refused at its header with 1009, pings are answered, and after the close handshake it waits a
    second for the server to close TCP, then closes it. It offers no extension and no subprotocol.
    """
    import os
    import socket
    import urllib.parse

    parts = urllib.parse.urlsplit(url)
    sock = socket.create_connection((parts.hostname, parts.port), timeout=5)
    buf = bytearray()

    def take(n: int) -> bytes:
        while len(buf) < n:
            chunk = sock.recv(65536)
            if not chunk:
                raise EOFError
            buf.extend(chunk)
        out = bytes(buf[:n])
        del buf[:n]
        return out

    def send(opcode: int, payload: bytes = b"") -> None:
        key = os.urandom(4)
        n = len(payload)
        head = struct.pack("!BB", 0x80 | opcode, 0x80 | n) if n < 126 else struct.pack("!BBH", 0x80 | opcode, 0xFE, n) if n < 1 << 16 else struct.pack("!BBQ", 0x80 | opcode, 0xFF, n)
        sock.sendall(head + key + bytes(b ^ key[i % 4] for i, b in enumerate(payload)))

    def fail(code: int) -> None:
        send(8, struct.pack("!H", code))
        sock.close()

    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(f"GET {parts.path or '/'} HTTP/1.1\r\nHost: {parts.netloc}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                 f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode())  # fmt: skip
    while b"\r\n\r\n" not in buf:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed during the handshake")
        buf.extend(chunk)
    head, _, rest = bytes(buf).partition(b"\r\n\r\n")
    buf[:] = rest
    first, *lines = head.decode("latin-1").split("\r\n")
    headers: dict[str, str] = {}
    for line in lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    tokens = lambda name: [t.strip().lower() for t in headers.get(name, "").split(",")]  # noqa: E731
    if first.split(" ")[1:2] != ["101"] or "websocket" not in tokens("upgrade") or "upgrade" not in tokens("connection") \
            or "sec-websocket-protocol" in headers or "sec-websocket-extensions" in headers:  # fmt: skip
        sock.close()
        raise ConnectionError(f"refused: {first}")
    # defect 3: Sec-WebSocket-Accept is not checked
    message: list[bytes] = []
    opcode_open = 0
    try:
        while True:
            b0, b1 = take(2)
            n = b1 & 0x7F
            if n == 126:
                (n,) = struct.unpack("!H", take(2))
            elif n == 127:
                (n,) = struct.unpack("!Q", take(8))
                if n >> 63:
                    return fail(1002)
            if n > LIMIT:
                return fail(1009)
            mask_key = take(4) if b1 & 0x80 else None  # defect 1: a masked server frame is fine too
            data = take(n)
            if mask_key is not None:
                data = bytes(b ^ mask_key[i % 4] for i, b in enumerate(data))
            fin, rsv, opcode = bool(b0 & 0x80), (b0 >> 4) & 7, b0 & 0x0F
            if rsv or opcode in (3, 4, 5, 6, 7, 11, 12, 13, 14, 15):
                return fail(1002)
            if opcode >= 8:
                if not fin or n > 125:
                    return fail(1002)
                if opcode == 9:
                    send(10, data)
                elif opcode == 8:
                    if n == 1:
                        return fail(1002)
                    code = struct.unpack("!H", data[:2])[0] if data else None
                    if code is not None and not valid_code(code):
                        return fail(1002)
                    send(8, struct.pack("!H", code) if code is not None else b"")  # defect 2: the reason is not checked
                    sock.settimeout(1.0)  # then wait a while for the server to close TCP
                    try:
                        while sock.recv(65536):
                            pass
                    except OSError:
                        pass
                    return None
                continue
            if opcode == 0 and not opcode_open or opcode != 0 and opcode_open:
                return fail(1002)
            if opcode:
                opcode_open = opcode
            message.append(data)
            if fin:
                send(opcode_open, b"".join(message))  # defect 2: text is echoed without a UTF-8 check
                message, opcode_open = [], 0
    except (EOFError, OSError):
        return None
    finally:
        sock.close()
