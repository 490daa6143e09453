"""`Host` lifecycle as notebooks use it: start twice, stop twice, from threads and from running loops.

Every host listens on 127.0.0.1 and is stopped by the `hosts` fixture; every subprocess is killed
by its PID. Each wait is a multiple of WAIT.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable

import pytest

from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

import wsplay
import wsplay.examples
from wsplay import Host, HostError, InvalidState, runtime

from testenv import UNIT, wait_for

WAIT = 5 * UNIT  # seconds: each wait here


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def client(url: str):
    return connect(url, open_timeout=WAIT, close_timeout=WAIT)


def echo_once(url: str, text: str = "ping?") -> str:
    with client(url) as ws:
        ws.send(text)
        return ws.recv(timeout=WAIT)


def close_code_seen(ws) -> int | None:
    """Block until the server closes `ws`; return the code of its close frame."""
    with pytest.raises(ConnectionClosed) as info:
        while True:
            ws.recv(timeout=WAIT)
    return info.value.rcvd.code if info.value.rcvd else None


@pytest.fixture
def hosts(hosts: Callable[..., Host]) -> Callable[..., Host]:
    """The shared factory (tests/conftest.py): `hosts(port=0)` builds an echo host, not started yet."""

    def make(port: int = 0) -> Host:
        return hosts(wsplay.examples.echo(), port=port, start=False, close_timeout=WAIT)

    return make


# -- start ----------------------------------------------------------------------------------------


def test_start_twice_on_one_port_replaces_the_first_host(hosts):
    port = free_port()
    first = hosts(port).start()
    with client(first.url) as ws:
        ws.send("before")
        assert ws.recv(timeout=WAIT) == "before"
        second = hosts(port).start()  # re-running the cell that starts the host
        assert close_code_seen(ws) == 1001
    assert not first.running
    assert second.running and second.bound_port == port
    assert echo_once(second.url, "after") == "after"


def test_starting_the_same_host_twice_is_harmless(hosts):
    host = hosts().start()
    port = host.bound_port
    with client(host.url) as ws:
        assert host.start() is host
        assert host.running and host.bound_port == port
        ws.send("still connected")
        assert ws.recv(timeout=WAIT) == "still connected"
        assert len(host.connections) == 1


def test_start_with_nothing_to_serve_says_what_to_add():
    with pytest.raises(HostError, match=r"\.handler\("):
        Host.create().port(0).start()


def test_a_port_held_by_another_program_raises_host_error():
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import socket, sys, time\n"
            "s = socket.socket()\n"
            "s.bind(('127.0.0.1', 0))\n"
            "s.listen()\n"
            "print(s.getsockname()[1], flush=True)\n"
            "time.sleep(60)\n",
        ],
        stdout=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert holder.stdout is not None
        port = int(holder.stdout.readline())
        host = Host.create().handler(wsplay.examples.echo()).port(port)
        with pytest.raises(HostError) as info:
            host.start()
        message = str(info.value)
        assert str(port) in message
        assert ".port(0)" in message
        assert not host.running
    finally:
        holder.kill()
        holder.wait(WAIT)
        if holder.stdout is not None:
            holder.stdout.close()


def test_start_and_stop_from_inside_a_running_event_loop(hosts):
    host = hosts()

    async def main() -> list[str]:
        seen = []
        assert await host.start() is host  # coroutine code awaits, while this thread runs a loop of its own
        seen.append(await asyncio.to_thread(echo_once, host.url, "one"))
        await host.stop()
        assert not host.running
        assert await host.restart() is host
        seen.append(await asyncio.to_thread(echo_once, host.url, "two"))
        await host.stop()
        await host.stop()
        return seen

    assert asyncio.run(asyncio.wait_for(main(), 4 * WAIT)) == ["one", "two"]
    assert not host.running


def test_start_without_await_in_coroutine_code_says_to_await(hosts):
    host = hosts()

    async def main() -> str:
        pending = host.start()  # forgot the await: the host starts all the same
        with pytest.raises(AttributeError, match="await") as info:
            pending.url
        assert await pending is host and host.running
        await host.stop()
        return str(info.value)

    message = asyncio.run(asyncio.wait_for(main(), 4 * WAIT))
    assert "Host.start" in message and "has not finished" in message


def test_start_on_the_wsplay_loop_is_awaited(hosts):
    host = hosts()

    async def on_loop() -> bool:
        assert await host.start() is host  # a handler or task on wsplay's loop awaits like any coroutine
        running = host.running
        await host.stop()
        return running

    assert runtime.run_sync(on_loop(), WAIT) is True
    assert not host.running


def test_the_old_async_twins_warn_and_still_work(hosts):
    host = hosts()

    async def main() -> None:
        with pytest.deprecated_call(match="await host.start()"):
            assert await host.start_async() is host
        await host.stop()

    asyncio.run(asyncio.wait_for(main(), 4 * WAIT))
    assert not host.running


# -- stop -----------------------------------------------------------------------------------------


def test_stop_twice_closes_clients_with_1001(hosts):
    host = hosts().start()
    with client(host.url) as ws:
        wait_for(lambda: len(host.connections) == 1, what="the connection")
        host.stop()
        assert close_code_seen(ws) == 1001
    assert not host.running
    assert host.connections == []
    host.stop()  # again: nothing to do, no error
    assert not host.running


def test_stop_before_start_is_harmless(hosts):
    host = hosts()
    host.stop()

    async def await_it() -> None:
        await host.stop()

    asyncio.run(await_it())
    assert not host.running
    host.start()
    assert echo_once(host.url) == "ping?"


def test_stop_all_stops_every_host(hosts):
    a, b = hosts().start(), hosts().start()
    with client(a.url) as ws:
        wait_for(lambda: len(a.connections) == 1, what="the connection")
        wsplay.stop_all()
        assert close_code_seen(ws) == 1001
    assert not a.running and not b.running
    for host in (a, b):
        with pytest.raises(OSError):
            echo_once(host.url)


def test_restart_keeps_a_port_0_host_on_its_port(hosts):
    host = hosts(0).start()
    port = host.bound_port
    assert port
    with client(host.url) as ws:
        host.restart()
        assert close_code_seen(ws) == 1001
    assert host.running and host.bound_port == port
    assert echo_once(host.url) == "ping?"
    host.stop()
    host.start()  # a fresh start of a port-0 host may pick any free port again
    assert host.running


def test_awaiting_stop_inside_a_handler_returns_promptly():
    finished = threading.Event()
    holder: dict[str, Host] = {}

    async def on_message(connection, frame):
        await holder["host"].stop()
        finished.set()

    host = Host.create().handler(wsplay.Websocket.functional().on_message(on_message)).port(0).close_timeout(1)
    holder["host"] = host.start()
    try:
        with client(host.url) as ws:
            ws.send("stop, please")
            assert close_code_seen(ws) == 1001
        assert finished.wait(0.5), "the handler never got past `await host.stop()`"
    finally:
        host.stop()


def test_awaiting_stop_from_a_loop_that_holds_a_client_returns_promptly(hosts):
    from websockets.asyncio.client import connect as async_connect

    host = hosts().close_timeout(1).start()

    async def main() -> float:
        async with async_connect(host.url, open_timeout=WAIT, close_timeout=WAIT) as ws:
            await ws.send("x")
            assert await ws.recv() == "x"
            started = time.monotonic()
            await host.stop()
            return time.monotonic() - started

    assert asyncio.run(asyncio.wait_for(main(), 2 * WAIT)) < 0.5


# -- threads --------------------------------------------------------------------------------------


def test_write_to_a_connection_from_another_thread_and_a_foreign_loop(hosts):
    host = hosts().start()
    with client(host.url) as ws:
        wait_for(lambda: len(host.connections) == 1, what="the connection")
        connection = host.connections[0]
        errors: list[BaseException] = []

        def from_thread() -> None:
            try:
                connection.write("from a thread")
            except BaseException as exc:  # reported below, in the test's thread
                errors.append(exc)

        worker = threading.Thread(target=from_thread)
        worker.start()
        worker.join(WAIT)
        assert not worker.is_alive() and errors == []
        assert ws.recv(timeout=WAIT) == "from a thread"

        async def foreign() -> None:
            await connection.write("from a foreign loop")
            await connection.write(b"\x00\x01", wsplay.FrameType.BINARY)

        asyncio.run(asyncio.wait_for(foreign(), WAIT))
        assert ws.recv(timeout=WAIT) == "from a foreign loop"
        assert ws.recv(timeout=WAIT) == b"\x00\x01"


def test_the_server_answers_while_the_thread_that_started_it_sleeps(hosts):
    host = hosts()
    started = threading.Event()

    def cell() -> None:  # what a notebook cell does: start, then block
        host.start()
        started.set()
        time.sleep(2)

    blocker = threading.Thread(target=cell, name="sleeping-cell")
    blocker.start()
    try:
        assert started.wait(WAIT)
        round_trips = 0
        with client(host.url) as ws:
            deadline = time.monotonic() + 1.0
            while time.monotonic() < deadline:
                ws.send(f"m{round_trips}")
                assert ws.recv(timeout=WAIT) == f"m{round_trips}"
                round_trips += 1
        assert blocker.is_alive(), "the measurement must happen while the starting thread sleeps"
        assert round_trips > 100
    finally:
        blocker.join(2 * WAIT)


def test_run_sync_on_the_loop_thread_raises_instead_of_deadlocking():
    async def inner() -> int:
        return 1

    async def on_loop() -> str:
        coro = inner()
        with pytest.raises(InvalidState, match="await") as info:
            runtime.run_sync(coro)
        assert coro.cr_frame is None  # closed, so no "never awaited" warning
        return str(info.value)

    started = time.monotonic()
    message = runtime.run_sync(on_loop(), WAIT)
    assert time.monotonic() - started < WAIT
    assert "block" in message


# -- URLs, development page, console --------------------------------------------------------------


def test_url_forms(hosts):
    assert Host.create().url == "ws://127.0.0.1:8080/"
    assert Host.create().client_url == "http://127.0.0.1:8080/"
    assert Host.create().port(9001).url == "ws://127.0.0.1:9001/"
    assert Host.create().bind("0.0.0.0").port(9001).url == "ws://127.0.0.1:9001/"
    assert Host.create().bind("::1").port(9001).url == "ws://[::1]:9001/"
    assert Host.create().bind("::").port(9001).client_url == "http://[::1]:9001/"
    assert Host.create().bind("localhost").port(9001).url == "ws://localhost:9001/"

    host = hosts(0).start()
    port = host.bound_port
    assert port and port != 0
    assert host.url == f"ws://127.0.0.1:{port}/"
    assert host.client_url == f"http://127.0.0.1:{port}/"


def test_development_serves_the_client_page(hosts):
    host = hosts().development().start()
    with urllib.request.urlopen(host.client_url, timeout=WAIT) as response:
        assert response.status == 200
        assert response.headers.get_content_type() == "text/html"
        page = response.read().decode("utf-8")
    assert "sendForm" in page
    assert echo_once(host.url) == "ping?"  # the same port still upgrades WebSocket clients


def test_without_development_a_plain_get_gets_426(hosts):
    host = hosts().start()
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(host.client_url, timeout=WAIT)
    info.value.close()
    assert info.value.code == 426


def _get_page(host: Host) -> str:
    with urllib.request.urlopen(host.direct_client_url, timeout=WAIT) as response:
        assert response.status == 200 and response.headers.get_content_type() == "text/html"
        return response.read().decode("utf-8")


def test_page_serves_html_written_in_a_cell_and_can_change_while_running(hosts, tmp_path):
    mine = "<!DOCTYPE html><title>mine</title><script>new WebSocket(location.href.replace('http', 'ws'))</script>"
    host = hosts().page(mine).start()  # no development(): page() alone serves it
    assert _get_page(host) == mine
    assert echo_once(host.url) == "ping?"  # the same port still upgrades WebSocket clients
    host.page(mine.replace("mine", "edited").encode())  # a running host: the next GET gets the new page
    assert "<title>edited</title>" in _get_page(host)
    file = tmp_path / "page.html"
    file.write_text("<p>from a file</p>", encoding="utf-8")
    host.page(file)
    assert _get_page(host) == "<p>from a file</p>"
    host.page(None)  # back to nothing of its own: no development mode, so 426 again
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(host.direct_client_url, timeout=WAIT)
    info.value.close()
    assert info.value.code == 426


def test_development_keeps_a_page_of_its_own_and_none_brings_back_the_chat_page(hosts):
    host = hosts().page("<p>mine</p>").development().start()  # development() after page() keeps the page
    assert _get_page(host) == "<p>mine</p>"
    host.page(None)
    assert "sendForm" in _get_page(host)  # the built-in chat page again
    with pytest.raises(ValueError, match="empty"):
        host.page("")
    with pytest.raises(TypeError, match="str or bytes"):
        host.page(42)  # type: ignore[arg-type]


def test_console_logs_connections(hosts, caplog):
    logger = logging.getLogger("wsplay")
    level, handlers = logger.level, list(logger.handlers)
    try:
        caplog.set_level(logging.INFO, logger="wsplay")
        host = hosts().console().start()
        with client(host.url) as ws:
            wait_for(lambda: len(host.connections) == 1, what="the connection")
            connection_id = host.connections[0].id
            ws.send("x")
            ws.recv(timeout=WAIT)
        wait_for(lambda: not host.connections, what="the close")
        wait_for(
            lambda: any(f"connection {connection_id} closed" in m for m in caplog.messages),
            what="the close line",
        )
        lines = [m for m in caplog.messages if f"connection {connection_id} " in m]
        assert any("opened from 127.0.0.1" in m for m in lines), lines
        assert any("closed by the client: 1000" in m for m in lines), lines
        assert any(f"listening on {host.url}" in m for m in caplog.messages)
    finally:
        logger.setLevel(level)
        for handler in list(logger.handlers):
            if handler not in handlers:
                logger.removeHandler(handler)
