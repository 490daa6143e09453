"""A peer that hangs makes a case FAILED, never a hung suite: each case is bounded by its own timeout."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator

import pytest

from wsplay import check, runtime
from wsplay.check import Verdict
from wsplay.check.report import Case, ok
from wsplay.check.run import run_case
from wsplay.check.wire import Trace, accept_key

from testenv import UNIT


class Silent:
    """A TCP server that reads forever; with `upgrade`, it answers the handshake first, then says nothing."""

    def __init__(self, upgrade: bool) -> None:
        self.upgrade = upgrade
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(0.05)
        self.url = f"ws://127.0.0.1:{self.listener.getsockname()[1]}/"
        self.stopping = threading.Event()
        self.conns: list[socket.socket] = []
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self) -> None:
        while not self.stopping.is_set():
            try:
                conn, _ = self.listener.accept()
            except socket.timeout:
                continue
            self.conns.append(conn)
            if self.upgrade:
                head = b""
                conn.settimeout(2 * UNIT)
                while b"\r\n\r\n" not in head:
                    head += conn.recv(4096)
                key = next(line.split(b":", 1)[1].strip() for line in head.split(b"\r\n") if line.lower().startswith(b"sec-websocket-key"))
                conn.sendall(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: "
                             + accept_key(key.decode()).encode() + b"\r\n\r\n")  # fmt: skip

    def stop(self) -> None:
        self.stopping.set()
        self.thread.join(5)
        for conn in self.conns:
            conn.close()
        self.listener.close()


@pytest.fixture
def silent() -> Iterator[type[Silent]]:
    made: list[Silent] = []

    def make(upgrade: bool) -> Silent:
        server = Silent(upgrade)
        made.append(server)
        return server

    yield make  # type: ignore[misc]
    for server in made:
        server.stop()


@pytest.mark.parametrize("upgrade", [False, True], ids=["no-answer-to-the-upgrade", "silent-after-the-101"])
def test_a_silent_server_fails_each_case_within_its_timeout(silent, upgrade: bool) -> None:  # type: ignore[no-untyped-def]
    server = silent(upgrade)
    start = time.monotonic()
    result = check.server(server.url, cases="1.1.1,3.1,7.1.1", timeout=0.5 * UNIT, quiet=0.1 * UNIT)
    took = time.monotonic() - start
    assert [c.verdict for c in result] == [Verdict.FAILED] * 3, result.table()
    assert took < 3 * 0.75 * UNIT  # each case at most its timeout, and no more
    first = result["1.1.1"]
    assert ("no answer to the upgrade request" in first.actual) if not upgrade else ("nothing within" in first.actual)


def test_a_case_that_never_ends_is_cut_at_its_timeout() -> None:
    async def forever(ctx: object) -> object:
        await asyncio.sleep(3600)
        return ok("", "")

    class Ctx:
        async def close(self) -> None:
            self.closed = True

    made: list[Ctx] = []

    def make(trace: Trace) -> Ctx:
        made.append(Ctx())
        return made[-1]

    async def run() -> object:
        return await run_case(Case("9.9.9", "sleeps", "RFC 0", forever), make, 0.2 * UNIT)  # type: ignore[arg-type]

    result = runtime.run_sync(run())  # type: ignore[arg-type]
    assert result.verdict is Verdict.FAILED and "still waiting after" in result.actual  # type: ignore[attr-defined]
    assert made[0].closed  # the context was closed anyway


def test_an_error_in_a_case_is_failed_and_says_it_is_the_suite_s() -> None:
    async def broken(ctx: object) -> object:
        raise KeyError("oops")

    class Ctx:
        async def close(self) -> None:
            pass

    async def run() -> object:
        return await run_case(Case("9.9.8", "raises", "RFC 0", broken), lambda trace: Ctx(), UNIT)  # type: ignore[arg-type]

    result = runtime.run_sync(run())  # type: ignore[arg-type]
    assert result.verdict is Verdict.FAILED and "wsplay.check itself" in result.note  # type: ignore[attr-defined]


def test_nothing_listening_is_failed_quickly() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    result = check.server(f"ws://127.0.0.1:{port}/", cases="1.1.1", timeout=UNIT)
    assert result["1.1.1"].verdict is Verdict.FAILED and "cannot connect" in result["1.1.1"].actual
