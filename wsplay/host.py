"""`Host`: build, start and stop a server from a script, the command line or a notebook cell.

A host serves on wsplay's background loop, so `start()` returns at once and the server keeps
answering while a cell blocks. Re-running the cell that starts a host on a port replaces the
wsplay host already there instead of failing with "address already in use".
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import errno
import importlib.resources
import ipaddress
import logging
import os
import ssl
import sys
import time
import warnings
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, ClassVar

from wsplay import runtime
from wsplay.engine.connection import Endpoint, SocketConnection
from wsplay.engine.options import ServerOptions
from wsplay.engine.server import HandlerError, Server
from wsplay.errors import HostError
from wsplay.observe import PAYLOAD_BUDGET, Event, FrameRecord, Notice, Recorder

__all__ = ["Host", "stop_all"]

log = logging.getLogger("wsplay")


def _in_kernel() -> bool:
    """True inside a Jupyter kernel, where writing to stderr from the loop thread lands in a random cell."""
    ipython = sys.modules.get("IPython")
    if "ipykernel" not in sys.modules or ipython is None:
        return False
    try:
        shell = ipython.get_ipython()
    except Exception:
        return False
    return shell is not None and hasattr(shell, "kernel")


class Host:
    """A WebSocket server, configured by chained calls and run on the background loop.

    Example:
        host = Host.create().handler(Websocket.reactive().handler(ChatHandler())).port(0).start()
        host.url  # 'ws://127.0.0.1:54321/'
    """

    # How `host` as a cell's last expression shows its live panel: wsplay's top-level package plugs
    # the widgets in here, so this module never imports them (they sit above it).
    panel_factory: ClassVar[Callable[[Host], object] | None] = None

    def __init__(self) -> None:
        self._routes: dict[str, Endpoint] = {}
        self._port = 8080
        self._bind = "127.0.0.1"
        self._options = ServerOptions()
        self._console = False
        self._server: Server | None = None
        self._bound_port: int | None = None
        self._stopped: concurrent.futures.Future[None] = concurrent.futures.Future()
        self._stopped.set_result(None)
        self._recorder = Recorder()
        self._own_page = False  # page() chose what a plain GET gets

    @classmethod
    def create(cls) -> Host:
        """Start building a host (the seed's `Host.Create()`)."""
        return cls()

    # -- building -------------------------------------------------------------------------------

    def handler(self, websocket: Endpoint) -> Host:
        """Serve `websocket` (a flavor's builder) on every path without a route of its own."""
        return self.route("*", websocket)

    def route(self, path: str, websocket: Endpoint) -> Host:
        """Serve `websocket` at `path` (e.g. "/chat"); "*" means every other path."""
        if path != "*" and not path.startswith("/"):
            raise ValueError(f"a route is an absolute path like '/chat', not {path!r}")
        if not hasattr(websocket, "serve") or not hasattr(websocket, "settings"):
            raise TypeError(
                f"route() takes a flavor's builder such as Websocket.reactive().handler(...), not {type(websocket).__name__}"
            )
        self._routes[path] = websocket
        return self

    def port(self, port: int) -> Host:
        """Listen on `port` (default 8080); 0 picks a free one (see `url` after `start()`)."""
        if not 0 <= port <= 65535:
            raise ValueError(f"port must be 0-65535, not {port}")
        self._port = port
        return self

    def bind(self, address: str) -> Host:
        """Listen on `address` (default 127.0.0.1, this machine only)."""
        self._bind = address
        return self

    def keepalive(self, interval: float | None = 20.0, timeout: float | None = 20.0) -> Host:
        """Ping a peer silent for `interval` s; drop it if still silent `timeout` s later (None: off)."""
        self._options.ping_interval = interval
        self._options.ping_timeout = timeout if interval else None
        return self

    def close_timeout(self, seconds: float) -> Host:
        """Wait this long for the peer's close frame before dropping the connection (default 10 s)."""
        self._options.close_timeout = seconds
        return self

    def handshake_timeout(self, seconds: float) -> Host:
        """Close clients that have not sent a complete upgrade request after this long (default 10 s)."""
        self._options.handshake_timeout = seconds
        return self

    def max_connections(self, limit: int | None) -> Host:
        """Accept at most `limit` open connections; more handshakes get 503 (default 4096; None: no limit)."""
        self._options.max_connections = limit
        return self

    def max_request_size(self, size: int) -> Host:
        """Answer an upgrade request whose head is larger than `size` bytes with 431 (default 16 KiB)."""
        self._options.max_request_size = size
        return self

    def write_limit(self, high_water: int = 64 * 1024, maximum: int = 32 * 1024 * 1024) -> Host:
        """Outgoing buffering: `await write()` waits above `high_water`; a peer that lets `maximum` bytes pile up
        unread is dropped with 1008 (defaults 64 KiB and 32 MiB)."""
        if high_water > maximum:
            raise ValueError("the write high-water mark must not exceed the maximum")
        self._options.write_high_water = high_water
        self._options.max_write_buffer = maximum
        return self

    def allowed_origins(self, origins: list[str]) -> Host:
        """Also accept browser pages from these origins (e.g. ["https://example.org"]); others get 403."""
        self._options.origins.allow(origins)
        return self

    def allow_any_origin(self) -> Host:
        """Accept WebSocket handshakes from pages on any site (turns off the hijacking defence)."""
        self._options.origins.any_origin = True
        return self

    def tls(self, certfile: str | os.PathLike[str] | ssl.SSLContext, keyfile: str | os.PathLike[str] | None = None, password: str | None = None) -> Host:
        """Serve wss:// and https:// with this certificate and key (PEM files), or a ready `ssl.SSLContext`.

        A TLS handshake must finish within the handshake timeout; a client that stalls or speaks plain
        HTTP to the TLS port is dropped and recorded, and nothing else is affected.

        Example:
            host = Host.create().handler(ws).tls("cert.pem", "key.pem").start()
            host.url  # 'wss://127.0.0.1:8080/'
        """
        if isinstance(certfile, ssl.SSLContext):
            context = certfile
        else:
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(certfile, keyfile, password)
        self._options.tls = context
        return self

    def record(self, frames: int | bool = 2000, events: int = 1000, payload_bytes: int = PAYLOAD_BUDGET) -> Host:
        """Keep the last `frames` frames and `events` events for the panel and `host.frames`.

        Payloads larger than 256 bytes are kept whole while their total stays within `payload_bytes`
        (1 MiB by default); beyond it their first 256 bytes are kept and the record says it was cut.
        `record(False)` records nothing (not even counters): the fastest setting.
        """
        if frames is False:
            self._recorder = Recorder(0, 0, enabled=False)
        else:
            self._recorder = Recorder(int(frames), events, payload_bytes=payload_bytes)
        return self

    def stall_threshold(self, seconds: float) -> Host:
        """In development mode, report a handler holding the message pump this long while frames wait (default 1 s)."""
        self._options.stall_threshold = seconds
        return self

    def defaults(self) -> Host:
        """The seed's sensible defaults: keepalive pings every 20 s (20 s to answer), 10 s close and handshake timeouts."""
        self.keepalive(20.0, 20.0)
        self._options.close_timeout = 10.0
        self._options.handshake_timeout = 10.0
        return self

    def development(self) -> Host:
        """Serve the browser chat page on a plain GET (and report pitfalls as they happen)."""
        self._options.development = True
        if not self._own_page:
            self._options.client_page = importlib.resources.files("wsplay").joinpath("static/client.html").read_bytes()
        return self

    def page(self, html: str | bytes | os.PathLike[str] | None) -> Host:
        """Serve this HTML on a plain GET instead of the built-in chat page (None: back to the built-in one).

        `html` is the page itself (str or bytes) or a path to a file holding it. Works on a running
        host too: the next GET gets the new page, so reloading the browser tab (or running
        `host.client()` again) shows it. The page is served whether or not development mode is on.

        Example:
            host.page("<script>const ws = new WebSocket(location.href.replace('http', 'ws'))</script>")
            host.client()
        """
        if html is None:
            self._own_page = False
            self._options.client_page = b""
            if self._options.development:
                self.development()
            return self
        if isinstance(html, os.PathLike):
            data = Path(html).read_bytes()
        elif isinstance(html, str):
            data = html.encode("utf-8")
        elif isinstance(html, (bytes, bytearray)):
            data = bytes(html)
        else:
            raise TypeError(f"page() takes the HTML as str or bytes, or a path to it, not {type(html).__name__}")
        if not data:
            raise ValueError("page() got an empty page; pass None to serve the built-in chat page again")
        self._own_page = True
        self._options.client_page = data
        return self

    def console(self) -> Host:
        """Log connections, closes and handler errors (logger "wsplay"), one line each.

        In a script with no logging set up this adds a handler writing to stderr; in a notebook the
        server panel shows them instead, since a thread writing to stderr lands in whatever cell runs.
        """
        self._console = True
        logger = logging.getLogger("wsplay")
        if logger.level == logging.NOTSET or logger.level > logging.INFO:
            logger.setLevel(logging.INFO)
        real = [h for h in logger.handlers if not isinstance(h, logging.NullHandler)]
        if not real and not logging.getLogger().handlers and not _in_kernel():
            handler = logging.StreamHandler()
            handler.setFormatter(logging.Formatter("%(asctime)s wsplay: %(message)s", "%H:%M:%S"))
            logger.addHandler(handler)
        return self

    # -- lifecycle ------------------------------------------------------------------------------

    def start(self) -> Host:
        """Start serving and return the host at once (in coroutine code: `await host.start()`).

        Running the notebook cell that started a host again (edited or not) replaces that host, and
        a host started on the port of another wsplay host of this process replaces that one.

        Raises:
            HostError: the port is taken by another program, the address cannot be used, or an
                endpoint is incomplete.
        """
        for endpoint in self._routes.values():
            validate = getattr(endpoint, "validate", None)
            if validate is not None:
                validate()
        earlier = runtime.claim_cell(self, runtime.current_cell())
        return runtime.bridge(self._start(earlier))  # type: ignore[return-value]

    def start_async(self) -> Awaitable[Host]:
        """Deprecated: `start()` follows the calling convention (`await host.start()` in coroutine code)."""
        warnings.warn(  # deprecated
            "Host.start_async() is deprecated: use `await host.start()` in coroutine code", DeprecationWarning, stacklevel=2
        )
        return runtime.bridge(self._start(runtime.claim_cell(self, runtime.current_cell())))

    async def _start(self, replace: list[Any] = ()) -> Host:  # type: ignore[assignment]
        if self._server is not None:
            return self
        if not self._routes:
            raise HostError("this host has nothing to serve: add one with .handler(Websocket.reactive().handler(...))")
        previous = runtime.host_on_port(self._port) if self._port else None
        for old in [previous, *replace]:
            if old is not None and old is not self and old.running:
                await old.stop()  # re-running a notebook cell: the new host takes over
        # Under JupyterHub/Binder only the authenticated proxy reaches a kernel's ports, with the
        # hub's origin: accept what it forwards.
        self._options.origins.trust_proxy = bool(os.environ.get("JUPYTERHUB_SERVICE_PREFIX"))
        server = Server(self._routes, self._options, self._recorder)
        try:
            port = await server.start(self._bind, self._port)
        except OSError as exc:
            raise self._bind_error(exc) from None
        self._server = server
        self._bound_port = port
        self._stopped = concurrent.futures.Future()
        runtime.register_host(self, port)
        log.info("listening on %s", self.url)
        if not server.loopback and self._options.development:
            message = (
                f"listening on every interface ({self._bind}): anyone who can reach this machine can connect; "
                "use .bind('127.0.0.1') unless that is what you want"
            )
            log.warning(message)
            self._recorder.event(Notice(time.time(), 0, message))
        return self

    def _bind_error(self, exc: OSError) -> HostError:
        where = f"{self._bind}:{self._port}"
        if exc.errno == errno.EADDRINUSE:
            return HostError(
                f"port {self._port} on {self._bind} is in use by another program; stop it, or use .port(0) for a free one"
            )
        if exc.errno in (errno.EACCES, errno.EPERM):
            return HostError(f"not allowed to listen on {where} ({exc.strerror}); ports below 1024 need privileges: use .port(0)")
        return HostError(f"cannot listen on {where}: {exc.strerror or exc}; check the .bind() address")

    def stop(self) -> Awaitable[None]:
        """Stop serving: close every client with 1001 (going away) and wait for them; idempotent."""
        return runtime.bridge(self._stop())

    async def _stop(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        runtime.unregister_host(self, self._bound_port)
        try:
            await server.stop()
        finally:
            log.info("stopped %s", self.url)
            if not self._stopped.done():
                self._stopped.set_result(None)

    def restart(self) -> Host:
        """Stop, then start again with the current configuration (on the same port when it was chosen)."""
        return runtime.bridge(self._restart())  # type: ignore[return-value]

    async def _restart(self) -> Host:
        port = self._port
        if self._bound_port and not self._port:
            self._port = self._bound_port
        try:
            await self._stop()
            await self._start()
        finally:
            self._port = port
        return self

    def run(self) -> Awaitable[None]:
        """Serve until stopped (from another thread, the panel or a handler) or interrupted.

        For scripts: `Host.create()...run()` blocks, and Ctrl-C stops the host. In coroutine code,
        `await host.run()`; cancelling the wait stops the host.
        """
        if runtime.awaiting():
            return runtime.bridge(self._run())
        self.start()
        try:
            while not self._stopped.done():
                try:
                    self._stopped.result(timeout=0.5)  # wake up now and then so Ctrl-C is seen
                except concurrent.futures.TimeoutError:
                    pass
        except KeyboardInterrupt:
            pass
        finally:
            self.stop()
        return None  # type: ignore[return-value]

    def run_async(self) -> Awaitable[None]:
        """Deprecated: `run()` follows the calling convention (`await host.run()` in coroutine code)."""
        warnings.warn(  # deprecated
            "Host.run_async() is deprecated: use `await host.run()` in coroutine code", DeprecationWarning, stacklevel=2
        )
        return runtime.bridge(self._run())

    async def _run(self) -> None:
        await self._start(runtime.claim_cell(self, runtime.current_cell()))
        try:
            await asyncio.wrap_future(self._stopped)
        except asyncio.CancelledError:
            await self._stop()
            raise

    # -- state ----------------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self._server is not None

    @property
    def bound_port(self) -> int | None:
        """The port listened on while running (the chosen one with `.port(0)`)."""
        return self._bound_port if self._server is not None else None

    def _netloc(self) -> str:
        port = self._bound_port or self._port
        host = self._bind
        if host in ("", "0.0.0.0"):
            host = "127.0.0.1"
        elif host == "::":
            host = "::1"
        try:
            if ipaddress.ip_address(host).version == 6:
                host = f"[{host}]"
        except ValueError:
            pass
        return f"{host}:{port}"

    @property
    def secure(self) -> bool:
        """True when the host serves TLS (wss:// and https://)."""
        return self._options.tls is not None

    @property
    def url(self) -> str:
        """The WebSocket URL, e.g. 'ws://127.0.0.1:8080/' ('wss://' with TLS)."""
        return f"{'wss' if self.secure else 'ws'}://{self._netloc()}/"

    @property
    def client_url(self) -> str:
        """Where a browser gets the chat page (development mode), e.g. 'http://127.0.0.1:8080/'.

        Under JupyterHub or Binder (JUPYTERHUB_SERVICE_PREFIX set) the browser cannot reach the
        kernel's ports, only the server's jupyter-server-proxy: then it is a path on the Jupyter
        server, '/user/you/proxy/8080/', and the page builds its WebSocket URL from it.
        """
        prefix = os.environ.get("JUPYTERHUB_SERVICE_PREFIX")
        if prefix:
            return f"{prefix.rstrip('/')}/proxy/{self._bound_port or self._port}/"
        return self.direct_client_url

    @property
    def direct_client_url(self) -> str:
        """The chat page's address on this machine, never through a proxy."""
        return f"{'https' if self.secure else 'http'}://{self._netloc()}/"

    @property
    def connections(self) -> list[SocketConnection]:
        """The open connections, oldest first."""
        server = self._server
        return list(server.connections.values()) if server is not None else []

    @property
    def errors(self) -> list[HandlerError]:
        """The latest handler exceptions (each closed only its own connection with 1011)."""
        server = self._server
        return list(server.errors) if server is not None else []

    @property
    def recorder(self) -> Recorder:
        """What this host has recorded (kept across restarts)."""
        return self._recorder

    @property
    def frames(self) -> list[FrameRecord]:
        """A snapshot of the recorded frames, both directions, oldest first."""
        return self._recorder.frames()

    @property
    def events(self) -> list[Event]:
        """A snapshot of the recorded events: opens, closes, handler errors, pitfalls."""
        return self._recorder.events()

    # -- notebook ---------------------------------------------------------------------------------

    def panel(self) -> object:
        """The live server panel (status, connections, frame log, inspector, warnings); needs ipywidgets."""
        if Host.panel_factory is None:
            raise ImportError("the panels come with the wsplay package: import wsplay")
        return Host.panel_factory(self)  # re-running a `host` cell adds a view, not another refresher

    def decoder(self, name: str, fn: Callable[[bytes], Any]) -> Host:
        """Offer `fn(payload) -> anything` as a payload view named `name` in every panel's inspector.

        The registry is shared by all hosts and clients (`wsplay.decoders.register` does the same).
        """
        from wsplay import decoders

        decoders.register(name, fn)
        return self

    def client(self, width: str = "100%", height: int = 320) -> object:
        """Show the browser chat page in the notebook (an IFrame of `client_url`)."""
        from IPython.display import IFrame

        return IFrame(self.client_url, width=width, height=height)

    def _ipython_display_(self) -> None:
        # `host` as the last expression of a cell shows its live panel (text when ipywidgets is missing).
        from IPython.display import display

        try:
            panel = self.panel()
        except ImportError:
            display(repr(self))
        else:
            display(panel)

    @property
    def server(self) -> Server | None:
        """The engine's Server while running."""
        return self._server

    def __repr__(self) -> str:
        state = f"running at {self.url}" if self.running else "stopped"
        return f"<Host {state}, {len(self.connections)} connection(s)>"


stop_all = runtime.stop_all
