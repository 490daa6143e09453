"""``python -m wsplay serve`` as a user runs it: a real subprocess on 127.0.0.1."""

from __future__ import annotations

import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

REPO = Path(__file__).resolve().parents[1]
FLAVORS = ["reactive", "functional", "imperative", "legacy"]
URL_LINE = re.compile(r"ws://127\.0\.0\.1:(\d+)/")

STARTUP_TIMEOUT = 20  # first stdout line
EXIT_TIMEOUT = 10  # after SIGTERM
IO_TIMEOUT = 10  # one WebSocket receive or HTTP fetch


@dataclass
class Server:
    process: subprocess.Popen[str]
    lines: queue.Queue[str | None]
    stderr_path: Path
    url: str
    port: int

    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace")


def _spawn(args: list[str], stderr_path: Path) -> tuple[subprocess.Popen[str], queue.Queue[str | None]]:
    """Start the CLI; a thread drains stdout into a queue (None marks end of output)."""
    # stderr goes to a file: console logs must never fill a pipe nobody reads and stall the server.
    with stderr_path.open("w") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-m", "wsplay", *args],
            cwd=REPO,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
    lines: queue.Queue[str | None] = queue.Queue()

    def drain() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.put(line.rstrip("\n"))
        lines.put(None)

    threading.Thread(target=drain, daemon=True).start()
    return process, lines


def _kill(process: subprocess.Popen[str]) -> None:
    if process.poll() is None:
        os.kill(process.pid, signal.SIGKILL)
        process.wait(EXIT_TIMEOUT)


@contextmanager
def serve(tmp_path: Path, *args: str) -> Iterator[Server]:
    """Run ``python -m wsplay serve --port 0 ARGS`` and yield once it printed its URL."""
    stderr_path = tmp_path / f"stderr-{len(list(tmp_path.glob('stderr-*')))}.txt"
    process, lines = _spawn(["serve", "--port", "0", "--bind", "127.0.0.1", *args], stderr_path)
    try:
        try:
            first = lines.get(timeout=STARTUP_TIMEOUT)
        except queue.Empty:
            pytest.fail(f"no URL on stdout within {STARTUP_TIMEOUT} s; stderr:\n{stderr_path.read_text()}")
        assert first is not None, f"exited with {process.wait(EXIT_TIMEOUT)} first; stderr:\n{stderr_path.read_text()}"
        match = URL_LINE.fullmatch(first)
        assert match, f"first stdout line is not a ws://127.0.0.1:<port>/ URL: {first!r}"
        port = int(match.group(1))
        assert port != 0
        yield Server(process, lines, stderr_path, first, port)
    finally:
        _kill(process)


def stop(server: Server) -> None:
    """Send SIGTERM and assert a clean exit 0."""
    server.process.send_signal(signal.SIGTERM)
    try:
        code = server.process.wait(EXIT_TIMEOUT)
    except subprocess.TimeoutExpired:
        pytest.fail(f"still running {EXIT_TIMEOUT} s after SIGTERM; stderr:\n{server.stderr()}")
    assert code == 0, f"exit code {code}; stderr:\n{server.stderr()}"


def check_client_page(server: Server) -> None:
    with urllib.request.urlopen(f"http://127.0.0.1:{server.port}/", timeout=IO_TIMEOUT) as response:
        assert response.status == 200
        assert "text/html" in response.headers.get("Content-Type", "")
        body = response.read().decode("utf-8")
    assert "sendForm" in body
    assert 'id="incoming"' in body


def test_second_line_points_at_client_page(tmp_path: Path) -> None:
    with serve(tmp_path, "--example", "chat") as server:
        second = server.lines.get(timeout=STARTUP_TIMEOUT)
        assert second is not None
        assert f"http://127.0.0.1:{server.port}/" in second
        assert "browser" in second
        stop(server)


@pytest.mark.parametrize("flavor", FLAVORS)
def test_echo(tmp_path: Path, flavor: str) -> None:
    with serve(tmp_path, "--example", "echo", "--flavor", flavor) as server:
        with connect(server.url, open_timeout=IO_TIMEOUT, close_timeout=IO_TIMEOUT) as ws:
            ws.send("héllo, wsplay")
            assert ws.recv(timeout=IO_TIMEOUT) == "héllo, wsplay"
            payload = bytes(range(256)) * 3
            ws.send(payload)
            assert ws.recv(timeout=IO_TIMEOUT) == payload
            # A fragmented message reaches the handler merged (the default), so it echoes whole.
            ws.send(["frag", "mented"])
            assert ws.recv(timeout=IO_TIMEOUT) == "fragmented"
        check_client_page(server)
        stop(server)
        if flavor == "legacy":
            assert "DeprecationWarning" in server.stderr(), server.stderr()


@pytest.mark.parametrize("flavor", FLAVORS)
def test_chat_broadcasts_with_sender_index(tmp_path: Path, flavor: str) -> None:
    with serve(tmp_path, "--example", "chat", "--flavor", flavor) as server:
        with connect(server.url, open_timeout=IO_TIMEOUT) as first:
            # Each client hears its own message back once it is in the list; waiting for that
            # keeps the indexes deterministic without sleeping.
            first.send("first here")
            assert first.recv(timeout=IO_TIMEOUT) == "[0]: first here"
            with connect(server.url, open_timeout=IO_TIMEOUT) as second:
                second.send("second here")
                assert second.recv(timeout=IO_TIMEOUT) == "[1]: second here"
                assert first.recv(timeout=IO_TIMEOUT) == "[1]: second here"

                first.send("hello")
                assert first.recv(timeout=IO_TIMEOUT) == "[0]: hello"
                assert second.recv(timeout=IO_TIMEOUT) == "[0]: hello"
        check_client_page(server)
        stop(server)


def test_builder_options_from_flags(tmp_path: Path) -> None:
    args = ("--example", "echo", "--manual-continuation", "--no-allocate")
    with serve(tmp_path, *args) as server:
        with connect(server.url, open_timeout=IO_TIMEOUT) as ws:
            for text in ("one", "two", "x" * 20_000):
                ws.send(text)
                assert ws.recv(timeout=IO_TIMEOUT) == text
        stop(server)


def test_quiet_without_development(tmp_path: Path) -> None:
    with serve(tmp_path, "--example", "echo", "--quiet", "--no-development") as server:
        with connect(server.url, open_timeout=IO_TIMEOUT) as ws:
            ws.send("hi")
            assert ws.recv(timeout=IO_TIMEOUT) == "hi"
        with pytest.raises(urllib.error.HTTPError) as info:  # no client page: a plain GET gets 426
            urllib.request.urlopen(f"http://127.0.0.1:{server.port}/", timeout=IO_TIMEOUT)
        assert info.value.code == 426
        stop(server)
        assert "connection 1 opened" not in server.stderr()  # no log line per connection


def test_sigint_stops_cleanly(tmp_path: Path) -> None:
    with serve(tmp_path, "--example", "echo") as server:
        with connect(server.url, open_timeout=IO_TIMEOUT) as ws:
            server.process.send_signal(signal.SIGINT)
            # stop() closes clients with 1001 (going away).
            with pytest.raises(ConnectionClosed) as closed:
                ws.recv(timeout=IO_TIMEOUT)
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 1001, closed.value
        assert server.process.wait(EXIT_TIMEOUT) == 0, server.stderr()


def test_port_in_use_exits_2_with_readable_message(tmp_path: Path) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        stderr_path = tmp_path / "stderr.txt"
        process, lines = _spawn(["serve", "--example", "echo", "--port", str(port)], stderr_path)
        try:
            code = process.wait(STARTUP_TIMEOUT)
        finally:
            _kill(process)
    stderr = stderr_path.read_text()
    assert code == 2, stderr
    assert str(port) in stderr
    assert "Traceback" not in stderr
    assert lines.get(timeout=IO_TIMEOUT) is None, "nothing belongs on stdout when the port is taken"


def test_serves_on_uvloop(tmp_path: Path) -> None:
    pytest.importorskip("uvloop")
    with serve(tmp_path, "--example", "echo", "--loop", "uvloop", "--quiet") as server:
        with connect(server.url, open_timeout=IO_TIMEOUT, close_timeout=IO_TIMEOUT) as ws:
            ws.send("on uvloop")
            assert ws.recv(timeout=IO_TIMEOUT) == "on uvloop"
        stop(server)


def test_help_lists_the_options() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "wsplay", "serve", "--help"],
        cwd=REPO, capture_output=True, text=True, timeout=STARTUP_TIMEOUT,
    )
    assert result.returncode == 0, result.stderr
    for option in ("--example", "--flavor", "--port", "--bind", "--manual-continuation", "--no-allocate"):
        assert option in result.stdout


def test_refused_option_combination_exits_2_without_traceback() -> None:
    # The legacy flavor works on whole messages, so frame-level options make no sense for it.
    result = subprocess.run(
        [sys.executable, "-m", "wsplay", "serve", "--flavor", "legacy", "--no-allocate", "--port", "0"],
        cwd=REPO, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=STARTUP_TIMEOUT,
    )
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""
