"""Fixtures for the proxy tests: a real Jupyter server with jupyter-server-proxy under a hub-like prefix.

- `jupyter`: a `JupyterServer` (see jupyter_process.py) for the session, on 127.0.0.1 with a token and
  the base URL `/user/tester/`, stopped by its PID at the end; its log is kept as
  artifacts/jupyter-server-proxy.log.
- `behind_hub`: sets JUPYTERHUB_SERVICE_PREFIX to that base URL for one test, as JupyterHub/Binder
  does for a kernel, so hosts started in the test serve `client_url` through the proxy.

Without jupyter_server or jupyter-server-proxy the tests are skipped, except under CI (`CI` set to a
true value), where they fail: .ci/run installs both with the browser extra.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from jupyter_process import running_jupyter_server

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def jupyter(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    with running_jupyter_server(tmp_path_factory.mktemp("jupyter-proxy")) as server:
        yield server
    (REPO / "artifacts").mkdir(exist_ok=True)
    shutil.copyfile(server.log_path, REPO / "artifacts" / "jupyter-server-proxy.log")


@pytest.fixture
def behind_hub(jupyter: Any, monkeypatch: pytest.MonkeyPatch) -> str:
    """JUPYTERHUB_SERVICE_PREFIX as the hub sets it in a user's kernel; set before any host starts."""
    monkeypatch.setenv("JUPYTERHUB_SERVICE_PREFIX", jupyter.base_url)
    return str(jupyter.base_url)
