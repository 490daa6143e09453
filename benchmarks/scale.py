"""The scale of a workshop: 10,000 idle connections and 1,000 active chat clients on one server process.

    python benchmarks/scale.py                                    # wsplay and websockets, both parts (~2.5 min)
    python benchmarks/scale.py --servers wsplay,wsplay-uvloop,websockets --json scale.json
    python benchmarks/scale.py --idle 300 --chat 50 --step 0.5    # a smoke run (tests/test_benchmarks.py)

Every server is its own process on 127.0.0.1, pinned to CPU 0 (the clients run on CPU 1), started
afresh for each part and stopped by PID:

- `wsplay`: `python benchmarks/scale.py serve --example chat|echo`: the host `python -m wsplay serve
  --example ... --quiet --no-development` builds (reactive flavor, the library's defaults, keepalive
  20 s + 20 s), with `.max_connections(None)`: the command line has no flag for that limit, and its
  default of 4,096 would answer 503 to the rest of 10,000. `wsplay-uvloop` adds `--loop uvloop`.
- `websockets`: `benchmarks/servers.py websockets [--chat]`, the benchmark's baseline (compression
  off, as for every server here; no client offers it).

Idle (`--idle`, 10,000): for the chat and for the echo, the connections are opened by two client
processes (half each; 64 handshakes at a time in each), every one of them is pinged and must answer
with its pong, and after a second to settle the growth of the server's VmRSS over what it held before
the first connection, divided by the connections, is the memory per idle connection. Then every
connection must still be served: the chat broadcasts one message from one of them, which every
connection must receive (the time until the last one has it is reported), the echo answers one
message on each. Then each closes with a close handshake (close 1000 back, then the server's FIN).
The growth of VmHWM per connection says how much more the server held while they were opening.
The clients answer the server's keepalive pings throughout, as browsers do.

Chat (`--chat`, 1,000): one process (on uvloop when installed) opens the clients; a warm-up message
goes out every 50 ms until every client has one. Then in steps of `--step` seconds all clients send,
round robin and evenly spaced, at a total rate: 25 messages/s, doubling while the step holds; once a
step fails, halfway between the last rate that held and the lowest that failed, until the two are
within 30% of each other (7 steps at most). Every message is broadcast by the
chat to every client (the sender too), checked byte for byte; a step *holds* when every copy of every
message arrived, the time from a message's write to the arrival of its last copy stays under 100 ms
at p99 (`--p99-ms`) and the clients kept to the schedule; a step that failed while the server waited
for its CPU for 0.1 of the step or more is run again (twice at most). Reported per step: deliveries/s, that time
(p50/p99/max), the server's and the clients' CPU and the deliveries per server CPU-second, and the
fraction of the step the server's threads waited for a CPU that something else had (the scheduler's
run delay, `/proc/PID/task/*/schedstat`): well above 0, the latency measures the neighbours too.
And the server's RSS per chat connection (after the warm-up, before any load).

Anything unexpected (a refused handshake, a missing pong, echo or copy, a wrong byte, a close other
than 1000) is counted in `errors` and the first one described; the exit status is then 1.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import multiprocessing
import os
import resource
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from loadgen import (  # noqa: E402
    CLOSE_1000, Stats, check_response, client_frame, cpu_seconds, own_cpu, parse_frame, status_kib, upgrade_request,
)
from run import PY, Server  # noqa: E402
from servers import until_signalled  # noqa: E402

SERVERS = {
    "wsplay": [PY, str(HERE / "scale.py"), "serve"],
    "wsplay-uvloop": [PY, str(HERE / "scale.py"), "serve", "--loop", "uvloop"],
    "websockets": [PY, str(HERE / "servers.py"), "websockets"],
}
NEEDS = {"wsplay-uvloop": "uvloop"}
CONCURRENT_HANDSHAKES = 64  # per client process
WORKERS = 2  # client processes for the idle connections (a process may hold ~19,000 sockets here)
FIRST_RATE = 25.0  # chat messages per second, all clients together
RATE_STEPS = 7  # steps at most (25, 50, ..., 1,600 messages/s)
RETRIES = 2  # steps that failed while the server waited for its CPU, tried again
STARVED = 0.1  # the server waited this fraction of a step or more for a CPU something else had
SETTLE = 1.0
TIMEOUT = 30.0
WARM_UP = 90_000_000  # message numbers from here on are warm-up messages
FILLER = b" hello from the back row: is the kernel still running? cell 7 says yes"


def server_command(name: str, example: str) -> list[str]:
    command = list(SERVERS[name])
    if name.startswith("wsplay"):
        return [*command, "--example", example]
    return [*command, "--chat"] if example == "chat" else command


def chat_text(m: int) -> bytes:
    return b"%08d" % m + FILLER


def chat_body(payload: bytes) -> bytes | None:
    """The text of a chat message as the chat sends it, "[n]: text" (None if it is not that)."""
    i = payload.find(b"]: ")
    return payload[i + 3 :] if payload[:1] == b"[" and payload[1:i].isdigit() else None


def waited(pid: int) -> float | None:
    """Seconds the process's threads have spent runnable but waiting for a CPU (the scheduler's run
    delay): on a shared machine, what the neighbours took from the server."""
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
        return sum(int(open(f"/proc/{pid}/task/{t}/schedstat").read().split()[1]) for t in tasks) / 1e9
    except (OSError, IndexError, ValueError):
        return None


def now() -> float:
    return time.clock_gettime(time.CLOCK_MONOTONIC)  # system-wide: comparable between the processes


# -- a client connection -------------------------------------------------------------------------------


class Peer(asyncio.Protocol):
    """One client connection: the handshake, then frames.

    Answers the server's pings (keepalive), resolves `pong` on a pong, hands every text message to
    `on_text(peer, payload, arrival)`, and ends with a close handshake: `close()` sends close 1000;
    `lost` resolves once the server has answered it and closed TCP.
    """

    def __init__(self, request: bytes, stats: Stats, on_text: Callable[[Peer, bytes, float], None]) -> None:
        self.request, self.stats, self.on_text = request, stats, on_text
        self.transport: asyncio.Transport | None = None
        self.buf = b""
        self.open = self.closing = False
        self.close_code: bytes | None = None
        loop = asyncio.get_running_loop()
        self.ready = loop.create_future()
        self.lost = loop.create_future()
        self.pong: asyncio.Future | None = None
        self.texts: list[bytes] = []  # what the default receivers keep
        self.expect: bytes | None = None  # the idle part: the text it must receive next
        self.arrived = 0.0  # when the first of them arrived
        self.joined = False  # the chat: it got a warm-up message
        self.seen = bytearray()  # the chat: which messages it got

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        transport.write(self.request)  # type: ignore[attr-defined]

    def fail(self, what: str, mismatch: bool = False) -> None:
        self.stats.error(what, mismatch)
        self.transport.abort()  # type: ignore[union-attr]

    def data_received(self, data: bytes) -> None:
        buf = self.buf + data if self.buf else data
        if not self.open:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                self.buf = buf
                return
            problem = check_response(buf[:end])
            if problem:
                return self.fail(problem)
            self.open, buf = True, buf[end + 4 :]
            self.ready.set_result(True)
        arrival, pos = now(), 0
        while (found := parse_frame(buf, pos)) is not None:
            opcode, fin, payload, pos = found
            if opcode == 1 and fin:
                self.on_text(self, payload, arrival)
            elif opcode == 9:
                self.transport.write(client_frame(10, payload))  # type: ignore[union-attr]
            elif opcode == 10 and self.pong is not None and not self.pong.done():
                self.pong.set_result(payload)
            elif opcode == 8:
                self.close_code = payload[:2]
                if not self.closing:
                    return self.fail(f"the server closed an open connection: {payload[:2]!r} {payload[2:60]!r}")
            else:
                return self.fail(f"unexpected frame: opcode {opcode}, fin {fin}, {payload[:24]!r}", mismatch=True)
        self.buf = buf[pos:]

    def close(self) -> None:
        if not self.lost.done():
            self.closing = True
            self.transport.write(CLOSE_1000)  # type: ignore[union-attr]

    def eof_received(self) -> bool:
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.closing and not self.ready.done():
            self.stats.error(f"connection lost during the handshake ({exc})")
        elif self.closing and self.close_code != b"\x03\xe8":
            self.stats.error(f"closed with {self.close_code!r}, not 1000, after our close 1000")
        if not self.ready.done():
            self.ready.set_result(False)
        if not self.lost.done():
            self.lost.set_result(True)


def keep_text(peer: Peer, payload: bytes, arrival: float) -> None:
    if not peer.texts:
        peer.arrived = arrival
    peer.texts.append(payload)


async def open_peers(url: str, count: int, stats: Stats, on_text: Callable[[Peer, bytes, float], None],
                     first: int = 0) -> list[Peer]:
    """Open `count` connections, CONCURRENT_HANDSHAKES at a time; those that failed are counted in `stats`."""
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    loop = asyncio.get_running_loop()
    sem = asyncio.Semaphore(CONCURRENT_HANDSHAKES)
    peers: list[Peer] = []

    async def one(i: int) -> None:
        async with sem:
            peer = Peer(upgrade_request(host, port, f"/scale/{i}"), stats, on_text)
            try:
                await loop.create_connection(lambda: peer, host, port)
                if await asyncio.wait_for(peer.ready, TIMEOUT):
                    peers.append(peer)
            except (OSError, asyncio.TimeoutError) as exc:
                stats.error(f"connection {i}: {type(exc).__name__}: {exc}")

    await asyncio.gather(*(one(i) for i in range(first, first + count)))
    return peers


async def until(done: Callable[[], bool], timeout: float) -> bool:
    deadline = now() + timeout
    while not done():
        if now() > deadline:
            return False
        await asyncio.sleep(0.005)
    return True


async def close_peers(peers: list[Peer], stats: Stats) -> int:
    """Close handshakes on every connection; how many ended cleanly."""
    for peer in peers:
        peer.close()
    if not await until(lambda: all(p.lost.done() for p in peers), TIMEOUT):
        stats.error(f"{sum(not p.lost.done() for p in peers)} connections not closed by the server "
                    f"{TIMEOUT:.0f} s after our close frame")
        for peer in peers:
            peer.transport.abort()  # type: ignore[union-attr]
    return sum(p.close_code == b"\x03\xe8" for p in peers)


# -- idle: the client processes --------------------------------------------------------------------------


def idle_worker(pipe: Any, url: str, count: int, first: int) -> None:
    """A client process of the idle part: holds `count` connections, does what the pipe says."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    asyncio.run(_idle_worker(pipe, url, count, first))


async def _idle_worker(pipe: Any, url: str, count: int, first: int) -> None:
    loop = asyncio.get_running_loop()
    peers: list[Peer] = []
    broadcast = False  # what "collect" checks: a chat's copy of the text sent, or each connection's echo
    while True:
        command, arg = await loop.run_in_executor(None, pipe.recv)
        if command == "exit":
            return
        stats = Stats()
        t0 = now()
        result: dict[str, Any] = {}
        if command == "open":
            peers = await open_peers(url, count, stats, keep_text, first)
            result["opened"] = len(peers)
        elif command == "ping":  # every connection pinged, every pong awaited
            for i, peer in enumerate(peers):
                peer.pong = loop.create_future()
                peer.transport.write(client_frame(9, b"%d" % i))  # type: ignore[union-attr]
            await until(lambda: all(p.pong.done() for p in peers), TIMEOUT)  # type: ignore[union-attr]
            wrong = [i for i, p in enumerate(peers) if not p.pong.done() or p.pong.result() != b"%d" % i]  # type: ignore[union-attr]
            if wrong:
                stats.error(f"{len(wrong)} connections did not answer their ping with its pong (the first: {wrong[0]})")
            result["pongs"] = len(peers) - len(wrong)
        elif command == "expect":  # the next text of every connection must be the chat's copy of `arg`
            broadcast = True
            for peer in peers:
                peer.texts.clear()
                peer.expect = arg
        elif command == "send":  # the first connection sends `arg` (the chat broadcasts it)
            result["sent_at"] = now()
            peers[0].transport.write(client_frame(1, arg))  # type: ignore[union-attr]
        elif command == "echo":  # every connection sends a text of its own
            result["sent_at"], broadcast = t0, False
            for i, peer in enumerate(peers):
                peer.texts.clear()
                peer.expect = arg + b" %d" % (first + i)
                peer.transport.write(client_frame(1, peer.expect))  # type: ignore[union-attr]
        elif command == "collect":  # wait for what "expect" or "echo" said, on every connection
            await until(lambda: all(p.texts for p in peers), TIMEOUT)
            wrong = [i for i, p in enumerate(peers)
                     if not p.texts or (chat_body(p.texts[0]) if broadcast else p.texts[0]) != p.expect]
            if wrong:
                stats.error(f"{len(wrong)} of {len(peers)} connections did not get the message expected (the "
                            f"first, {first + wrong[0]}, got {peers[wrong[0]].texts[:1]!r})", mismatch=True)
            result["received"] = len(peers) - len(wrong)
            result["last_at"] = max((p.arrived for p in peers if p.texts), default=0.0)
        elif command == "close":
            result["closed"] = await close_peers(peers, stats)
        result.update(seconds=round(now() - t0, 3), errors=stats.errors, first_error=stats.first_error)
        pipe.send(result)


class Workers:
    """The client processes of the idle part, driven command by command (they inherit this process's CPU affinity)."""

    def __init__(self, url: str, total: int) -> None:
        context = multiprocessing.get_context("spawn")
        share = math.ceil(total / WORKERS)
        self.pipes, self.procs = [], []
        for w in range(WORKERS):
            ours, theirs = context.Pipe()
            proc = context.Process(target=idle_worker, args=(theirs, url, min(share, total - w * share), w * share),
                                   daemon=True)
            proc.start()
            self.pipes.append(ours)
            self.procs.append(proc)

    def ask(self, command: str, arg: bytes | None = None, only: int | None = None) -> list[dict]:
        """Send a command to every client process (or to `only`) and wait for the answers."""
        pipes = self.pipes if only is None else [self.pipes[only]]
        for pipe in pipes:
            pipe.send((command, arg))
        answers = []
        for pipe in pipes:
            if pipe.poll(3 * TIMEOUT):
                answers.append(pipe.recv())
            else:
                answers.append({"errors": 1, "first_error": f"a client process did not answer {command!r}"})
        return answers

    def stop(self) -> None:
        for pipe, proc in zip(self.pipes, self.procs):
            if proc.is_alive():
                pipe.send(("exit", None))
            proc.join(10)
            if proc.is_alive():
                proc.kill()  # its own PID only
                proc.join()


def tally_errors(result: dict, answers: list[dict]) -> None:
    for answer in answers:
        result["errors"] += answer.get("errors", 0)
        if answer.get("first_error") and not result.get("first_error"):
            result["first_error"] = answer["first_error"]


def idle(name: str, example: str, count: int, pin: bool, logdir: Path, root: Path) -> dict:
    """The idle part against one server: open `count`, ping all, RSS, check each is served, close."""
    result: dict[str, Any] = {"server": name, "part": "idle", "example": example, "connections": count, "errors": 0}
    server = Server(name, server_command(name, example), pin, logdir, root)
    try:
        time.sleep(SETTLE)
        before = status_kib(server.pid, "VmRSS")
        cpu0 = cpu_seconds(server.pid)
        workers = Workers(server.url, count)
        try:
            t0 = now()
            answers = workers.ask("open")
            opened = sum(a.get("opened", 0) for a in answers)
            result.update(opened=opened, open_s=round(now() - t0, 2), open_server_cpu_s=round(cpu_seconds(server.pid) - cpu0, 2))
            tally_errors(result, answers)
            if opened:
                answers = workers.ask("ping")
                result["pongs"] = sum(a.get("pongs", 0) for a in answers)
                tally_errors(result, answers)
                time.sleep(SETTLE)
                after, hwm = status_kib(server.pid, "VmRSS"), status_kib(server.pid, "VmHWM")
                result.update(rss_before_kib=before, rss_after_kib=after, hwm_kib=hwm)
                if before and after and hwm:
                    result["bytes_per_connection"] = round((after - before) * 1024 / opened)
                    result["peak_per_connection"] = round((hwm - before) * 1024 / opened)  # VmHWM: while opening
                # Is every connection still served? The chat: one broadcast reaches all; the echo: one echo on each.
                if example == "chat":
                    text = chat_text(WARM_UP)
                    tally_errors(result, workers.ask("expect", text))
                    (sent,) = workers.ask("send", text, only=0)
                else:
                    answers = workers.ask("echo", b"are you there?")
                    sent = min(answers, key=lambda a: a.get("sent_at", math.inf))
                answers = workers.ask("collect")
                tally_errors(result, answers)
                result["answered"] = sum(a.get("received", 0) for a in answers)
                if "sent_at" in sent:
                    result["all_answered_ms"] = round((max(a.get("last_at", 0.0) for a in answers) - sent["sent_at"]) * 1000, 1)
            answers = workers.ask("close")
            result["closed"] = sum(a.get("closed", 0) for a in answers)
            tally_errors(result, answers)
        finally:
            workers.stop()
    finally:
        code = server.stop()
    if code not in (0, -signal.SIGTERM):
        tally_errors(result, [{"errors": 1, "first_error": f"the server exited with {code}; see {logdir / (name + '.log')}"}])
    for key, want in (("opened", count), ("pongs", count), ("answered", count), ("closed", count)):
        if result.get(key, 0) != want and not result["errors"]:
            tally_errors(result, [{"errors": 1, "first_error": f"{key}: {result.get(key, 0)} of {want}"}])
    return result


# -- chat: 1,000 active clients --------------------------------------------------------------------------


class Tally:
    """Every chat message's copies: which client got which (once each), and when the last one arrived."""

    def __init__(self, members: int, capacity: int, stats: Stats) -> None:
        self.members, self.capacity, self.stats = members, capacity, stats
        self.count = [0] * capacity
        self.sent_at = [0.0] * capacity
        self.latency = [math.inf] * capacity  # seconds from the write to the arrival of the last copy
        self.sent = 0  # messages sent (numbered from 0)
        self.completed = 0  # messages every member has
        self.text_len = len(chat_text(0))

    def arrived(self, peer: Peer, payload: bytes, arrival: float) -> None:
        body = chat_body(payload)
        if body is None or len(body) != self.text_len or not body.endswith(FILLER) or not body[:8].isdigit():
            return peer.fail(f"not a copy of a chat message: {payload[:60]!r}", mismatch=True)
        m = int(body[:8])
        if m >= WARM_UP:
            peer.joined = True
            return
        if m >= self.sent or peer.seen[m]:
            return peer.fail(f"message {m} {'not sent yet' if m >= self.sent else 'arrived twice'}", mismatch=True)
        peer.seen[m] = 1
        count = self.count[m] = self.count[m] + 1
        if count == self.members:
            self.latency[m] = arrival - self.sent_at[m]
            self.completed += 1

    def send(self, peer: Peer) -> None:
        m = self.sent
        if m >= self.capacity:
            raise RuntimeError("more chat messages than planned for")
        frame = client_frame(1, chat_text(m))
        self.sent_at[m] = now()
        self.sent = m + 1
        peer.transport.write(frame)  # type: ignore[union-attr]


def quantile(values: list[float], q: float) -> float:
    return sorted(values)[min(len(values) - 1, int(len(values) * q))]


async def chat_step(peers: list[Peer], tally: Tally, rate: float, seconds: float, pid: int, limit_ms: float) -> dict:
    """All clients send, round robin and evenly spaced, `rate` messages/s in total for `seconds`."""
    n = max(1, round(rate * seconds))
    first = tally.sent
    t0 = now()
    cpu0, server0, wait0 = own_cpu(), cpu_seconds(pid), waited(pid)
    for k in range(n):
        delay = t0 + k / rate - now()
        if delay > 0:
            await asyncio.sleep(delay)
        tally.send(peers[(first + k) % len(peers)])
    sending = now() - t0
    in_time = await until(lambda: tally.completed == first + n, max(1.0, limit_ms / 1000 * 2))
    end = now()
    cpu1, server1, wait1 = own_cpu(), cpu_seconds(pid), waited(pid)
    if not in_time and not await until(lambda: tally.completed == first + n, TIMEOUT):
        missing = [m for m in range(first, first + n) if tally.count[m] < tally.members]
        tally.stats.error(f"{len(missing)} messages had not reached every client {TIMEOUT:.0f} s after the step "
                          f"(message {missing[0]}: {tally.count[missing[0]]} of {tally.members} copies)")
    elapsed = end - t0
    latencies = tally.latency[first : first + n]
    p99 = quantile(latencies, 0.99) * 1000
    result = {
        "rate": rate, "messages": n, "seconds": round(elapsed, 3),
        "deliveries_per_s": round(n * tally.members / elapsed),
        "p50_ms": round(quantile(latencies, 0.5) * 1000, 1), "p99_ms": round(p99, 1),
        "max_ms": round(max(latencies) * 1000, 1),
        "server_cpu": round((server1 - server0) / elapsed, 3) if server0 is not None and server1 is not None else None,
        "server_waited": round((wait1 - wait0) / elapsed, 3) if wait0 is not None and wait1 is not None else None,
        "loadgen_cpu": round((cpu1 - cpu0) / elapsed, 3),
        "on_schedule": sending <= seconds * 1.1 + 0.05,  # the clients kept to the rate
    }
    if server0 is not None and server1 is not None and server1 > server0:
        result["deliveries_per_server_cpu_s"] = round(n * tally.members / (server1 - server0))
    result["holds"] = in_time and p99 <= limit_ms and result["on_schedule"]
    return result


async def chat_load(url: str, pid: int, clients: int, seconds: float, limit_ms: float, rss_before: int | None) -> dict:
    stats = Stats()
    capacity = math.ceil(FIRST_RATE * 2 ** (RATE_STEPS + 1) * seconds) + RATE_STEPS  # the steps' messages at most
    tally = Tally(clients, capacity, stats)
    result: dict[str, Any] = {"clients": clients}
    t0 = now()
    peers = await open_peers(url, clients, stats, tally.arrived)
    result["connect_s"] = round(now() - t0, 2)
    for peer in peers:
        peer.seen = bytearray(capacity)
    # Warm-up: a message every 50 ms until every client has one (a server may count a client in a little
    # after its 101); from then on every client must get every message.
    warm, deadline = WARM_UP, now() + 10
    while not stats.errors and peers and not all(p.joined for p in peers) and now() < deadline:
        peers[0].transport.write(client_frame(1, chat_text(warm)))  # type: ignore[union-attr]
        warm += 1
        await asyncio.sleep(0.05)
    if len(peers) < clients or not all(p.joined for p in peers):
        stats.error(stats.first_error or f"{sum(not p.joined for p in peers)} of {clients} clients got no warm-up message")
    await asyncio.sleep(SETTLE)  # the last warm-up copies are in; the server's heap has settled
    rss = status_kib(pid, "VmRSS")
    if rss and rss_before:
        result.update(rss_before_kib=rss_before, rss_connected_kib=rss,
                      bytes_per_connection=round((rss - rss_before) * 1024 / clients))
    steps: list[dict] = []
    rate, good, bad, retries = FIRST_RATE, 0.0, 0.0, RETRIES
    while not stats.errors and len(steps) - (RETRIES - retries) < RATE_STEPS:
        step = await chat_step(peers, tally, rate, seconds, pid, limit_ms)
        steps.append(step)
        if not step["holds"] and (step["server_waited"] or 0) > STARVED and retries:
            step["retried"] = True  # the neighbours had the server's CPU: once more before calling it a failure
            retries -= 1
            continue
        if step["holds"]:
            good = rate
        else:
            bad = rate
        if not bad:
            rate *= 2
        elif good and bad > good * 1.3:  # halfway between the last that held and the lowest that failed
            rate = round((good + bad) / 2)
        else:
            break
    result["steps"] = steps
    held = [s for s in steps if s["holds"]]
    if held:
        best = max(held, key=lambda s: s["rate"])
        result.update(holds_rate=best["rate"], holds_deliveries_per_s=best["deliveries_per_s"],
                      holds_p50_ms=best["p50_ms"], holds_p99_ms=best["p99_ms"], holds_server_cpu=best["server_cpu"])
    result["rss_end_kib"] = status_kib(pid, "VmRSS")
    result["closed"] = await close_peers(peers, stats)
    if result["closed"] != clients and not stats.errors:
        stats.error(f"{result['closed']} of {clients} chat clients closed cleanly")
    result.update(errors=stats.errors, mismatches=stats.mismatches)
    if stats.first_error:
        result["first_error"] = stats.first_error
    return result


def chat(name: str, clients: int, seconds: float, limit_ms: float, pin: bool, logdir: Path, root: Path) -> dict:
    from loadgen import run as run_loop  # uvloop when installed: it reads a thousand sockets cheaper

    server = Server(name, server_command(name, "chat"), pin, logdir, root)
    try:
        time.sleep(SETTLE)
        result = run_loop(chat_load(server.url, server.pid, clients, seconds, limit_ms,
                                    status_kib(server.pid, "VmRSS")), fast_loop=True)
    finally:
        code = server.stop()
    if code not in (0, -signal.SIGTERM):
        tally_errors(result, [{"errors": 1, "first_error": f"the server exited with {code}; see {logdir / (name + '.log')}"}])
    return {"server": name, "part": "chat", **result}


# -- the wsplay server, and main ---------------------------------------------------------------------------


def serve(example: str, loop: str | None) -> int:
    """The host `python -m wsplay serve --example EXAMPLE --quiet --no-development` builds, without its
    limit of 4,096 connections; prints its URL, serves until SIGTERM or SIGINT."""
    from wsplay import Host, runtime
    from wsplay.examples import build_example

    if loop:
        runtime.use_loop(loop)
    host = Host.create().handler(build_example(example, "reactive")).port(0).bind("127.0.0.1").defaults()
    host.max_connections(None).start()
    try:
        until_signalled(host.url)
    finally:
        host.stop()
    return 0


def table(rows: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["| " + " | ".join(c.ljust(w) for c, w in zip(r, widths)) + " |" for r in rows]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)


def report(results: list[dict]) -> str:
    idle_rows = [["server", "example", "connections", "opened in s", "server RSS before MiB", "RSS per connection",
                  "peak per connection", "pongs", "answered", "all answered in ms", "closed cleanly", "errors"]]
    for r in results:
        if r["part"] == "idle":
            idle_rows.append([r["server"], r["example"], f"{r['connections']:,}", f"{r.get('open_s', 0):.1f}",
                              f"{(r.get('rss_before_kib') or 0) / 1024:.1f}", f"{r.get('bytes_per_connection', 0) / 1000:.1f} KB",
                              f"{r.get('peak_per_connection', 0) / 1000:.1f} KB",
                              f"{r.get('pongs', 0):,}", f"{r.get('answered', 0):,}", f"{r.get('all_answered_ms', 0):,.0f}",
                              f"{r.get('closed', 0):,}", str(r["errors"])])
    chat_rows = [["server", "clients", "messages/s", "deliveries/s", "last copy p50 ms", "p99 ms", "max ms",
                  "server CPU", "server waited", "deliveries per server CPU-s", "clients' CPU", "holds"]]
    lines = []
    for r in results:
        if r["part"] == "chat":
            for s in r.get("steps", []):
                chat_rows.append([r["server"], f"{r['clients']:,}", f"{s['rate']:,.0f}", f"{s['deliveries_per_s']:,}",
                                  f"{s['p50_ms']:,.1f}", f"{s['p99_ms']:,.1f}", f"{s['max_ms']:,.1f}",
                                  f"{s['server_cpu']:.2f}", f"{s['server_waited'] or 0:.2f}",
                                  f"{s.get('deliveries_per_server_cpu_s', 0):,}",
                                  f"{s['loadgen_cpu']:.2f}" + (" !" if s["loadgen_cpu"] >= 0.9 else ""),
                                  "yes" if s["holds"] else "no" + ("" if s["on_schedule"] else " (clients behind)")
                                  + (", starved: again" if s.get("retried") else "")])
            held = (f"holds {r['holds_rate']:,.0f} messages/s ({r['holds_deliveries_per_s']:,} deliveries/s; last copy "
                    f"p50 {r['holds_p50_ms']} ms, p99 {r['holds_p99_ms']} ms; server CPU {r['holds_server_cpu']:.2f})"
                    if "holds_rate" in r else "held no rate")
            lines.append(f"  {r['server']}: {held}; RSS per chat connection {r.get('bytes_per_connection', 0) / 1000:.1f} KB, "
                         f"{r.get('errors', 0)} errors")
    out = ([f"Idle connections:\n\n{table(idle_rows)}"] if len(idle_rows) > 1 else []) + (
        [f"Active chat clients (one step per row):\n\n{table(chat_rows)}\n\n" + "\n".join(lines)] if lines else [])
    firsts = [f"  first error, {r['server']} {r['part']} {r.get('example', '')}: {r['first_error']}"
              for r in results if r.get("first_error")]
    return "\n\n".join(out + (["\n".join(firsts)] if firsts else []))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command")
    served = commands.add_parser("serve", help="run wsplay's chat or echo without the connection limit (used by the run)")
    served.add_argument("--example", choices=("chat", "echo"), default="chat")
    served.add_argument("--loop", choices=("asyncio", "uvloop"))
    parser.add_argument("--servers", default="wsplay,websockets", help="comma-separated: " + ", ".join(SERVERS))
    parser.add_argument("--idle", type=int, default=10_000, help="idle connections (default 10,000; 0: no idle part)")
    parser.add_argument("--idle-examples", default="chat,echo", help="the idle part's servers (default chat,echo)")
    parser.add_argument("--chat", type=int, default=1_000, help="active chat clients (default 1,000; 0: no chat part)")
    parser.add_argument("--step", type=float, default=3.0, help="seconds per chat rate (default 3)")
    parser.add_argument("--p99-ms", type=float, default=100.0, help="a chat rate holds while p99 stays under this")
    parser.add_argument("--json", metavar="FILE", help="write every result and the machine to FILE")
    parser.add_argument("--no-pin", action="store_true", help="do not pin (server CPU 0, clients CPU 1)")
    parser.add_argument("--wsplay", metavar="DIR", type=Path, default=HERE.parent,
                        help="the checkout whose wsplay package is measured (default: this one)")
    args = parser.parse_args(argv)
    if args.command == "serve":
        return serve(args.example, args.loop)

    import importlib.util

    from run import machine

    servers = [s.strip() for s in args.servers.split(",") if s.strip()]
    unknown = [s for s in servers if s not in SERVERS]
    if unknown:
        parser.error(f"unknown server: {', '.join(unknown)}")
    missing = [s for s in servers if s in NEEDS and importlib.util.find_spec(NEEDS[s]) is None]
    if missing:
        parser.error(f"not installed: {', '.join(NEEDS[s] for s in missing)}")
    root = args.wsplay.resolve()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    pin = not args.no_pin and shutil.which("taskset") is not None and (os.cpu_count() or 1) >= 2
    if pin:
        os.sched_setaffinity(0, {1})  # this process and the client processes it starts; the servers get CPU 0
    info = machine(root)
    info["pinned"] = pin
    logdir = Path(tempfile.mkdtemp(prefix="wsplay-scale-"))
    print(f"# {info['date']}  wsplay {info['revision']} ({root})  nproc {info['nproc']}  load "
          f"{' '.join(f'{x:.2f}' for x in info['loadavg_start'])}  pinned {pin}  logs {logdir}", flush=True)
    results = []
    started = now()
    for name in servers:
        if args.idle:
            for example in [e.strip() for e in args.idle_examples.split(",") if e.strip()]:
                results.append(idle(name, example, args.idle, pin, logdir, root))
                print(json.dumps(results[-1]), flush=True)
        if args.chat:
            results.append(chat(name, args.chat, args.step, args.p99_ms, pin, logdir, root))
            print(json.dumps(results[-1]), flush=True)
    info["loadavg_end"] = os.getloadavg()
    print()
    print(report(results))
    print(f"\n# {now() - started:.0f} s; load average at the end: {' '.join(f'{x:.2f}' for x in info['loadavg_end'])}")
    if args.json:
        Path(args.json).write_text(json.dumps({"machine": info, "command": " ".join(sys.argv), "results": results}, indent=1))
    return 1 if any(r.get("errors") for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
