"""A real Jupyter server with jupyter-server-proxy, as Binder/JupyterHub runs one (tests only).

`start_jupyter_server(base)` starts `python -m jupyter_server` on 127.0.0.1 with a token and the base
URL prefix a hub gives a user (`/user/tester/`), its config, data and runtime dirs isolated in
`base`, and jupyter-server-proxy enabled; `stop_jupyter_server(server)` stops that one process by its
PID (SIGTERM, then SIGKILL after a timeout); `running_jupyter_server(base)` does both around a block,
skipping (failing under CI) when jupyter_server or jupyter-server-proxy is missing. Used by tests/proxy
and tests/browser/test_proxy_pages.py.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

import testenv

BASE_URL = "/user/tester/"  # what JupyterHub sets as JUPYTERHUB_SERVICE_PREFIX for a user "tester"
START_TIMEOUT = 60.0  # seconds; usually 2-3
STOP_TIMEOUT = 10.0
REQUIRED_MODULES = ("jupyter_server", "jupyter_server_proxy")


class JupyterServer(NamedTuple):
    process: subprocess.Popen[bytes]
    port: int
    token: str
    base_url: str  # "/user/tester/"
    root_dir: Path
    log_path: Path

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def proxy_path(self, port: int) -> str:
        """The path jupyter-server-proxy serves a local port under: '/user/tester/proxy/<port>/'."""
        return f"{self.base_url}proxy/{port}/"

    def http_url(self, path: str) -> str:
        return f"{self.origin}{path}"

    def ws_url(self, path: str) -> str:
        return f"ws://127.0.0.1:{self.port}{path}"

    def log_tail(self, size: int = 4000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-size:]
        except OSError:
            return "(no log)"


def missing_requirement() -> str | None:
    """Why a Jupyter server with the proxy cannot run here, or None."""
    for module in REQUIRED_MODULES:
        try:
            __import__(module)
        except ImportError:
            return f'{module} is not installed: pip install -e ".[test,browser]"'
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _environment(base: Path) -> dict[str, str]:
    config = base / "config"
    config.mkdir(parents=True, exist_ok=True)
    # Enabled explicitly rather than through the prefix's jupyter_server_config.d, which pip also writes.
    (config / "jupyter_server_config.json").write_text(
        json.dumps({"ServerApp": {"jpserver_extensions": {"jupyter_server_proxy": True}}})
    )
    env = dict(os.environ)
    env.update(
        JUPYTER_CONFIG_DIR=str(config),
        JUPYTER_DATA_DIR=str(base / "data"),
        JUPYTER_RUNTIME_DIR=str(base / "runtime"),
        IPYTHONDIR=str(base / "ipython"),
        JUPYTER_PLATFORM_DIRS="1",
        PYTHONUNBUFFERED="1",
    )
    for name in list(env):
        if name.startswith("JUPYTERHUB_"):
            del env[name]  # this server is the single-user server, not a hub's child with a hub to ask
    return env


def _status(port: int, path: str, timeout: float = 2.0) -> int | None:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request("GET", path)
        return connection.getresponse().status
    except OSError:
        return None
    finally:
        connection.close()


def start_jupyter_server(base: Path, base_url: str = BASE_URL) -> JupyterServer:
    """Start a Jupyter server isolated in `base` and wait until its API answers; raise with its log if not."""
    root = base / "root"
    root.mkdir(parents=True, exist_ok=True)
    env = _environment(base)
    token = os.urandom(16).hex()
    log_path = base / "jupyter-server.log"
    for _attempt in range(3):  # the free port could be taken between choosing and binding it
        port = free_port()
        argv = [
            sys.executable, "-m", "jupyter_server",
            "--no-browser", "--allow-root",
            "--ip=127.0.0.1", f"--port={port}", "--ServerApp.port_retries=0",
            f"--IdentityProvider.token={token}",
            f"--ServerApp.base_url={base_url}",
            f"--ServerApp.root_dir={root}",
        ]  # fmt: skip
        with open(log_path, "ab") as log:
            process = subprocess.Popen(argv, env=env, cwd=root, stdin=subprocess.DEVNULL, stdout=log, stderr=log)
        server = JupyterServer(process, port, token, base_url, root, log_path)
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline and process.poll() is None:
            if _status(port, f"{base_url}api/status?token={token}") == 200:
                return server
            time.sleep(0.1)
        stop_jupyter_server(server)
    raise RuntimeError(f"jupyter server did not answer within {START_TIMEOUT} s; its log:\n{server.log_tail()}")


def stop_jupyter_server(server: JupyterServer) -> None:
    """Stop this one process by its PID: SIGTERM (jupyter_server shuts down cleanly), then SIGKILL."""
    process = server.process
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(STOP_TIMEOUT)


@contextlib.contextmanager
def running_jupyter_server(base: Path) -> Iterator[JupyterServer]:
    """A Jupyter server for the block (see start_jupyter_server); the test is skipped without one."""
    why = missing_requirement()
    if why:
        testenv.missing(why)
    server = start_jupyter_server(base)
    try:
        yield server
    finally:
        stop_jupyter_server(server)
