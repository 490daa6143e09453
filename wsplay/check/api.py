"""The entry points: `server(url)` runs the suite against a server, `client(drive)` against a client."""

from __future__ import annotations

import ssl as ssl_module
from collections.abc import Awaitable, Iterable, Mapping, Sequence

from wsplay import runtime
from wsplay.check import server_http  # noqa: F401 - registers sections 11-13 after server_cases' 1-9
from wsplay.check.client_cases import CASES as CLIENT_CASES
from wsplay.check.client_suite import ClientContext, Driver, DriverSpec, ScriptedServer
from wsplay.check.report import Case, Result, select
from wsplay.check.run import Progress, run_cases
from wsplay.check.server_cases import CASES as SERVER_CASES
from wsplay.check.server_suite import ServerContext, Target
from wsplay.check.wire import Trace

__all__ = ["client", "client_cases", "server", "server_cases"]


def server(
    url: str,
    cases: str | Iterable[str] = "*",
    timeout: float = 10.0,
    *,
    quiet: float = 0.5,
    headers: Mapping[str, str] | Sequence[tuple[str, str]] | None = None,
    subprotocols: Sequence[str] = (),
    ssl: ssl_module.SSLContext | None = None,
    progress: Progress | None = None,
) -> Awaitable[Result]:
    """Run the check suite against a WebSocket server that echoes every message (as Autobahn's does).

    Each case opens its own connections, sends exactly the bytes it is about (malformed ones built by
    hand) and judges the server's raw answer: OK, NON-STRICT, INFORMATIONAL or FAILED, with the RFC
    section, what was expected and what happened. Cases run one after another.

    Args:
        url: the server's ws:// or wss:// URL (the path is used for every connection).
        cases: which cases: "*", "6.*", "7.3.1", a section "5", or several ("1.*,2.1").
        timeout: seconds each case may take at most; one that hangs longer is FAILED.
        quiet: seconds of silence that show the server is not going to answer (fail-fast checks).
        headers: extra request headers for every connection (a token, a cookie).
        subprotocols: subprotocols to offer on every connection (for a server that requires one).
        ssl: the TLS context for wss:// (default: the system's trust store).
        progress: called with each CaseResult as it is done.

    Returns:
        A Result (awaitable in coroutine code); in a notebook it shows the results widget.

    Example:
        result = wsplay.check.server(host.url)
        result  # the widget; result.counts, result.to_dataframe(), result.save("check.json")
    """
    target = Target(url)
    chosen = select(SERVER_CASES, cases)
    pairs = list(headers.items()) if isinstance(headers, Mapping) else list(headers or ())
    wait = max(timeout * 0.8, timeout - 2.0)
    quiet = min(quiet, timeout / 4)

    def make(trace: Trace) -> ServerContext:
        return ServerContext(target, trace, wait=wait, quiet=quiet, headers=pairs, ssl=ssl, subprotocols=subprotocols)

    return runtime.bridge(run_cases("server", url, chosen, make, timeout, progress))


def server_cases() -> list[Case]:
    """Every case of the server suite, in order."""
    return select(SERVER_CASES, "*")


def client(
    drive: DriverSpec,
    cases: str | Iterable[str] = "*",
    timeout: float = 10.0,
    *,
    quiet: float = 0.5,
    host: str = "127.0.0.1",
    port: int = 0,
    progress: Progress | None = None,
) -> Awaitable[Result]:
    """Run the check suite against a WebSocket client: a scripted server it connects to, once per case.

    For each case the suite serves one URL (`ws://127.0.0.1:PORT/<case id>`) and starts the client
    under test with it through `drive`; the server then does what the case is about (masked frames,
    bad UTF-8, a wrong accept key, a close that never ends) and judges the client's raw frames.

    Args:
        drive: how the client under test is started for a URL: a function `drive(url)` (run in a
            thread), a coroutine function (run on wsplay's loop), or a command (a string or list;
            `{url}` in it is replaced by the URL, else the URL is added at the end). It connects,
            sends back every message it receives, answers the server's close and returns (exits);
            it raises (exits non-zero) when it cannot connect.
        cases: which cases: "*", "6.*", "7.1.5", a section "11", or several ("1.*,2.1").
        timeout: seconds each case may take at most; one that hangs longer is FAILED.
        quiet: seconds of silence that show the client is not going to answer.
        host, port: where the scripted server listens (127.0.0.1 and a free port by default).
        progress: called with each CaseResult as it is done.

    Example:
        def drive(url):
            with wsplay.connect(url) as c:
                for frame in c:
                    if frame.type in (wsplay.FrameType.TEXT, wsplay.FrameType.BINARY):
                        c.send(frame.data if frame.type is wsplay.FrameType.BINARY else frame.data_as_string())
        wsplay.check.client(drive)
    """
    driver = Driver(drive)
    chosen = select(CLIENT_CASES, cases)
    wait = max(timeout * 0.8, timeout - 2.0)
    quiet = min(quiet, timeout / 4)

    async def run() -> Result:
        scripted = await ScriptedServer(host, port).start()
        try:
            # The case id is the case's URL path: each context knows its own.
            ids = iter([c.id for c in chosen])

            def make(trace: Trace) -> ClientContext:
                return ClientContext(scripted, driver, next(ids), trace, wait=wait, quiet=quiet)

            return await run_cases("client", driver.name, chosen, make, timeout, progress)
        finally:
            await scripted.stop()

    return runtime.bridge(run())


def client_cases() -> list[Case]:
    """Every case of the client suite, in order."""
    return select(CLIENT_CASES, "*")
