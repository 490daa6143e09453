"""The public surface and the layering rules of DESIGN.md, checked on the source itself."""

from __future__ import annotations

import ast
import pathlib

import pytest

import wsplay

PACKAGE = pathlib.Path(wsplay.__file__).parent

# DESIGN.md: imports flow one way (protocol <- engine <- flavors <- host <- widgets).
FORBIDDEN = {
    "protocol": {"asyncio", "socket", "threading", "time", "ipywidgets", "wsplay.engine", "wsplay.flavors", "wsplay.host", "wsplay.runtime"},
    "engine": {"ipywidgets", "wsplay.flavors", "wsplay.host", "wsplay.widgets"},
    "flavors": {"ipywidgets", "wsplay.host", "wsplay.widgets"},
    "runtime.py": {"ipywidgets", "wsplay.engine", "wsplay.flavors", "wsplay.host"},
    "host.py": {"ipywidgets", "wsplay.widgets"},
    # the client shares the codec and the Frame class, not the server
    "client": {"ipywidgets", "wsplay.widgets", "wsplay.host", "wsplay.flavors", "wsplay.engine.socket", "wsplay.engine.server", "wsplay.engine.transport"},
    "observe.py": {"ipywidgets", "wsplay.engine", "wsplay.host", "wsplay.widgets"},
}


def test_all_is_sorted_and_importable() -> None:
    assert list(wsplay.__all__) == sorted(wsplay.__all__)
    for name in wsplay.__all__:
        assert getattr(wsplay, name) is not None, name


def test_seed_names_are_there() -> None:
    from wsplay import FrameType, Host, ReactiveHandler, Websocket

    assert {t.name for t in FrameType} == {"TEXT", "BINARY", "CONTINUE", "CLOSE", "PING", "PONG", "ERROR"}
    for flavor in ("reactive", "functional", "imperative", "create"):
        assert callable(getattr(Websocket, flavor))
    for method in ("create", "handler", "route", "port", "bind", "defaults", "development", "console", "start", "stop", "restart", "run", "run_async"):
        assert hasattr(Host, method), method
    for method in ("on_connected", "on_message", "on_binary", "on_continue", "on_ping", "on_pong", "on_close", "on_error"):
        assert hasattr(ReactiveHandler, method), method


def _imports(path: pathlib.Path, top_level_only: bool = False) -> set[str]:
    tree = ast.parse(path.read_text(), str(path))
    found: set[str] = set()
    for node in tree.body if top_level_only else ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_imports_flow_one_way(layer: str) -> None:
    target = PACKAGE / layer
    files = sorted(target.rglob("*.py")) if target.is_dir() else [target]
    assert files, layer
    for path in files:
        # host.py may reach the widgets lazily (host.panel()), never at import time.
        for module in _imports(path, top_level_only=layer == "host.py"):
            for banned in FORBIDDEN[layer]:
                assert module != banned and not module.startswith(banned + "."), f"{path.name} imports {module}"


def test_no_print_in_library_code() -> None:
    for path in PACKAGE.rglob("*.py"):
        if path.name == "__main__.py":
            continue  # the command line prints its URL on purpose
        tree = ast.parse(path.read_text())
        calls = [n for n in ast.walk(tree) if isinstance(n, ast.Call) and getattr(n.func, "id", None) == "print"]
        assert not calls, f"print() in {path.relative_to(PACKAGE)}: the loop thread must record or log instead"
