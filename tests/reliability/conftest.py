"""Shared helpers for the reliability tests: hostile input, slow and vanishing peers, load, limits.

Every test runs on 127.0.0.1 (port 0) and is bounded in time: each timeout is a multiple of UNIT
(seconds; raise WSPLAY_TEST_UNIT on a slow machine). Frames sent to the server are built by hand
with `struct` (never with wsplay's encoder); the healthy peer is the `websockets` client, so the
engine is never only checked against its own codec. Hosts, sockets, threads and load processes are
owned by fixtures and cleaned up after each test, whatever happened in it.

Plain helpers are handed out by the `rel` fixture: test directories have no `__init__.py`, so a
test cannot import this conftest by name.
"""

from __future__ import annotations

import asyncio
import base64
import gc
import os
import random
import socket
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from websockets.sync.client import connect

from wsplay import Host, Websocket

UNIT = float(os.environ.get("WSPLAY_TEST_UNIT", "1.0"))

KEY = base64.b64encode(b"wsplay-rel-key!!").decode()  # 16 bytes, as RFC 6455 4.1 asks
HERE = Path(__file__).resolve().parent
LOADGEN = HERE / "loadgen.py"


# -- bytes made by hand ---------------------------------------------------------------------------------


def mask_frame(
    opcode: int,
    payload: bytes = b"",
    fin: bool = True,
    rsv: int = 0,
    mask: bytes = b"\x37\xfa\x21\x3d",
    masked: bool = True,
    length_override: int | None = None,
) -> bytes:
    """Encode one client frame (RFC 6455 5.2) without wsplay's code."""
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


def upgrade_request(
    port: int,
    *,
    path: str = "/",
    host: str | None = None,
    origin: str | None = None,
    extra: list[tuple[str, str]] | None = None,
) -> bytes:
    """The bytes of a valid HTTP upgrade request, with an optional Origin and extra headers."""
    lines = [
        f"GET {path} HTTP/1.1",
        f"Host: {host or f'127.0.0.1:{port}'}",
        "Upgrade: websocket",
        "Connection: Upgrade",
        f"Sec-WebSocket-Key: {KEY}",
        "Sec-WebSocket-Version: 13",
    ]
    if origin is not None:
        lines.append(f"Origin: {origin}")
    for name, value in extra or []:
        lines.append(f"{name}: {value}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


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


# -- a blocking raw client ------------------------------------------------------------------------------


class HttpAnswer:
    """A parsed HTTP response head and its body (Content-Length)."""

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


class RawClient:
    """A TCP client that speaks HTTP and RFC 6455 by hand."""

    def __init__(self, port: int, rcvbuf: int | None = None, address: str = "127.0.0.1") -> None:
        self.port = port
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf is not None:  # before connect(): a small window stops the kernel from absorbing megabytes
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.settimeout(2 * UNIT)
        self.sock.connect((address, port))
        self.buf = bytearray()
        self.eof = False

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def _fill(self, deadline: float) -> bool:
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

    def read_http(self, timeout: float = 2 * UNIT) -> HttpAnswer:
        deadline = time.monotonic() + timeout
        while b"\r\n\r\n" not in self.buf:
            if not self._fill(deadline):
                raise EOFError(f"EOF inside the HTTP head: {bytes(self.buf)!r}")
        head, _, rest = bytes(self.buf).partition(b"\r\n\r\n")
        self.buf = bytearray(rest)
        answer = HttpAnswer(head, b"")
        length = answer.header("content-length")
        if length is not None:
            while len(self.buf) < int(length):
                if not self._fill(deadline):
                    break
            answer.body, self.buf = bytes(self.buf[: int(length)]), self.buf[int(length) :]
        return answer

    def handshake(self, request: bytes | None = None) -> HttpAnswer:
        self.send(request if request is not None else upgrade_request(self.port))
        answer = self.read_http()
        assert answer.status == 101, answer
        return answer

    def read_until_eof(self, timeout: float = 3 * UNIT) -> bytes:
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


# -- waiting, memory, peers -----------------------------------------------------------------------------


def wait_for(predicate: Callable[[], Any], timeout: float, step: float = 0.01) -> bool:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(step)
    return True


def rss_mib() -> float:
    """This process's resident set size (VmRSS from /proc/self/status), in MiB, after a collection."""
    gc.collect()
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


def ws_client(url: str, **kwargs: Any):
    """A `websockets` sync client with test-sized timeouts (the independent, well-behaved peer)."""
    kwargs.setdefault("open_timeout", 3 * UNIT)
    kwargs.setdefault("close_timeout", 2 * UNIT)
    return connect(url, **kwargs)


def check_echo(ws: Any, rng: random.Random, rounds: int = 1) -> int:
    """Send random text and binary messages on a websockets client; assert each echo byte for byte."""
    for _ in range(rounds):
        size = rng.choice([0, 1, 125, 126, 1000, 65535, 65536, 200_000]) if rng.random() < 0.2 else rng.randint(0, 4000)
        if rng.random() < 0.5:
            message: str | bytes = "".join(rng.choice("aé€😀z ") for _ in range(size // 3))
        else:
            message = rng.randbytes(size)
        ws.send(message)
        answer = ws.recv(timeout=5 * UNIT)
        assert type(answer) is type(message) and answer == message, "echo was lost or corrupted"
    return rounds


def echo_builder():
    """An echo endpoint independent of the examples module: text as text, binary as binary."""

    async def echo(connection, frame):
        await connection.write(frame.data, frame.type)

    return Websocket.functional().on_message(echo).on_binary(echo)


class AsyncThread:
    """An asyncio loop on its own thread for client-side load that must not share wsplay's loop."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="reliability-load", daemon=True)
        self.thread.start()

    def run(self, coro: Any, timeout: float) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def close(self) -> None:
        async def cancel_all() -> None:
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        try:
            asyncio.run_coroutine_threadsafe(cancel_all(), self.loop).result(5 * UNIT)
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(5 * UNIT)
            if not self.thread.is_alive():
                self.loop.close()


class Rel:
    """The helpers above, handed out by the `rel` fixture."""

    UNIT = UNIT
    KEY = KEY
    LOADGEN = LOADGEN
    mask_frame = staticmethod(mask_frame)
    upgrade_request = staticmethod(upgrade_request)
    parse_server_frames = staticmethod(parse_server_frames)
    close_code_of = staticmethod(close_code_of)
    RawClient = RawClient
    wait_for = staticmethod(wait_for)
    rss_mib = staticmethod(rss_mib)
    ws_client = staticmethod(ws_client)
    check_echo = staticmethod(check_echo)
    echo_builder = staticmethod(echo_builder)


@pytest.fixture
def rel() -> type[Rel]:
    return Rel


# -- owned resources ------------------------------------------------------------------------------------


@pytest.fixture
def hosts() -> Iterator[Callable[..., Host]]:
    """A factory of hosts on 127.0.0.1:0 with test-sized timeouts: `hosts(builder, configure=None)`.

    `configure(host)` may set more options before `start()`; pass `start=False` to get it unstarted
    (it is stopped after the test all the same).
    """
    made: list[Host] = []

    def make(builder=None, configure: Callable[[Host], Any] | None = None, start: bool = True) -> Host:
        host = Host.create().handler(builder or echo_builder()).port(0).close_timeout(2 * UNIT).handshake_timeout(3 * UNIT)
        if configure is not None:
            configure(host)
        made.append(host)
        return host.start() if start else host

    yield make
    for host in made:
        host.stop()


@pytest.fixture
def raw_client() -> Iterator[Callable[..., RawClient]]:
    """A factory of raw clients; every one is closed after the test."""
    clients: list[RawClient] = []

    def make(port: int, **kwargs: Any) -> RawClient:
        client = RawClient(port, **kwargs)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


@pytest.fixture
def async_thread() -> Iterator[AsyncThread]:
    """An asyncio loop on a thread of its own, stopped (its tasks cancelled) after the test."""
    runner = AsyncThread()
    yield runner
    runner.close()


@pytest.fixture
def loop_errors() -> Iterator[list[dict]]:
    """Collect what wsplay's loop reports as unhandled (a protocol callback or a task that raised)."""
    from wsplay import runtime

    loop = runtime.get_loop()
    seen: list[dict] = []
    previous = loop.get_exception_handler()
    loop.set_exception_handler(lambda _loop, context: seen.append(context))
    yield seen
    loop.set_exception_handler(previous)


@pytest.fixture
def processes() -> Iterator[Callable[..., subprocess.Popen]]:
    """Start `python loadgen.py ARGS...`; every process still running after the test is killed by its pid."""
    started: list[subprocess.Popen] = []

    def spawn(*args: str) -> subprocess.Popen:
        proc = subprocess.Popen(
            [sys.executable, str(LOADGEN), *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        started.append(proc)
        return proc

    yield spawn
    for proc in started:
        if proc.poll() is None:
            proc.kill()
        try:
            proc.communicate(timeout=5 * UNIT)
        except (subprocess.TimeoutExpired, ValueError):
            pass
