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

import importlib.util
import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]


def load_jupyter_process() -> ModuleType:
    """tests/proxy/jupyter_process.py as a module (tests are not importable under --import-mode=importlib)."""
    name = "wsplay_tests_jupyter_process"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, Path(__file__).with_name("jupyter_process.py"))
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


@pytest.fixture(scope="session")
def jupyter(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    jp = load_jupyter_process()
    why = jp.missing_requirement()
    if why:
        if _in_ci():
            pytest.fail(f"{why} (CI is set, so this fails instead of skipping)", pytrace=False)
        pytest.skip(why)
    server = jp.start_jupyter_server(tmp_path_factory.mktemp("jupyter-proxy"))
    try:
        yield server
    finally:
        jp.stop_jupyter_server(server)
        (REPO / "artifacts").mkdir(exist_ok=True)
        shutil.copyfile(server.log_path, REPO / "artifacts" / "jupyter-server-proxy.log")


@pytest.fixture
def behind_hub(jupyter: Any, monkeypatch: pytest.MonkeyPatch) -> str:
    """JUPYTERHUB_SERVICE_PREFIX as the hub sets it in a user's kernel; set before any host starts."""
    monkeypatch.setenv("JUPYTERHUB_SERVICE_PREFIX", jupyter.base_url)
    return str(jupyter.base_url)
