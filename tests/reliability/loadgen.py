"""Client-side load for the reliability tests, run as a separate process (a core of its own).

    python loadgen.py soak URL --connections 1000 --seconds 15 --seed N
    python loadgen.py hold URL --connections 500

`soak` keeps CONNECTIONS `websockets` clients busy for SECONDS: each slot is either healthy (sends
random text and binary messages, a few in flight at once, and checks every echo byte for byte) or
doomed (exchanges a few messages, then vanishes abruptly: abort, RST, or half a frame then RST) and
is replaced by a new connection. `hold` opens CONNECTIONS clients, prints "ready", and reports the
close code each one receives and when. Both print one JSON line of results on stdout.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import os
import random
import socket
import struct
import sys
import time

from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed


def message(rng: random.Random) -> str | bytes:
    roll = rng.random()
    size = rng.randint(0, 2000) if roll < 0.9 else rng.choice([0, 125, 126, 65535, 65536, 100_000])
    if rng.random() < 0.5:
        return "".join(rng.choice("abc €😀é") for _ in range(size // 3))
    return rng.randbytes(size)


def vanish(ws, how: str) -> None:
    transport = ws.transport
    sock = transport.get_extra_info("socket")
    if how in ("rst", "half-frame") and sock is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    if how == "half-frame":
        payload = os.urandom(300)
        head = struct.pack("!BBH", 0x82, 0x80 | 126, len(payload)) + os.urandom(4)
        transport.write(head + payload[:150])  # half a frame, then gone
    transport.abort()


async def soak(url: str, connections: int, seconds: float, seed: int, doomed_share: float) -> dict:
    stats: collections.Counter = collections.Counter()
    failures: list[str] = []
    open_now = 0
    peak = 0
    stop = time.monotonic() + seconds
    gate = asyncio.Semaphore(200)  # opening handshakes in flight at once

    async def healthy(rng: random.Random) -> None:
        async with gate:
            ws = await connect(url, max_size=None, open_timeout=20, close_timeout=10, compression=None)
        nonlocal open_now, peak
        open_now += 1
        peak = max(peak, open_now)
        try:
            while time.monotonic() < stop:
                batch = [message(rng) for _ in range(rng.randint(1, 3))]  # pipelined: order matters too
                for m in batch:
                    await ws.send(m)
                for m in batch:
                    answer = await asyncio.wait_for(ws.recv(), 20)
                    if type(answer) is not type(m) or answer != m:
                        stats["corrupted"] += 1
                        failures.append(f"echo differs: sent {len(m)} {type(m).__name__}, got {len(answer)}")
                    else:
                        stats["echoes"] += 1
                        stats["echo_bytes"] += len(m)
                await asyncio.sleep(rng.random() * 0.05)
            await ws.close()
            stats["healthy_closed_cleanly" if ws.close_code == 1000 else "healthy_close_other"] += 1
        finally:
            open_now -= 1

    async def doomed(rng: random.Random) -> None:
        async with gate:
            ws = await connect(url, max_size=None, open_timeout=20, close_timeout=10, compression=None)
        nonlocal open_now, peak
        open_now += 1
        peak = max(peak, open_now)
        try:
            for _ in range(rng.randint(0, 10)):
                m = message(rng)
                await ws.send(m)
                if rng.random() < 0.7:  # sometimes vanish with the echo still on its way
                    await asyncio.wait_for(ws.recv(), 20)
                await asyncio.sleep(rng.random() * 0.05)
            how = rng.choice(["abort", "rst", "half-frame"])
            vanish(ws, how)
            stats[f"vanished_{how}"] += 1
        except ConnectionClosed as exc:
            failures.append(f"doomed client closed by the server first: {exc}")
        finally:
            open_now -= 1

    async def slot(n: int) -> None:
        rng = random.Random(seed * 100_000 + n)
        while time.monotonic() < stop:
            kind = doomed if rng.random() < doomed_share else healthy
            try:
                await kind(rng)
                stats["connections"] += 1
            except Exception as exc:  # a healthy connection lost or refused: the test fails on it
                stats["lost"] += 1
                failures.append(f"{kind.__name__}: {type(exc).__name__}: {exc}")

    started = time.monotonic()
    await asyncio.gather(*(slot(n) for n in range(connections)))
    return {
        "stats": dict(stats),
        "failures": failures[:50],
        "failure_count": len(failures),
        "peak_open": peak,
        "elapsed": time.monotonic() - started,
    }


async def hold(url: str, connections: int) -> dict:
    gate = asyncio.Semaphore(200)

    async def one() -> object:
        async with gate:
            return await connect(url, open_timeout=20, close_timeout=10, compression=None, ping_interval=None)

    clients = await asyncio.gather(*(one() for _ in range(connections)))
    closes: list[tuple[int | None, float]] = []

    async def wait(ws) -> None:
        try:
            await ws.recv()
        except ConnectionClosed:
            pass
        received = ws.protocol.close_rcvd
        closes.append((received.code if received else None, time.time()))

    waits = [asyncio.create_task(wait(ws)) for ws in clients]
    print("ready", flush=True)
    await asyncio.wait(waits, timeout=60)
    return {"closes": closes, "opened": len(clients)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=["soak", "hold"])
    parser.add_argument("url")
    parser.add_argument("--connections", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--doomed", type=float, default=0.3)
    args = parser.parse_args()
    if args.mode == "soak":
        result = asyncio.run(soak(args.url, args.connections, args.seconds, args.seed, args.doomed))
    else:
        result = asyncio.run(hold(args.url, args.connections))
    print(json.dumps(result), flush=True)
    sys.exit(0)


if __name__ == "__main__":
    main()
