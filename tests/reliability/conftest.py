"""Shared helpers for the reliability tests: hostile input, slow and vanishing peers, load, limits.

Every test runs on 127.0.0.1 (port 0) and is bounded in time: each timeout is a multiple of UNIT
(seconds; raise WSPLAY_TEST_UNIT on a slow machine). Frames sent to the server are built by hand
with `struct` (never with wsplay's encoder); the healthy peer is the `websockets` client, so the
engine is never only checked against its own codec. Hosts, sockets, threads and load processes are
owned by fixtures and cleaned up after each test, whatever happened in it.

Plain helpers are handed out by the `rel` fixture; the raw-wire ones live in tests/rawws.py, shared
with the engine tests.
"""

from __future__ import annotations

import asyncio
import gc
import random
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from websockets.sync.client import connect


from rawws import KEY, UNIT, RawClient, close_code_of, mask_frame, parse_server_frames, upgrade_request, wait_for
from testenv import echo_endpoint

HERE = Path(__file__).resolve().parent
LOADGEN = HERE / "loadgen.py"


# -- waiting, memory, peers -----------------------------------------------------------------------------


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
    echo_builder = staticmethod(echo_endpoint)


@pytest.fixture
def rel() -> type[Rel]:
    return Rel


# -- owned resources ------------------------------------------------------------------------------------


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
