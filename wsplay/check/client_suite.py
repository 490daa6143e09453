"""What a client case works with: a scripted server, the client under test, and a judged request.

The client under test is driven case by case: for each case the suite serves one URL
(`ws://127.0.0.1:PORT/<case id>`) and starts the *driver* with it. A driver is

- a function `drive(url)`: run in a thread of its own (a blocking client), or
- a coroutine function `async def drive(url)`: run as a task on wsplay's loop, or
- a command (a string or a list): run once per case, with `{url}` replaced by the case's URL (or the
  URL added as its last argument).

It must follow one convention: connect to the URL, send back every message it receives (text as
text, binary as binary), answer pings (most libraries do), answer the server's close and return
(exit) when the connection is over; raise (exit non-zero) when it cannot connect. The scripted
server then does whatever the case is about and judges what the client sent, byte by byte.
"""

from __future__ import annotations

import asyncio
import inspect
import shlex
import threading
from collections.abc import Callable, Sequence
from typing import Any, Union

from wsplay.check.compress import NAME as DEFLATE
from wsplay.check.compress import Agreement, parse_extensions
from wsplay.check.judge import Conversation, Stop
from wsplay.check.report import failed
from wsplay.check.wire import HttpHead, Peer, Trace, accept_key

__all__ = ["ClientContext", "Driver", "DriverSpec", "ScriptedServer"]

DriverSpec = Union[Callable[[str], Any], str, Sequence[str]]


class Driver:
    """Starts the client under test for one case URL, and stops it (see the module docstring)."""

    def __init__(self, drive: DriverSpec) -> None:
        self.drive = drive
        if isinstance(drive, str):
            self.command: list[str] | None = shlex.split(drive)
        elif isinstance(drive, Sequence):
            self.command = [str(a) for a in drive]
        elif callable(drive):
            self.command = None
        else:
            raise TypeError(f"a driver is a function of the URL, a coroutine function or a command, not {drive!r}")

    @property
    def name(self) -> str:
        if self.command is not None:
            return " ".join(shlex.quote(a) for a in self.command)
        return getattr(self.drive, "__qualname__", None) or repr(self.drive)

    def start(self, url: str, trace: Trace) -> Running:
        loop = asyncio.get_running_loop()
        if self.command is not None:
            args = [a.replace("{url}", url) for a in self.command]
            if not any("{url}" in a for a in self.command):
                args.append(url)
            return Running(loop.create_task(_command(args, trace)), "command")
        drive = self.drive
        assert callable(drive)
        if inspect.iscoroutinefunction(drive):
            return Running(loop.create_task(drive(url)), "task")
        done: asyncio.Future[Any] = loop.create_future()

        def run() -> None:
            value, error = None, None
            try:
                value = drive(url)
            except BaseException as exc:  # reported on the trace, like a command's exit status
                error = exc
            try:
                loop.call_soon_threadsafe(_settle, done, value, error)
            except RuntimeError:  # the loop is gone (the process is exiting)
                pass

        # A daemon thread: a client under test that never returns must not keep the process alive.
        threading.Thread(target=run, name="wsplay-check-driver", daemon=True).start()
        return Running(done, "thread")


def _settle(future: asyncio.Future[Any], value: Any, error: BaseException | None) -> None:
    if future.done():
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(value)


async def _command(args: list[str], trace: Trace) -> int:
    process = await asyncio.create_subprocess_exec(*args, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    try:
        output, _ = await process.communicate()
    except asyncio.CancelledError:
        if process.returncode is None:
            process.kill()
            await process.wait()
        raise
    text = output.decode("utf-8", "replace").strip()
    if text:
        trace.note("the command's output:\n" + text[-2000:])
    return process.returncode if process.returncode is not None else -1


class Running:
    """One run of the driver: a future that ends when the client under test is done."""

    def __init__(self, future: asyncio.Future[Any], how: str) -> None:
        self.future = future
        self.how = how

    def outcome(self) -> str:
        f = self.future
        if not f.done():
            return "still running"
        if f.cancelled():
            return "stopped"
        exc = f.exception()
        if exc is not None:
            return f"raised {type(exc).__name__}: {exc}"
        if self.how == "command":
            return f"exited with status {f.result()}"
        return "returned"

    async def finish(self, grace: float) -> None:
        """Wait up to `grace` seconds for the driver to end; then stop it (a thread cannot be stopped)."""
        if not self.future.done():
            try:
                await asyncio.wait_for(asyncio.shield(self.future), grace)
            except (TimeoutError, Exception):
                pass
        if not self.future.done() and self.how != "thread":
            self.future.cancel()
            try:
                await self.future
            except BaseException:  # noqa: S110 - it was cancelled on purpose
                pass
        if self.future.done() and not self.future.cancelled():
            self.future.exception()  # retrieved: no "exception was never retrieved" warning


class ScriptedServer:
    """One listening socket for a client run; each case waits for the connection to its own path.

    A connection to a path no case is waiting for gets 404 (a late retry of an earlier case, say).
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0, head_timeout: float = 10.0) -> None:
        self.host, self.port, self.head_timeout = host, port, head_timeout
        self.server: asyncio.Server | None = None
        self.waiting: dict[str, asyncio.Future[tuple[Peer, HttpHead]]] = {}

    async def start(self) -> ScriptedServer:
        self.server = await asyncio.start_server(self._accept, self.host, self.port)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    def url(self, case_id: str) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"ws://{host}:{self.port}/{case_id}"

    def expect(self, case_id: str) -> asyncio.Future[tuple[Peer, HttpHead]]:
        future = asyncio.get_running_loop().create_future()
        self.waiting[f"/{case_id}"] = future
        return future

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = Peer(reader, writer, Trace(), client=False)
        head = await peer.read_head(asyncio.get_running_loop().time() + self.head_timeout)
        future = self.waiting.pop(head.target.split("?", 1)[0], None) if head is not None else None
        if head is None or future is None or future.done():
            writer.write(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            writer.close()
            return
        future.set_result((peer, head))

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()


class ClientContext:
    """What a client case works with: the connection the client under test opened, and its request.

    `arrive()` (the runner calls it) starts the driver and waits for its connection; a case then answers
    the request (`accept()` for a valid 101, `answer()` for anything else) and talks.
    """

    def __init__(self, server: ScriptedServer, driver: Driver, case_id: str, trace: Trace, *, wait: float, quiet: float) -> None:
        self.server, self.driver, self.case_id, self.trace = server, driver, case_id, trace
        self.wait, self.quiet = wait, quiet
        self.running: Running | None = None
        self._peer: Peer | None = None
        self._request: HttpHead | None = None

    @property
    def peer(self) -> Peer:
        assert self._peer is not None, "arrive() first"
        return self._peer

    @property
    def request(self) -> HttpHead:
        assert self._request is not None, "arrive() first"
        return self._request

    def deadline(self, seconds: float | None = None) -> float:
        return asyncio.get_running_loop().time() + (self.wait if seconds is None else seconds)

    async def arrive(self) -> None:
        """Start the client under test with this case's URL and wait for its connection and request."""
        url = self.server.url(self.case_id)
        arrival = self.server.expect(self.case_id)
        self.trace.note(f"the client under test is started with {url}")
        self.running = self.driver.start(url, self.trace)
        done, _ = await asyncio.wait([arrival, self.running.future], timeout=self.wait, return_when=asyncio.FIRST_COMPLETED)
        if arrival not in done:
            arrival.cancel()
            why = f"the driver {self.running.outcome()} without connecting" if self.running.future in done else f"no connection within {self.wait:.1f} s"
            raise Stop(failed("the client to connect to its URL", why))
        peer, head = arrival.result()
        peer.trace = self.trace
        self._peer, self._request = peer, head
        self.trace.note("HTTP request:\n" + head.raw.decode("latin-1").replace("\r\n", "\n"), "in")

    # -- the answer ------------------------------------------------------------------------------

    @property
    def key(self) -> str:
        return self.request.get("Sec-WebSocket-Key") or ""

    @property
    def offers(self) -> list[tuple[str, list[tuple[str, str | None]]]]:
        """The client's extension offers, parsed."""
        return parse_extensions(self.request.get_all("Sec-WebSocket-Extensions"))

    @property
    def deflate_offers(self) -> list[dict[str, str | None]]:
        return [dict(params) for name, params in self.offers if name == DEFLATE]

    @property
    def protocols(self) -> list[str]:
        return [p.strip() for v in self.request.get_all("Sec-WebSocket-Protocol") for p in v.split(",") if p.strip()]

    def response(self, *, status: str = "101 Switching Protocols", accept: str | None = None, extensions: str | None = None,
                 protocol: str | None = None, replace: dict[str, str | None] | None = None, extra: Sequence[str] = ()) -> bytes:  # fmt: skip
        """A 101 (valid unless told otherwise): `replace` sends a header's value instead (None: leaves it out)."""
        headers = {"Upgrade": "websocket", "Connection": "Upgrade", "Sec-WebSocket-Accept": accept or accept_key(self.key)}
        if extensions:
            headers["Sec-WebSocket-Extensions"] = extensions
        if protocol:
            headers["Sec-WebSocket-Protocol"] = protocol
        for name, value in (replace or {}).items():
            headers.pop(name, None)
            if value is not None:
                headers[name] = value
        lines = [f"HTTP/1.1 {status}"] + [f"{k}: {v}" for k, v in headers.items()] + list(extra)
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")

    async def answer(self, response: bytes, then: bytes = b"") -> None:
        """Send an answer to the upgrade request (and `then`, frames in the same write)."""
        self.trace.note("HTTP answer:\n" + response.decode("latin-1").rstrip().replace("\r\n", "\n"), "out")
        await self.peer.send_bytes(response + then, record=None)

    async def accept(self, extensions: str | None = None, then: bytes = b"", **options: Any) -> Conversation:
        """Send a valid 101 (with `extensions` as the permessage-deflate answer) and start talking."""
        await self.answer(self.response(extensions=extensions, **options), then)
        agreement = None
        if extensions:
            answered = parse_extensions([extensions])
            agreement = Agreement.from_params(answered[0][1]) if answered and answered[0][0] == DEFLATE else None
        return Conversation(self.peer, peer_is_client=True, agreement=agreement, wait=self.wait, quiet=self.quiet)

    async def close(self) -> None:
        """The case is over: close the connection, give the driver a moment to end, note how it ended."""
        if self._peer is not None:
            self._peer.abort()
        if self.running is not None:
            await self.running.finish(min(self.wait, 2.0))
            self.trace.note(f"the driver {self.running.outcome()}")
