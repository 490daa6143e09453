"""How much wsplay allocates per frame, and its peak memory for one 64 MiB message: default vs. no-allocate.

    python benchmarks/alloc.py [--quick] [--json]

Three measurements, each in both modes (default: frames own a copy of their payload; no-allocate:
`do_not_allocate_frame_data()`, frames borrow views of the receive buffer):

1. Sans-I/O, per frame: a `Connection` fed through `get_buffer()`/`buffer_updated()` as the engine's
   `asyncio.BufferedProtocol` does; tracemalloc's peak above the baseline while `next_frame()` runs
   ("allocated") and what is still held while the frame is alive ("kept"), median over many frames.
2. 64 MiB message in 16 KiB fragments (4,096 frames), merged by the engine, peak memory above the
   baseline, with two handlers:
   - "reads": the handler reads the whole message the way its mode hands it out (the seed's
     allocation section): default `frame.data`, one `bytes` it may keep; no-allocate
     `frame.raw.segments`, the fragments where they arrived. It answers with the CRC-32 of what it
     read, which the client checks.
   - "holds": the handler only takes `len(frame)`: both modes then hold the message once.
   a. Sans-I/O ("holds" only): the `Connection` as the engine configures it (no-allocate: `borrow`
      and `retain_fragments`), fed one read at a time and drained after each, as the engine does;
   b. in process, over a real socket: a wsplay `Host`, a raw socket client on a thread; tracemalloc
      traces every thread;
   c. a separate server process, the same handlers: growth of the kernel's VmHWM (peak RSS) while it
      receives the message (no tracemalloc, so allocator and buffer overheads count too).
The input bytes are built before measuring starts, so they are not counted.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import queue
import socket
import statistics
import subprocess
import sys
import threading
import time
import tracemalloc
import zlib
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from loadgen import check_response, client_frame, status_kib, upgrade_request  # noqa: E402

MIB = 1024 * 1024
BIG = 64 * MIB
FRAGMENT = 16 * 1024


def push(conn, data: memoryview, read_size: int = 256 * 1024) -> None:  # type: ignore[no-untyped-def]
    """Write `data` into the connection's own buffer, as `recv_into` would (at most `read_size` per read)."""
    while data:
        buf = conn.get_buffer(-1)
        n = min(len(buf), len(data), read_size)
        buf[:n] = data[:n]
        buf.release()
        conn.buffer_updated(n)
        data = data[n:]


def sans_io_per_frame(size: int, borrow: bool, frames: int) -> dict:
    from wsplay.protocol.connection import Connection

    payload = os.urandom(size)
    data = memoryview(client_frame(2, payload))
    conn = Connection(borrow=borrow)
    allocated, kept = [], []
    gc.collect()
    tracemalloc.start()
    try:
        for _ in range(frames):
            push(conn, data)
            tracemalloc.reset_peak()
            base = tracemalloc.get_traced_memory()[0]
            incoming = conn.next_frame()
            current, peak = tracemalloc.get_traced_memory()
            allocated.append(peak - base)
            kept.append(current - base)
            assert incoming is not None and len(incoming.payload) == size
            del incoming
            assert conn.next_frame() is None  # the engine reads on until the buffer is empty
    finally:
        tracemalloc.stop()
    warm = slice(2, None)  # the first frames grow the buffer once
    return {"allocated": int(statistics.median(allocated[warm])), "kept": int(statistics.median(kept[warm]))}


def big_stream(size: int) -> tuple[bytes, int]:
    """The masked frames of a `size`-byte binary message in 16 KiB fragments, and the payload's CRC-32."""
    payload = os.urandom(FRAGMENT)  # one random fragment repeated: building 64 MiB of masked frames is then fast
    count = size // FRAGMENT
    first, middle, last = client_frame(2, payload, fin=False), client_frame(0, payload, fin=False), client_frame(0, payload)
    crc = 0
    for _ in range(count):
        crc = zlib.crc32(payload, crc)
    return first + middle * (count - 2) + last, crc


def sans_io_big(stream: bytes, size: int, borrow: bool) -> dict:
    from wsplay.protocol.connection import Connection

    conn = Connection(borrow=borrow, retain_fragments=borrow, max_message_size=size + MIB)
    view = memoryview(stream)
    parts: list = []
    gc.collect()
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        pos, total = 0, 0
        while pos < len(view):
            # One read of at most 256 KiB, then every complete frame is taken, as the engine's pump does.
            buf = conn.get_buffer(-1)
            n = min(len(buf), len(view) - pos, 256 * 1024)
            buf[:n] = view[pos : pos + n]
            buf.release()
            conn.buffer_updated(n)
            pos += n
            while (incoming := conn.next_frame()) is not None:
                parts.append(incoming.payload)  # the engine keeps every fragment until the last one
                total += len(incoming.payload)
        peak = tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()
    assert total == size, total
    return {"peak": peak}


def _handler(no_allocate: bool, read: bool, size: int, answer):  # type: ignore[no-untyped-def]
    """The benchmark's endpoint: answer each binary message with (its length, the CRC-32 read or None)."""
    from wsplay import Websocket

    async def on_binary(connection, frame):  # type: ignore[no-untyped-def]
        crc = None
        if read and no_allocate:
            crc = 0
            for segment in frame.raw.segments:  # read where they arrived: no copy
                crc = zlib.crc32(segment, crc)
        elif read:
            crc = zlib.crc32(frame.data)  # the default's owned bytes
        await answer(connection, len(frame), crc)

    builder = Websocket.functional().on_binary(on_binary).max_message_size(size + MIB)
    if no_allocate:
        builder.do_not_allocate_frame_data()
    return builder


def host_big(stream: bytes, crc: int, size: int, no_allocate: bool, read: bool) -> dict:
    """Peak traced memory of an in-process wsplay Host receiving the message over a real socket."""
    from wsplay import Host

    got: queue.Queue[tuple[int, int | None]] = queue.Queue()

    async def answer(connection, length, crc):  # type: ignore[no-untyped-def]
        got.put((length, crc))

    host = Host.create().handler(_handler(no_allocate, read, size, answer)).port(0).start()
    try:
        sock, _ = _connect(host.url)
        sock.sendall(client_frame(2, b"warm-up"))  # buffers and code paths warmed before measuring
        assert got.get(timeout=10)[0] == 7
        gc.collect()
        tracemalloc.start()
        try:
            base = tracemalloc.get_traced_memory()[0]
            sender = threading.Thread(target=sock.sendall, args=(stream,))
            sender.start()
            result = got.get(timeout=120)
            peak = tracemalloc.get_traced_memory()[1] - base
            sender.join(60)
        finally:
            tracemalloc.stop()
        sock.close()
    finally:
        host.stop()
    expected = (size, crc if read else None)
    if result != expected:
        raise RuntimeError(f"handler saw {result}, expected {expected}")
    return {"peak": peak}


def _connect(url: str) -> tuple[socket.socket, bytes]:
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    sock = socket.create_connection((parts.hostname, parts.port), timeout=120)
    sock.sendall(upgrade_request(parts.hostname or "127.0.0.1", parts.port or 80, "/"))
    head = b""
    while b"\r\n\r\n" not in head:
        head += sock.recv(65536)
    end = head.index(b"\r\n\r\n")
    problem = check_response(head[:end])
    if problem:
        raise ConnectionError(problem)
    return sock, head[end + 4 :]


def serve(no_allocate: bool, read: bool, size: int) -> None:
    """The server process of measurement 2c: answer every binary message with "length crc" as text."""
    import signal

    from wsplay import Host

    async def answer(connection, length, crc):  # type: ignore[no-untyped-def]
        await connection.write(f"{length} {crc}")

    host = Host.create().handler(_handler(no_allocate, read, size, answer)).port(0).start()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    print(host.url, flush=True)
    while not stop.wait(0.5):
        pass
    host.stop()


def process_big(stream: bytes, crc: int, size: int, no_allocate: bool, read: bool) -> dict:
    command = [sys.executable, __file__, "--serve", "--size", str(size)]
    command += (["--no-allocate"] if no_allocate else []) + (["--read"] if read else [])
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    try:
        url = proc.stdout.readline().decode().strip()  # type: ignore[union-attr]
        sock, _ = _connect(url)
        sock.sendall(client_frame(2, b"warm-up"))
        sock.recv(100)
        time.sleep(0.2)
        rss0, hwm0 = status_kib(proc.pid, "VmRSS"), status_kib(proc.pid, "VmHWM")
        sock.sendall(stream)
        reply = sock.recv(100)
        hwm1 = status_kib(proc.pid, "VmHWM")
        sock.close()
    finally:
        proc.terminate()
        proc.wait(15)
    text = f"{size} {crc if read else None}".encode()
    expected = b"\x81" + bytes([len(text)]) + text
    if reply != expected:
        raise RuntimeError(f"server answered {reply!r}, expected {expected!r}")
    return {"hwm_growth": (hwm1 - max(hwm0, rss0)) * 1024, "rss_before": rss0 * 1024}  # type: ignore[operator]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="an 8 MiB message and fewer frames")
    parser.add_argument("--json", action="store_true", help="print the results as one JSON line at the end")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--no-allocate", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--read", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--size", type=int, default=BIG, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        serve(args.no_allocate, args.read, args.size)
        return 0
    size = 8 * MIB if args.quick else BIG
    out: dict = {"message_size": size, "fragment": FRAGMENT}
    modes = [("default", False), ("no_allocate", True)]

    print("bytes per frame (Sans-I/O, tracemalloc; median): allocated while parsing / kept while the frame lives")
    for frame_size, frames in [(64, 400), (16 * 1024, 200), (MIB, 12 if args.quick else 24)]:
        row = {name: sans_io_per_frame(frame_size, borrow, frames) for name, borrow in modes}
        out[f"per_frame_{frame_size}"] = row
        d, n = row["default"], row["no_allocate"]
        print(f"  {frame_size:>8} B frame: default {d['allocated']:>9,} / {d['kept']:>9,}   "
              f"no-allocate {n['allocated']:>7,} / {n['kept']:>7,}   ratio {n['allocated'] / max(d['allocated'], 1):.3f}")

    stream, crc = big_stream(size)
    print(f"peak memory receiving a {size // MIB} MiB message in {FRAGMENT // 1024} KiB fragments, merged:")
    print("  (reads: default frame.data, no-allocate frame.raw.segments; holds: len(frame) only)")
    rows = [
        ("Sans-I/O Connection (tracemalloc), holds", "sans_io_holds", lambda flag: sans_io_big(stream, size, flag), "peak"),
    ]
    for read in (True, False):
        kind = "reads" if read else "holds"
        rows.append((f"in-process Host (tracemalloc), {kind}", f"host_{kind}",
                     lambda flag, read=read: host_big(stream, crc, size, flag, read), "peak"))
        rows.append((f"server process (VmHWM growth), {kind}", f"process_{kind}",
                     lambda flag, read=read: process_big(stream, crc, size, flag, read), "hwm_growth"))
    for label, name, fn, key in rows:
        row = {mode: fn(flag) for mode, flag in modes}
        out[name] = row
        d, n = row["default"][key], row["no_allocate"][key]
        print(f"  {label:44} default {d / MIB:7.1f} MiB   no-allocate {n / MIB:7.1f} MiB   ratio {n / max(d, 1):.2f}")
    if args.json:
        print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
