"""Load generator for the benchmark: raw asyncio and plain sockets over 127.0.0.1.

    python benchmarks/loadgen.py --url ws://127.0.0.1:PORT/ --workloads W1,W2 [--server-pid PID]
    python benchmarks/loadgen.py --url ws://127.0.0.1:PORT/ --workloads W8 --receivers 1000   # a chat server

Prints one JSON line per workload. The generator is built not to be the bottleneck:

- every client frame is built (and masked with a fixed key) before the clock starts; a workload
  cycles through a ring of distinct messages so reordering or a stale buffer shows up as a mismatch;
- the bytes a correct server must send back are also precomputed (one unmasked frame per message:
  the echo of a fragmented message comes back merged), so checking an echo byte for byte is one
  `bytes.startswith(chunk, offset)` per received chunk: no per-frame parsing on the hot path;
- many messages are in flight; completions are counted per received chunk and the same number of
  new messages is written back with one `write()`;
- anything unexpected (a mismatch, a close, a lost connection, a bad handshake) is counted as an error
  and described once; the minimal frame parser here is used to say what the server sent instead.

The bytes counted for MB/s are payload bytes echoed (each counted once, not once per direction).
With `--server-pid`, the server's CPU seconds over each timed part give the work per second of
server CPU. W7 compresses (permessage-deflate): the server's compressed echoes cannot be known in
advance, so there each echo is parsed, inflated (zlib, in C) and compared whole; the client's
compressed frames are still all made before the clock starts (see `DeflateCorpus`). W8 drives a
chat server instead of an echo: see `broadcast()`.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import json
import math
import os
import random
import resource
import socket
import statistics
import struct
import sys
import time
import zlib
from collections.abc import Coroutine, Sequence
from typing import Any, NamedTuple
from urllib.parse import urlsplit

MASK = b"\x37\xfa\x21\x3d"
KEY = base64.b64encode(b"wsplay-benchkey!").decode()
ACCEPT = base64.b64encode(hashlib.sha1((KEY + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").encode()).digest())
MIB = 1024 * 1024

# name: (description, defaults). Durations in seconds.
WORKLOADS = {
    "W1": "small echo: 64-byte text, 16 connections, 32 in flight each: messages/s",
    "W2": "latency: 1 connection, 1 in flight: p50/p99 round trip in µs",
    "W3": "large: 1 MiB binary, 1 connection, 4 in flight: MB/s",
    "W4": "fragmented: 1 MiB binary as 64 fragments of 16 KiB, echoed merged: MB/s",
    "W5": "handshakes: open, one echo, close, 8 concurrent: connections/s",
    "W6": "idle: 2,000 open connections: server RSS per connection",
    "W7": "compressed echo: 1-64 KiB JSON-like text, permessage-deflate both ways, 8 connections, 4 in flight each: MB/s",
    "W8": "broadcast: the chat, 1 sender and 1,000 receivers: deliveries/s, then ms until the last receiver has a message",
}
DURATIONS = {"W1": 5.0, "W2": 3.0, "W3": 4.0, "W4": 4.0, "W5": 3.0, "W6": 0.0, "W7": 4.0, "W8": 4.0}
QUICK = {"W1": 1.0, "W2": 0.5, "W3": 1.0, "W4": 1.0, "W5": 1.0, "W6": 0.0, "W7": 1.0, "W8": 1.0}
RECEIVERS = 1000


# -- frames ------------------------------------------------------------------------------------------


def mask(data: bytes, key: bytes = MASK) -> bytes:
    """XOR `data` with the repeated 4-byte key (RFC 6455 5.3), fast enough for MiBs."""
    n = len(data)
    if not n:
        return b""
    keys = (key * (n // 4 + 1))[:n]
    return (int.from_bytes(data, "little") ^ int.from_bytes(keys, "little")).to_bytes(n, "little")


def header(opcode: int, length: int, fin: bool = True, masked: bool = False) -> bytes:
    b0 = (0x80 if fin else 0) | opcode
    m = 0x80 if masked else 0
    if length < 126:
        return struct.pack("!BB", b0, m | length)
    if length < 1 << 16:
        return struct.pack("!BBH", b0, m | 126, length)
    return struct.pack("!BBQ", b0, m | 127, length)


def client_frame(opcode: int, payload: bytes, fin: bool = True) -> bytes:
    return header(opcode, len(payload), fin, True) + MASK + mask(payload)


def server_frame(opcode: int, payload: bytes) -> bytes:
    return header(opcode, len(payload)) + payload


def parse_frame(buf: bytes, pos: int = 0) -> tuple[int, bool, bytes, int] | None:
    """Minimal parser for one server frame at `pos`: (opcode, fin, payload, next pos) or None if incomplete."""
    if len(buf) - pos < 2:
        return None
    b0, b1 = buf[pos], buf[pos + 1]
    length, p = b1 & 0x7F, pos + 2
    if length == 126:
        if len(buf) - p < 2:
            return None
        (length,) = struct.unpack_from("!H", buf, p)
        p += 2
    elif length == 127:
        if len(buf) - p < 8:
            return None
        (length,) = struct.unpack_from("!Q", buf, p)
        p += 8
    key = None
    if b1 & 0x80:
        key, p = bytes(buf[p : p + 4]), p + 4
    if len(buf) - p < length:
        return None
    payload = bytes(buf[p : p + length])
    if key:
        payload = mask(payload, key)
    return b0 & 0x0F, bool(b0 & 0x80), payload, p + length


def describe(data: bytes) -> str:
    """Say what a server sent where an echo was expected."""
    found = parse_frame(data)
    if found is None:
        return f"incomplete or garbled frame {bytes(data[:16])!r}"
    opcode, fin, payload, _ = found
    if opcode == 8:
        code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else None
        return f"close frame {code} {payload[2:60]!r}"
    return f"frame opcode {opcode} fin {fin} length {len(payload)} starting {payload[:24]!r}"


class Ring:
    """R distinct messages: client bytes (masked, maybe fragmented) and the echo expected back.

    All messages of a ring have the same client and server lengths, so message i's bytes sit at
    i * length in a concatenation; the concatenation is doubled so any slice is contiguous.
    """

    def __init__(self, client: list[bytes], server: list[bytes], payload_len: int) -> None:
        self.count = len(client)
        self.clen = len(client[0])
        self.slen = len(server[0])
        assert all(len(c) == self.clen for c in client) and all(len(s) == self.slen for s in server)
        one = b"".join(client)
        self.client2 = memoryview(one + one)
        one = b"".join(server)
        self.server_cycle = len(one)
        self.server2 = one + one
        self.payload_len = payload_len

    def payload_bytes(self, first: int, end: int) -> int:
        """Payload bytes of messages first .. end-1."""
        return (end - first) * self.payload_len

    def client_bytes(self, first: int, n: int) -> list[memoryview]:
        """The client bytes of messages first .. first+n-1 (as few slices as possible)."""
        out = []
        while n > 0:
            i = first % self.count
            k = min(n, self.count)
            out.append(self.client2[i * self.clen : (i + k) * self.clen])
            first += k
            n -= k
        return out


def text_payloads(count: int, size: int, seed: int) -> list[bytes]:
    rng = random.Random(seed)
    letters = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
    out = []
    for i in range(count):
        head = b"%08d " % i
        out.append(head + bytes(rng.choice(letters) for _ in range(size - len(head))))
    return out


def ring_for(workload: str) -> Ring:
    """The message ring of a workload (also used by the reference server to precompute its echoes)."""
    if workload in ("W1", "W2", "W5", "W6"):
        payloads = text_payloads(1024, 64, 1)
        return Ring([client_frame(1, p) for p in payloads], [server_frame(1, p) for p in payloads], 64)
    if workload == "W8":  # the chat: every client gets "[0]: text" (the sender is the first client)
        payloads = text_payloads(1024, 64, 8)
        return Ring([client_frame(1, p) for p in payloads], [server_frame(1, CHAT_PREFIX + p) for p in payloads], 64)
    rng = random.Random(3)
    payloads = [rng.randbytes(MIB) for _ in range(5)]
    if workload == "W3":
        return Ring([client_frame(2, p) for p in payloads], [server_frame(2, p) for p in payloads], MIB)
    if workload == "W4":
        piece = 16 * 1024
        clients = []
        for p in payloads:
            parts = [p[i : i + piece] for i in range(0, MIB, piece)]
            clients.append(
                b"".join(client_frame(2 if i == 0 else 0, part, fin=i == len(parts) - 1) for i, part in enumerate(parts))
            )
        return Ring(clients, [server_frame(2, p) for p in payloads], MIB)
    raise ValueError(f"unknown workload {workload!r}")


CHAT_PREFIX = b"[0]: "
CLOSE_1000 = client_frame(8, struct.pack("!H", 1000))
SERVER_CLOSE_1000 = server_frame(8, struct.pack("!H", 1000))


def upgrade_request(host: str, port: int, path: str, extensions: str | None = None) -> bytes:
    offer = f"Sec-WebSocket-Extensions: {extensions}\r\n" if extensions else ""
    return (
        f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {KEY}\r\nSec-WebSocket-Version: 13\r\n{offer}\r\n"
    ).encode()


def check_response(head: bytes) -> str | None:
    """None if `head` is a valid 101 for our key, else what is wrong."""
    lines = head.split(b"\r\n")
    if not lines[0].startswith(b"HTTP/1.1 101"):
        return f"handshake answered {lines[0][:60]!r}"
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"sec-websocket-accept":
            return None if value.strip() == ACCEPT else f"wrong Sec-WebSocket-Accept {value.strip()!r}"
    return "no Sec-WebSocket-Accept"


# -- process CPU and memory --------------------------------------------------------------------------

TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int | None) -> float | None:
    if pid is None:
        return None
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rpartition(")")[2].split()
        return (int(fields[11]) + int(fields[12])) / TICK  # utime, stime
    except OSError:
        return None


def status_kib(pid: int, field: str) -> int | None:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def own_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


# -- streaming echo: W1, W3, W4 ----------------------------------------------------------------------


class Stats:
    def __init__(self) -> None:
        self.completed = 0  # echoes fully received and checked, before the deadline
        self.errors = 0
        self.mismatches = 0
        self.first_error: str | None = None
        self.sending = True

    def error(self, what: str, mismatch: bool = False) -> None:
        self.errors += 1
        self.mismatches += mismatch
        if self.first_error is None:
            self.first_error = what


class EchoClient(asyncio.BufferedProtocol):
    """One connection keeping `inflight` messages of a ring in flight and checking every echo.

    Reads go into one preallocated buffer (`recv_into`, no bytes object per read).
    """

    offer: str | None = None  # the Sec-WebSocket-Extensions it sends
    ring_for = staticmethod(ring_for)

    @staticmethod
    def report(clients: list[EchoClient]) -> dict:
        """What a workload adds to its result about its connections (W7: the compression)."""
        return {}

    def __init__(self, ring: Ring, inflight: int, stats: Stats, request: bytes, offset: int, bufsize: int = 1 << 20) -> None:
        self.ring, self.inflight, self.stats, self.request = ring, inflight, stats, request
        self.transport: asyncio.Transport | None = None
        self.buf = bytearray(bufsize)
        self.view = memoryview(self.buf)
        self.head = b""
        self.open = False
        self.sent = self.done = offset  # message indices (offset spreads connections over the ring)
        self.offset = offset
        self.rpos = (offset % ring.count) * ring.slen  # offset into the expected server bytes
        self.rtotal = 0
        self.closing = False
        self.close_buf = b""
        loop = asyncio.get_running_loop()
        self.ready = loop.create_future()
        self.drained = loop.create_future()
        self.lost = loop.create_future()
        self.broken = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        sock = transport.get_extra_info("socket")
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        transport.write(self.request)  # type: ignore[attr-defined]

    def start(self) -> None:
        self._send(self.inflight)

    def _send(self, n: int) -> None:
        for chunk in self.ring.client_bytes(self.sent, n):
            self.transport.write(chunk)  # type: ignore[union-attr]
        self.sent += n

    def _fail(self, what: str, mismatch: bool = False) -> None:
        self.broken = True
        self.stats.error(what, mismatch)
        for fut in (self.ready, self.drained):
            if not fut.done():
                fut.set_result(False)
        self.transport.abort()  # type: ignore[union-attr]

    def get_buffer(self, sizehint: int) -> memoryview:
        return self.view

    def handshake_problem(self, head: bytes) -> str | None:
        """None if the 101 (`head`, without its blank line) is what this client can go on with."""
        return check_response(head)

    def _mismatch(self, chunk: bytes, pos: int, message: int) -> None:
        """Fail with a description of the first message that differs (the error path: no hurry)."""
        ring = self.ring
        expected = ring.server2[pos : pos + len(chunk)]
        i = next((j for j in range(len(chunk)) if chunk[j] != expected[j]), len(chunk))
        start = i - (pos + i) % ring.slen  # where the differing frame starts in the chunk
        index = message + (pos % ring.slen + i) // ring.slen
        got = describe(chunk[start:]) if start >= 0 else f"{chunk[i : i + 24]!r} at byte {(pos + i) % ring.slen} of the frame"
        self._fail(f"echo mismatch at message {index}: got {got}", mismatch=True)

    def buffer_updated(self, nbytes: int) -> None:
        if self.broken:
            return
        view = self.view[:nbytes]
        if not self.open:
            self.head += view
            end = self.head.find(b"\r\n\r\n")
            if end < 0:
                return
            problem = self.handshake_problem(self.head[:end])
            if problem:
                return self._fail(problem)
            rest, self.head, self.open = self.head[end + 4 :], b"", True
            self.ready.set_result(True)
            if not rest:
                return
            view = memoryview(rest)
        if self.closing:
            self.close_buf += view
            return
        self._received(view)

    def _received(self, view: memoryview) -> None:
        """Check the bytes against the expected echoes; count the messages they complete."""
        ring = self.ring
        pos, n = self.rpos, len(view)
        at = 0
        while at < n:  # chunks larger than a whole cycle are checked a cycle at a time
            k = min(n - at, ring.server_cycle)
            if not ring.server2.startswith(view[at : at + k], pos):
                return self._mismatch(bytes(view[at : at + k]), pos, self.offset + (self.rtotal + at) // ring.slen)
            pos = (pos + k) % ring.server_cycle
            at += k
        self.rpos = pos
        self.rtotal += n
        done = self.rtotal // ring.slen
        new = done - (self.done - self.offset)
        if new:
            self.done += new
            self._completed(new)

    def _completed(self, new: int) -> None:
        """`new` more echoes arrived whole: replace them while sending, else see if all are back."""
        stats = self.stats
        if stats.sending:
            stats.completed += new
            self._send(new)
        elif self.done == self.sent and not self.drained.done():
            self.drained.set_result(True)

    def close(self) -> None:
        """Send a close frame; `lost` resolves when the server's close frame and EOF have arrived."""
        if self.broken:
            return
        self.closing = True
        self.transport.write(CLOSE_1000)  # type: ignore[union-attr]

    def eof_received(self) -> bool:
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.broken:
            if not self.closing:
                self.stats.error(f"connection lost without a close handshake ({exc})")
            elif not self.close_buf.startswith(SERVER_CLOSE_1000[:2]) or parse_frame(self.close_buf) is None:
                self.stats.error(f"no close frame from the server, got {self.close_buf[:16]!r}")
            elif parse_frame(self.close_buf)[2][:2] not in (b"\x03\xe8", b""):
                self.stats.error(f"server closed with {describe(self.close_buf)}")
        for fut in (self.ready, self.drained):
            if not fut.done():
                fut.set_result(False)
        if not self.lost.done():
            self.lost.set_result(True)


class Window:
    """The timed part of a workload: wall clock, the generator's CPU and the server's, start to stop.

    With `marks`, "# clock started" and "# clock stopped" lines on stdout tell a caller running
    something alongside (benchmarks/kernel.py) when the load is on.
    """

    def __init__(self, pid: int | None, marks: bool = False) -> None:
        self.pid, self.marks = pid, marks

    def start(self) -> None:
        self.cpu0, self.server0 = own_cpu(), cpu_seconds(self.pid)
        self.t0 = time.perf_counter()
        if self.marks:
            print("# clock started", flush=True)

    def stop(self) -> float:
        self.elapsed = time.perf_counter() - self.t0
        self.cpu1, self.server1 = own_cpu(), cpu_seconds(self.pid)
        if self.marks:
            print("# clock stopped", flush=True)
        return self.elapsed

    def cpu(self, result: dict, work: float, unit: str) -> dict:
        """Add both sides' CPU use and `work` (done in the window) per second of server CPU as `unit`."""
        result["loadgen_cpu"] = round((self.cpu1 - self.cpu0) / self.elapsed, 3)
        if self.server0 is not None and self.server1 is not None:
            server = self.server1 - self.server0
            result["server_cpu"] = round(server / self.elapsed, 3)
            if server > 0:
                result[f"{unit}_per_server_cpu_s"] = round(work / server, 1)
        return result


async def stream_echo(url: str, workload: str, conns: int, inflight: int, duration: float,
                      pid: int | None = None, marks: bool = False, client: type[EchoClient] | None = None) -> dict:
    """W1, W3, W4 (EchoClient) and W7 (`client` DeflateClient): `conns` connections, `inflight` each."""
    client = client or EchoClient
    ring = client.ring_for(workload)
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    bufsize = 1 << 20 if ring.slen > 4096 else 1 << 16
    loop = asyncio.get_running_loop()
    stats = Stats()
    clients = []
    for i in range(conns):
        offset = (i * 97) % ring.count
        request = upgrade_request(host, port, f"/{workload}/{offset}", client.offer)
        c = client(ring, inflight, stats, request, offset, bufsize)
        await loop.create_connection(lambda c=c: c, host, port)
        clients.append(c)
    await asyncio.wait_for(asyncio.gather(*(c.ready for c in clients)), 10)
    if stats.errors:  # a handshake was refused or not what the workload needs: say so, measure nothing
        for c in clients:
            c.transport.abort()  # type: ignore[union-attr]
        return _finish({}, stats)
    window = Window(pid, marks)
    window.start()
    for c in clients:
        c.start()
    await asyncio.sleep(duration)
    stats.sending = False
    elapsed = window.stop()
    completed = stats.completed
    payload = sum(ring.payload_bytes(c.offset, c.done) for c in clients)  # echoed in the window
    for c in clients:
        if c.done == c.sent and not c.drained.done():
            c.drained.set_result(True)
    try:
        await asyncio.wait_for(asyncio.gather(*(c.drained for c in clients)), 30)
    except asyncio.TimeoutError:
        stats.error("echoes still missing 30 s after the deadline")
    await close_all(clients, 15, stats, "server did not close the TCP connection after the close handshake")
    result = {
        "messages": completed,
        "seconds": round(elapsed, 3),
        "messages_per_s": round(completed / elapsed, 1),
        "MB_per_s": round(payload / elapsed / 1e6, 2),
        **client.report(clients),
    }
    window.cpu(result, completed, "messages")
    if payload > 4096 * completed:  # large messages (W3, W4, W7): MB per server CPU-second too
        window.cpu(result, payload / 1e6, "MB")
    return _finish(result, stats)


async def close_all(clients: Sequence[EchoClient], timeout: float, stats: Stats, error: str) -> None:
    """Start every client's close handshake and wait for the server's FIN on each; past `timeout`,
    count `error` and drop what is left."""
    for c in clients:
        c.close()
    try:
        await asyncio.wait_for(asyncio.gather(*(c.lost for c in clients)), timeout)
    except asyncio.TimeoutError:
        stats.error(error)
        for c in clients:
            c.transport.abort()  # type: ignore[union-attr]


def _finish(result: dict, stats: Stats) -> dict:
    result["errors"] = stats.errors
    result["mismatches"] = stats.mismatches
    if stats.first_error:
        result["first_error"] = stats.first_error
    return result


# -- W2: latency with a blocking socket ----------------------------------------------------------------


def open_blocking(url: str, path: str) -> tuple[socket.socket, bytes]:
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    sock = socket.create_connection((host, port), timeout=10)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.sendall(upgrade_request(host, port, path))
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("server closed during the handshake")
        head += chunk
    end = head.index(b"\r\n\r\n")
    problem = check_response(head[:end])
    if problem:
        raise ConnectionError(problem)
    return sock, head[end + 4 :]


def latency(url: str, duration: float) -> dict:
    ring = ring_for("W2")
    stats = Stats()
    sock, extra = open_blocking(url, "/W2/0")
    if extra:
        stats.error(f"unexpected bytes after the handshake: {describe(extra)}")
    buf = bytearray(ring.slen)
    view = memoryview(buf)
    samples: list[int] = []
    perf = time.perf_counter_ns
    i = 0
    warmup = 200
    cpu0 = own_cpu()
    t_start = time.perf_counter()
    deadline = t_start + duration
    while True:
        k = i % ring.count
        frame = ring.client2[k * ring.clen : (k + 1) * ring.clen]
        t0 = perf()
        sock.sendall(frame)
        got = 0
        while got < ring.slen:
            n = sock.recv_into(view[got:])
            if not n:
                stats.error("connection closed by the server")
                break
            got += n
        t1 = perf()
        if got < ring.slen:
            break
        if not ring.server2.startswith(buf, k * ring.slen):
            stats.error(f"echo mismatch at message {i}: got {describe(bytes(buf))}", mismatch=True)
            break
        if i >= warmup:
            samples.append(t1 - t0)
            if t1 * 1e-9 >= deadline:
                break
        elif i == warmup - 1:
            t_start = time.perf_counter()
            deadline = t_start + duration
            cpu0 = own_cpu()
        i += 1
    elapsed = time.perf_counter() - t_start
    cpu1 = own_cpu()
    _close_blocking(sock, stats)
    samples.sort()
    result = {"round_trips": len(samples), "seconds": round(elapsed, 3)}
    if samples:
        result.update(
            p50_us=round(samples[len(samples) // 2] / 1000, 1),
            p99_us=round(samples[min(len(samples) - 1, int(len(samples) * 0.99))] / 1000, 1),
            mean_us=round(statistics.fmean(samples) / 1000, 1),
        )
    result["loadgen_cpu"] = round((cpu1 - cpu0) / max(elapsed, 1e-9), 3)
    return _finish(result, stats)


def _close_blocking(sock: socket.socket, stats: Stats) -> None:
    try:
        sock.sendall(CLOSE_1000)
        data = b""
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
        found = parse_frame(data)
        if found is None or found[0] != 8:
            stats.error(f"no close frame from the server, got {data[:16]!r}")
    except OSError as exc:
        stats.error(f"closing: {exc}")
    finally:
        sock.close()


# -- W5: handshakes --------------------------------------------------------------------------------------


async def one_session(loop: asyncio.AbstractEventLoop, addr: tuple[str, int], request: bytes, frame: bytes, echo: bytes) -> str | None:
    """Open, handshake, one echo, close handshake, wait for the server's EOF. None if all went right."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setblocking(False)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        await loop.sock_connect(sock, addr)
        await loop.sock_sendall(sock, request)
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = await loop.sock_recv(sock, 65536)
            if not chunk:
                return "server closed during the handshake"
            head += chunk
        end = head.index(b"\r\n\r\n")
        problem = check_response(head[:end])
        if problem:
            return problem
        await loop.sock_sendall(sock, frame)
        data = head[end + 4 :]
        while len(data) < len(echo):
            chunk = await loop.sock_recv(sock, 65536)
            if not chunk:
                break
            data += chunk
        if not data.startswith(echo):
            return f"echo mismatch: got {describe(data)}"
        # Close after the echo: a server may (websockets does) drop data frames that arrive with a close.
        await loop.sock_sendall(sock, CLOSE_1000)
        while True:
            chunk = await loop.sock_recv(sock, 65536)
            if not chunk:
                break
            data += chunk
        found = parse_frame(data, len(echo))
        if found is None or found[0] != 8 or found[2][:2] != b"\x03\xe8" or found[3] != len(data):
            return f"bad close after the echo: {describe(data[len(echo):])}"
        return None
    except OSError as exc:
        return f"{type(exc).__name__}: {exc}"
    finally:
        sock.close()


async def handshakes(url: str, duration: float, pid: int | None = None, concurrency: int = 8) -> dict:
    ring = ring_for("W5")
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    loop = asyncio.get_running_loop()
    stats = Stats()
    done = [0]
    stop = [False]

    async def worker(w: int) -> None:
        i = w
        while not stop[0]:
            k = i % ring.count
            frame = bytes(ring.client2[k * ring.clen : (k + 1) * ring.clen])
            echo = ring.server2[k * ring.slen : (k + 1) * ring.slen]
            problem = await one_session(loop, (host, port), upgrade_request(host, port, f"/W5/{k}"), frame, echo)
            if problem:
                stats.error(problem, mismatch=problem.startswith("echo mismatch"))
                if stats.errors > 100:
                    stop[0] = True
            elif not stop[0]:
                done[0] += 1
            i += concurrency

    window = Window(pid)
    window.start()
    tasks = [asyncio.create_task(worker(w)) for w in range(concurrency)]
    await asyncio.sleep(duration)
    stop[0] = True
    elapsed = window.stop()
    completed = done[0]
    await asyncio.wait_for(asyncio.gather(*tasks), 30)
    result = {
        "connections": completed,
        "seconds": round(elapsed, 3),
        "connections_per_s": round(completed / elapsed, 1),
        "concurrency": concurrency,
    }
    window.cpu(result, completed, "connections")
    return _finish(result, stats)


# -- W6: idle connections ------------------------------------------------------------------------------


async def idle(url: str, pid: int | None, count: int = 2000, settle: float = 1.0) -> dict:
    ring = ring_for("W6")
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    loop = asyncio.get_running_loop()
    stats = Stats()
    if pid is None:
        return {"errors": 1, "first_error": "W6 needs --server-pid"}
    await asyncio.sleep(settle)
    before = status_kib(pid, "VmRSS")
    clients: list[EchoClient] = []
    sem = asyncio.Semaphore(64)

    async def open_one(i: int) -> None:
        async with sem:
            c = EchoClient(ring, 1, stats, upgrade_request(host, port, f"/W6/{i % ring.count}"), i % ring.count, 4096)
            try:
                await loop.create_connection(lambda: c, host, port)
            except OSError as exc:
                stats.error(f"connect: {exc}")
                return
            clients.append(c)
            if not await asyncio.wait_for(c.ready, 10):
                return

    await asyncio.gather(*(open_one(i) for i in range(count)))
    # One echo on each, so every connection is fully set up on the server (handler running).
    stats.sending = False
    for c in clients:
        c.start()
    try:
        await asyncio.wait_for(asyncio.gather(*(c.drained for c in clients)), 30)
    except asyncio.TimeoutError:
        stats.error("echoes on idle connections still missing after 30 s")
    await asyncio.sleep(settle)
    after = status_kib(pid, "VmRSS")
    hwm = status_kib(pid, "VmHWM")
    await close_all(clients, 30, stats, "server did not close every idle connection after the close handshake")
    result = {
        "connections": len(clients),
        "rss_before_kib": before,
        "rss_after_kib": after,
        "hwm_kib": hwm,
        "bytes_per_connection": round((after - before) * 1024 / max(len(clients), 1)) if before and after else None,
    }
    return _finish(result, stats)


# -- W7: compressed echo (permessage-deflate, RFC 7692) --------------------------------------------------

DEFLATE_OFFER = "permessage-deflate; client_max_window_bits"  # what browsers offer
DEFLATE_TAIL = b"\x00\x00\xff\xff"  # ends every Z_SYNC_FLUSH; RFC 7692 7.2.1 strips it from each message
DEFLATE_PARAMS = ("server_no_context_takeover", "client_no_context_takeover", "server_max_window_bits",
                  "client_max_window_bits")


def json_payloads(count: int, seed: int) -> list[bytes]:
    """`count` JSON texts of 1-64 KiB (log-uniform sizes): lists of records like a notebook app sends.

    Keys repeat in every record and values come from small vocabularies, with random numbers and
    made-up words between them, so deflate gets about 4.4x with a 15-bit window, 3.4x with 12 bits
    (not all-zero: a message is not a run of one byte). Each starts with its number, so a lost,
    repeated or reordered echo is a mismatch.
    """
    rng = random.Random(seed)
    letters = "abcdefghijklmnopqrstuvwxyz"
    kinds = ["cell", "kernel", "widget", "frame", "socket", "notebook", "output", "stream", "chat", "message",
             "server", "client", "plot", "table", "row", "column", "value", "error", "ok", "pending", "done"]
    words = kinds + ["".join(rng.choice(letters) for _ in range(rng.randint(4, 10))) for _ in range(120)]
    users = ["".join(rng.choice(letters) for _ in range(rng.randint(5, 9))) for _ in range(40)]
    out = []
    for i in range(count):
        size = int(math.exp(rng.uniform(math.log(1024), math.log(64 * 1024))))
        text = '{"seq": "%08d", "records": [' % i
        while len(text) < size:
            record = {"id": rng.randrange(10_000), "user": rng.choice(users), "kind": rng.choice(kinds),
                      "t": 1_700_000_000 + rng.randrange(86_400), "x": round(rng.gauss(0, 100), 2),
                      "text": " ".join(rng.choice(words) for _ in range(rng.randint(3, 12)))}
            text += ("" if text.endswith("[") else ", ") + json.dumps(record)
        out.append((text[: size - 2] + "]}").encode())
    return out


class Deflate(NamedTuple):
    """The permessage-deflate parameters a server answered with (window bits 15 when not given)."""

    server_no_context_takeover: bool = False
    client_no_context_takeover: bool = False
    server_max_window_bits: int = 15
    client_max_window_bits: int = 15


def negotiated(head: bytes) -> Deflate | str:
    """What the 101's Sec-WebSocket-Extensions agreed to our offer, or what is wrong with it."""
    values = [value.strip().decode("latin-1") for name, _, value in (line.partition(b":") for line in head.split(b"\r\n")[1:])
              if name.strip().lower() == b"sec-websocket-extensions"]
    if not values:
        return "the server did not negotiate permessage-deflate: its 101 has no Sec-WebSocket-Extensions"
    answer = ", ".join(values)
    extensions = [e for e in answer.split(",") if e.strip()]
    name, *params = [part.strip() for part in extensions[0].split(";")]
    if len(extensions) != 1 or name != "permessage-deflate":
        return f"the server answered extensions we did not offer: {answer!r}"
    got: dict[str, Any] = {}
    for param in params:
        key, _, value = (x.strip().strip('"') for x in param.partition("="))
        if key not in DEFLATE_PARAMS or key in got:
            return f"unknown or repeated parameter {key!r} in {answer!r}"
        if key.endswith("no_context_takeover"):
            got[key] = True
        elif value in {str(n) for n in range(8, 16)}:
            got[key] = int(value)
        else:
            return f"{key}={value!r} is not a window of 8-15 bits in {answer!r}"
    return Deflate(**got)


def compressor(bits: int) -> Any:
    """A raw deflate compressor for a window of `bits` (zlib refuses 8: Huffman-only output has no
    back-references, so it fits any window)."""
    strategy = zlib.Z_HUFFMAN_ONLY if bits == 8 else zlib.Z_DEFAULT_STRATEGY
    return zlib.compressobj(6, zlib.DEFLATED, -max(bits, 9), 8, strategy)


class DeflateCorpus:
    """W7's messages and, per connection, the compressed client frames that carry them.

    With context takeover a message's compressed bytes refer back to the messages before it on the
    same connection, so the frames are made for each connection's own sequence (the corpus from its
    offset, round and round) once its 101 has said how: a first pass through the corpus and a
    second pass that is sent over and over from then on (the history its back-references reach is the
    same in every later pass). Nothing is compressed while the clock runs.
    """

    slen = 0  # no fixed echo length: echoes are parsed and inflated, not matched as precomputed bytes

    def __init__(self, count: int = 64, seed: int = 7) -> None:
        self.payloads = json_payloads(count, seed)
        self.count = count
        self.sizes = [0]  # prefix sums: payload bytes of messages 0 .. i-1
        for payload in self.payloads:
            self.sizes.append(self.sizes[-1] + len(payload))
        self.ratio = 0.0  # uncompressed / compressed, of the frames made last (their later pass)

    def payload_bytes(self, first: int, end: int) -> int:
        """Payload bytes of messages first .. end-1 (uncompressed)."""
        def upto(n: int) -> int:
            return n // self.count * self.sizes[-1] + self.sizes[n % self.count]
        return upto(end) - upto(first)

    def frames(self, first: int, params: Deflate) -> tuple[list[bytes], list[bytes]]:
        """The masked, compressed client frames of messages first, first+1, ...: (first pass, every later pass)."""
        passes = []
        compress = compressor(params.client_max_window_bits)
        for _ in range(1 if params.client_no_context_takeover else 2):
            frames, compressed = [], 0
            for i in range(first, first + self.count):
                if params.client_no_context_takeover:
                    compress = compressor(params.client_max_window_bits)
                data = compress.compress(self.payloads[i % self.count]) + compress.flush(zlib.Z_SYNC_FLUSH)
                assert data.endswith(DEFLATE_TAIL)
                frames.append(header(0x40 | 1, len(data) - 4, True, True) + MASK + mask(data[:-4]))  # RSV1: compressed
                compressed += len(data) - 4
            passes.append(frames)
        self.ratio = self.sizes[-1] / compressed
        return passes[0], passes[-1]


class DeflateClient(EchoClient):
    """W7: one connection sending compressed text messages and inflating and checking every echo.

    Offers permessage-deflate as a browser does and goes on only if the server accepted it, with the
    parameters it answered (window bits, context takeover on each side). A server may send a message
    uncompressed (RFC 7692 6); each echo is inflated when its RSV1 says so and must equal the message
    sent, byte for byte.
    """

    offer = DEFLATE_OFFER
    ring_for = staticmethod(lambda workload: DeflateCorpus())

    def __init__(self, ring: DeflateCorpus, inflight: int, stats: Stats, request: bytes, offset: int,  # type: ignore[override]
                 bufsize: int = 1 << 16) -> None:
        super().__init__(ring, inflight, stats, request, offset, bufsize)  # type: ignore[arg-type]
        self.corpus = ring
        self.pending = bytearray()  # received bytes not yet a whole frame
        self.parts: list[bytes] = []  # the echo arriving, frame by frame
        self.compressed = False
        self.extension = ""
        self.params = Deflate()
        self.first_pass: list[bytes] = []
        self.later: list[bytes] = []
        self.inflater: Any = None
        self.echo_wire = self.echo_plain = self.plain_echoes = 0

    def handshake_problem(self, head: bytes) -> str | None:
        params = check_response(head) or negotiated(head)
        if isinstance(params, str):
            return params
        self.params = params
        self.extension = next(line.partition(b":")[2].strip().decode() for line in head.split(b"\r\n")
                              if line.lower().startswith(b"sec-websocket-extensions"))
        self.first_pass, self.later = self.corpus.frames(self.offset, params)
        self.inflater = zlib.decompressobj(-params.server_max_window_bits)
        return None

    def _send(self, n: int) -> None:
        k = self.sent - self.offset  # this connection's messages so far
        count = self.corpus.count
        frames = [self.first_pass[i] if i < count else self.later[i % count] for i in range(k, k + n)]
        self.transport.write(b"".join(frames))  # type: ignore[union-attr]
        self.sent += n

    def _received(self, view: memoryview) -> None:
        buf = self.pending
        buf += view
        pos, end, new = 0, len(buf), 0
        while end - pos >= 2:
            b0, b1 = buf[pos], buf[pos + 1]
            length, p = b1 & 0x7F, pos + 2
            if length >= 126:
                size = 2 if length == 126 else 8
                if end - p < size:
                    break
                length, p = int.from_bytes(buf[p : p + size], "big"), p + size
            if end - p < length:
                break
            opcode = b0 & 0x0F
            # a text frame, then continuations; RSV1 (compressed) on the first frame only (RFC 7692 6.1)
            if b1 & 0x80 or b0 & 0x30 or ((opcode != 0 or b0 & 0x40) if self.parts else opcode != 1):
                return self._fail(f"expected (part of) the echo of message {self.done}, got {describe(bytes(buf[pos:]))}",
                                  mismatch=True)
            if not self.parts:
                self.compressed = bool(b0 & 0x40)
            self.parts.append(bytes(buf[p : p + length]))
            pos = p + length
            if b0 & 0x80:  # the echo is complete
                if not self._check(b"".join(self.parts)):
                    return
                self.parts = []
                new += 1
        del buf[:pos]
        if new:
            self._completed(new)

    def _check(self, data: bytes) -> bool:
        """Inflate the echo of message `self.done` if it came compressed and compare it with what was sent."""
        expected = self.corpus.payloads[self.done % self.corpus.count]
        self.echo_wire += len(data)
        if self.compressed:
            try:
                data = self.inflater.decompress(data) + self.inflater.decompress(DEFLATE_TAIL)
            except zlib.error as exc:
                self._fail(f"the echo of message {self.done} does not inflate: {exc}", mismatch=True)
                return False
            if self.params.server_no_context_takeover:
                self.inflater = zlib.decompressobj(-self.params.server_max_window_bits)
        else:
            self.plain_echoes += 1
        if data != expected:
            i = next((j for j in range(min(len(data), len(expected))) if data[j] != expected[j]), min(len(data), len(expected)))
            self._fail(f"echo mismatch at message {self.done}: {len(data)} bytes, expected {len(expected)}, first "
                       f"difference at byte {i}: {data[i : i + 24]!r}", mismatch=True)
            return False
        self.echo_plain += len(data)
        self.done += 1
        return True

    @staticmethod
    def report(clients: list[EchoClient]) -> dict:
        deflate = [c for c in clients if isinstance(c, DeflateClient)]
        wire, plain = sum(c.echo_wire for c in deflate), sum(c.echo_plain for c in deflate)
        return {"extension": deflate[0].extension if deflate else None,
                "client_ratio": round(deflate[0].corpus.ratio, 2) if deflate else None,
                "server_ratio": round(plain / wire, 2) if wire else None,
                "uncompressed_echoes": sum(c.plain_echoes for c in deflate)}


# -- W8: broadcast -------------------------------------------------------------------------------------


class Tally:
    """Which broadcast messages every member has: completion in order, latency, the sender's window.

    Message k is complete when its copy has reached every member (the sender and every receiver);
    TCP keeps each member's copies in order, so messages complete in order. The sender keeps
    `window` messages in flight: it sends message k + window only once message k is complete.
    """

    SLOTS = 4096  # more than any window: slot k % SLOTS belongs to one message at a time

    def __init__(self, stats: Stats, members: int) -> None:
        self.stats, self.members = stats, members
        self.arrivals = [0] * self.SLOTS
        self.sent_at = [0.0] * self.SLOTS
        self.tracked_from = 1 << 62  # messages before this one (warm-up) are not tracked
        self.complete = 0  # the first message not yet complete (once tracking)
        self.completed = 0  # messages completed while `counting`
        self.counting = False
        self.latencies: list[float] | None = None
        self.window = 0
        self.sender: Member | None = None
        self.idle: asyncio.Future | None = None  # set when nothing is in flight

    def track_from(self, k: int) -> None:
        self.tracked_from = self.complete = k

    def send(self, n: int) -> None:
        sender = self.sender
        now = time.perf_counter()
        for k in range(sender.sent, sender.sent + n):  # type: ignore[union-attr]
            self.sent_at[k % self.SLOTS] = now
        sender._send(n)  # type: ignore[union-attr]

    def fill(self) -> None:
        """Send until `window` messages are in flight."""
        n = self.complete + self.window - self.sender.sent  # type: ignore[union-attr]
        if n > 0:
            self.send(n)

    def arrived(self, first: int, end: int) -> None:
        """A member got messages first .. end-1."""
        for k in range(max(first, self.tracked_from), end):
            slot = k % self.SLOTS
            count = self.arrivals[slot] + 1
            if count < self.members:
                self.arrivals[slot] = count
                continue
            self.arrivals[slot] = 0
            if k != self.complete:
                self.stats.error(f"message {k} reached every member before message {self.complete}")
            self.complete = k + 1
            if self.latencies is not None:
                self.latencies.append(time.perf_counter() - self.sent_at[slot])
            if self.counting:
                self.completed += 1
            if self.window:
                self.fill()
            if self.idle is not None and self.complete == self.sender.sent and not self.idle.done():  # type: ignore[union-attr]
                self.idle.set_result(True)


class Member(EchoClient):
    """One chat connection: every broadcast message arrives, checked byte for byte, tallied.

    A receiver's first copy says where it joined the broadcast (the number that starts the text);
    from there on, every message must arrive, in order, exactly as the chat sends it.
    """

    def __init__(self, ring: Ring, stats: Stats, request: bytes, tally: Tally) -> None:
        super().__init__(ring, 0, stats, request, 0, 16 * 1024)
        self.tally = tally
        self.joined: int | None = None  # the first message it got
        self.pending = b""

    def _received(self, view: memoryview) -> None:
        if self.joined is None:
            self.pending += view
            # header (2 bytes), "[0]: ", then the message number: 8 digits
            head = 2 + len(CHAT_PREFIX) + 8
            if len(self.pending) < head:
                return
            digits = self.pending[head - 8 : head]
            if not digits.isdigit():
                return self._fail(f"not a chat message: {describe(self.pending)}", mismatch=True)
            k = int(digits)
            self.joined = self.done = self.offset = k
            self.rpos = (k % self.ring.count) * self.ring.slen
            view, self.pending = memoryview(self.pending), b""
        super()._received(view)

    def _completed(self, new: int) -> None:
        self.tally.arrived(self.done - new, self.done)


async def broadcast(url: str, receivers: int, duration: float, pid: int | None = None, window: int = 8) -> dict:
    """W8: one sender, `receivers` receivers; deliveries per second, then time to the last receiver."""
    ring = ring_for("W8")
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    loop = asyncio.get_running_loop()
    stats = Stats()
    tally = Tally(stats, receivers + 1)
    result: dict = {"receivers": receivers, "window": window}

    async def connect(path: str) -> Member:
        m = Member(ring, stats, upgrade_request(host, port, path), tally)
        await loop.create_connection(lambda: m, host, port)
        if not await asyncio.wait_for(m.ready, 30):
            raise ConnectionError(stats.first_error or "handshake failed")
        return m

    async def settle(what: str, timeout: float = 30) -> bool:
        """Wait until every message sent has reached every member."""
        tally.idle = loop.create_future()
        if tally.complete == sender.sent:
            return True
        try:
            return await asyncio.wait_for(tally.idle, timeout)
        except asyncio.TimeoutError:
            stats.error(f"{what}: message {tally.complete} had not reached every member after {timeout:.0f} s "
                        f"({tally.arrivals[tally.complete % Tally.SLOTS]} of {tally.members})")
            return False

    # The sender connects first, so the chat numbers it 0; its own copy of a first message says it is in.
    sender = tally.sender = await connect("/W8/0")
    tally.send(1)
    deadline = time.perf_counter() + 10
    while sender.joined is None and not sender.broken and time.perf_counter() < deadline:
        await asyncio.sleep(0.01)
    if sender.joined is None:
        stats.error(stats.first_error or "the sender never got its own first message back")
        sender.transport.abort()  # type: ignore[union-attr]
        return _finish(result, stats)
    members = [sender]
    sem = asyncio.Semaphore(64)

    async def join(i: int) -> None:
        async with sem:
            try:
                members.append(await connect(f"/W8/r{i}"))
            except (OSError, asyncio.TimeoutError) as exc:
                stats.error(f"receiver {i} did not connect: {exc}")

    t_connect = time.perf_counter()
    await asyncio.gather(*(join(i) for i in range(receivers)))
    result["connect_s"] = round(time.perf_counter() - t_connect, 2)
    # Warm-up: a message every 50 ms until every receiver has one (a server may register a client
    # a little after its 101); from the next message on, every member must get every message.
    deadline = time.perf_counter() + 10
    while not stats.errors and any(m.joined is None for m in members) and time.perf_counter() < deadline:
        tally.send(1)
        await asyncio.sleep(0.05)
    missing = sum(m.joined is None for m in members)
    if missing:
        stats.error(f"{missing} of {receivers} receivers got no broadcast message within 10 s")
    if not stats.errors:
        tally.track_from(sender.sent)
        # Deliveries per second: `window` messages in flight.
        measure = Window(pid)
        tally.window, tally.counting = window, True
        measure.start()
        tally.fill()
        await asyncio.sleep(duration)
        tally.window, tally.counting = 0, False
        elapsed = measure.stop()
        messages = tally.completed
        deliveries = messages * tally.members
        result.update(messages=messages, seconds=round(elapsed, 3), deliveries=deliveries,
                      deliveries_per_s=round(deliveries / elapsed, 1))
        measure.cpu(result, deliveries, "deliveries")
        # Time to the last member: one message at a time, from its write to its last copy's arrival.
        if await settle("after the timed part"):
            tally.latencies = []
            tally.window = 1
            tally.fill()
            await asyncio.sleep(max(duration / 2, 0.5))
            tally.window = 0
            await settle("after the latency part")
            lat = sorted(tally.latencies)
            tally.latencies = None
            if lat:
                result.update(latency_messages=len(lat), p50_ms=round(lat[len(lat) // 2] * 1000, 2),
                              p99_ms=round(lat[min(len(lat) - 1, int(len(lat) * 0.99))] * 1000, 2))
    await close_all(members, 30, stats, "server did not close every chat connection after the close handshake")
    return _finish(result, stats)


# -- main -------------------------------------------------------------------------------------------------


def run(coroutine: Coroutine[Any, Any, dict], fast_loop: bool = False) -> dict:
    """Run a workload on asyncio's loop, or with `fast_loop` on uvloop if it is installed; the result
    says which. uvloop reads a thousand sockets cheaper, so W8's generator reaches ~1.2x further
    against the reference server; on W1-W6 it made no difference worth the change (W5 lost)."""
    if fast_loop:
        try:
            import uvloop
        except ImportError:
            pass
        else:
            return {**uvloop.run(coroutine), "loop": "uvloop"}
    return {**asyncio.run(coroutine), "loop": "asyncio"}


def run_workload(name: str, url: str, pid: int | None, duration: float, receivers: int = RECEIVERS,
                 marks: bool = False) -> dict:
    server_cpu0 = cpu_seconds(pid)
    t0 = time.perf_counter()
    if name == "W1":
        result = run(stream_echo(url, "W1", 16, 32, duration, pid, marks))
    elif name == "W2":
        result = latency(url, duration)
    elif name == "W3":
        result = run(stream_echo(url, "W3", 1, 4, duration, pid))
    elif name == "W4":
        result = run(stream_echo(url, "W4", 1, 4, duration, pid))
    elif name == "W5":
        result = run(handshakes(url, duration, pid))
    elif name == "W6":
        result = run(idle(url, pid))
    elif name == "W7":
        result = run(stream_echo(url, "W7", 8, 4, duration, pid, client=DeflateClient))
    elif name == "W8":
        result = run(broadcast(url, receivers, duration, pid), fast_loop=True)
    else:
        raise ValueError(f"unknown workload {name!r}; choose from {', '.join(WORKLOADS)}")
    wall = time.perf_counter() - t0
    server_cpu1 = cpu_seconds(pid)
    if server_cpu0 is not None and server_cpu1 is not None and name not in ("W6",) and "server_cpu" not in result:
        # Over the whole call (setup included): a rough figure, good enough to see saturation. The
        # timed workloads measure it over their timed part instead (and work per server CPU-second).
        result["server_cpu"] = round((server_cpu1 - server_cpu0) / wall, 3)
    return {"workload": name, **result}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True, help="the server's ws:// URL")
    parser.add_argument("--workloads", default="W1,W2,W3,W4,W5,W6", help="comma-separated: " + ", ".join(WORKLOADS))
    parser.add_argument("--receivers", type=int, default=RECEIVERS, help=f"W8's receivers (default {RECEIVERS:,})")
    parser.add_argument("--marks", action="store_true", help='print "# clock started/stopped" around W1\'s timed part')
    parser.add_argument("--server-pid", type=int, help="server process id (CPU use; W6 reads its RSS)")
    parser.add_argument("--duration", type=float, help="seconds per timed workload (default: per workload)")
    parser.add_argument("--quick", action="store_true", help="short durations for a smoke run")
    args = parser.parse_args(argv)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    failed = False
    for name in [w.strip().upper() for w in args.workloads.split(",") if w.strip()]:
        duration = args.duration or (QUICK if args.quick else DURATIONS)[name]
        try:
            result = run_workload(name, args.url, args.server_pid, duration, args.receivers, args.marks)
        except Exception as exc:  # report and go on with the next workload
            result = {"workload": name, "errors": 1, "first_error": f"{type(exc).__name__}: {exc}"}
        failed = failed or bool(result.get("errors"))
        print(json.dumps(result), flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
