"""The public surface and the layering rules of DESIGN.md, checked on the source itself.

The import graph is computed from every import statement in wsplay/, wherever it stands: at the top
of a module, inside a function (a lazy import), or under `if TYPE_CHECKING:`. An import of a
submodule also runs its package's `__init__` (unless the importer is inside that package already),
so that edge counts too; the top-level `wsplay/__init__.py` is the facade above everything.
"""

from __future__ import annotations

import ast
import pathlib
from collections.abc import Iterator

import pytest

import wsplay

PACKAGE = pathlib.Path(wsplay.__file__).parent

# DESIGN.md's layer picture, lowest first. A module may import its own layer and those below it, never
# one above; modules of the same rank that are listed apart (engine and client) must not import each other.
LAYERS: list[tuple[int, str]] = [
    (0, "wsplay.codes"),
    (1, "wsplay.errors"),
    (2, "wsplay.protocol"),
    (3, "wsplay.observe"),
    (3, "wsplay.decoders"),
    (4, "wsplay.runtime"),
    (5, "wsplay.core"),
    (6, "wsplay.engine"),
    (6, "wsplay.client"),
    (7, "wsplay.flavors"),
    (7, "wsplay.check"),  # the check suite: its own wire; wsplay's client only for a ready-made driver
    (8, "wsplay.examples"),
    (8, "wsplay.host"),
    (8, "wsplay.replay"),
    (9, "wsplay.widgets"),
    (9, "wsplay.check.pytest_plugin"),  # fixtures for a running Host and a connected Client
    (10, "wsplay"),  # the facade: re-exports, and plugs the panels into Host and Client
    (11, "wsplay.__main__"),
]
# What no layer may import at all, whatever its rank (the Sans-I/O protocol does no I/O).
FORBIDDEN = {
    "wsplay.protocol": {"asyncio", "socket", "threading", "time", "ipywidgets"},
    "wsplay.observe": {"asyncio", "ipywidgets"},
}
EXTERNAL_ONLY_ABOVE = {"ipywidgets": 9, "anywidget": 9, "traitlets": 9}


def module_name(path: pathlib.Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def layer_of(module: str) -> tuple[int, str]:
    best: tuple[int, str] | None = None
    for rank, prefix in LAYERS:
        if (module == prefix or module.startswith(prefix + ".")) and (best is None or len(prefix) > len(best[1])):
            best = (rank, prefix)
    assert best is not None, f"{module} is in no layer of DESIGN.md's picture: add it to LAYERS"
    return best


def imports_of(module: str) -> Iterator[tuple[str, int]]:
    """Every module `module` imports (wsplay's and others'), with the line, wherever the import stands."""
    path = MODULES[module]
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module or ""
            for alias in node.names:
                # `from wsplay import runtime` imports the submodule wsplay.runtime.
                yield (f"{source}.{alias.name}" if f"{source}.{alias.name}" in MODULES else source), node.lineno


def edges() -> dict[str, set[str]]:
    """wsplay module -> the wsplay modules importing it runs (their package __init__s included)."""
    graph: dict[str, set[str]] = {m: set() for m in MODULES}
    for module in MODULES:
        for target, _ in imports_of(module):
            if not (target == "wsplay" or target.startswith("wsplay.")):
                continue
            parts = target.split(".")
            for i in range(2, len(parts) + 1):
                step = ".".join(parts[:i])
                inside = module == step or module.startswith(step + ".")
                if step in MODULES and step != module and not (inside and i < len(parts)):
                    graph[module].add(step)
    return graph


def test_the_layers_cover_every_module() -> None:
    for module in MODULES:
        layer_of(module)


def test_no_layer_imports_one_above_it() -> None:
    wrong = []
    for module in MODULES:
        rank, name = layer_of(module)
        for target, line in imports_of(module):
            if target.startswith("wsplay.") or target == "wsplay":
                if target not in MODULES:
                    continue
                other_rank, other = layer_of(target)
                if other_rank > rank or (other_rank == rank and other != name):
                    wrong.append(f"{module}:{line} ({name}, layer {rank}) imports {target} ({other}, layer {other_rank})")
            else:
                for banned in FORBIDDEN.get(name, ()):
                    if target == banned or target.startswith(banned + "."):
                        wrong.append(f"{module}:{line} imports {target}")
                for external, lowest in EXTERNAL_ONLY_ABOVE.items():
                    if (target == external or target.startswith(external + ".")) and rank < lowest:
                        wrong.append(f"{module}:{line} ({name}) imports {target}, which belongs to layer {lowest} and up")
    assert not wrong, "\n".join(wrong)


def test_there_is_no_import_cycle() -> None:
    graph = edges()
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []
    cycles: list[list[str]] = []

    def visit(node: str) -> None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycles.append(path[path.index(nxt) :] + [nxt])
            elif nxt not in state:
                visit(nxt)
        path.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node)
    assert not cycles, "\n".join(" -> ".join(c) for c in cycles)


def test_the_graph_sees_lazy_and_type_checking_imports(tmp_path: pathlib.Path) -> None:
    """The checker itself: a function-level import and a TYPE_CHECKING one are edges like any other."""
    graph = edges()
    assert "wsplay.core.connection" in graph["wsplay.engine.connection"]
    assert "wsplay.protocol" in graph["wsplay.core.connection"]  # running wsplay/protocol/__init__.py
    source = "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from wsplay.host import Host\ndef f():\n    import wsplay.widgets\n"
    tree = ast.parse(source)
    found = {n.module if isinstance(n, ast.ImportFrom) else n.names[0].name for n in ast.walk(tree) if isinstance(n, (ast.Import, ast.ImportFrom))}
    assert {"wsplay.host", "wsplay.widgets"} <= found


# -- private names ------------------------------------------------------------------------------------


def _defined_names(tree: ast.AST) -> set[str]:
    """Names a module defines: functions, classes, attributes it assigns (self._x = ...), slots."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
            names.add(node.attr)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value.startswith("_"):
            names.add(node.value)  # __slots__ entries
    return names


def private_uses(path: pathlib.Path) -> list[str]:
    """`x._name` where x is not self/cls/super() and this module does not define `_name`; `from m import _name`."""
    tree = ast.parse(path.read_text(), str(path))
    where = path.relative_to(PACKAGE) if path.is_relative_to(PACKAGE) else path.name
    defined = _defined_names(tree)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute):
            name = node.attr
            if not name.startswith("_") or name.startswith("__"):
                continue
            owner = node.value
            if isinstance(owner, ast.Name) and owner.id in ("self", "cls"):
                continue
            if isinstance(owner, ast.Call) and isinstance(owner.func, ast.Name) and owner.func.id in ("super", "type"):
                continue
            if name in defined:
                continue  # this module's own (another instance of its class, a helper class of the module)
            found.append(f"{where}:{node.lineno} reads {ast.unparse(node)}")
        elif isinstance(node, ast.ImportFrom):
            for alias in node.names:
                if alias.name.startswith("_") and not alias.name.startswith("__"):
                    found.append(f"{where}:{node.lineno} imports {alias.name} from {node.module}")
    return found


def test_no_module_reads_another_modules_private_names() -> None:
    found = [use for path in MODULES.values() for use in private_uses(path)]
    assert not found, "\n".join(found)


def test_the_private_name_check_catches_what_it_should(tmp_path: pathlib.Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text(
        "import sys\n"
        "from wsplay.runtime import _loop\n"
        "class A:\n"
        "    def __init__(self):\n"
        "        self._mine = 1\n"
        "    def f(self, other, conn):\n"
        "        return self._mine, other._mine, conn._proto, sys._getframe(0), super()._x\n"
    )
    found = private_uses(sample)
    assert any("conn._proto" in f for f in found) and any("sys._getframe" in f for f in found)
    assert any("imports _loop" in f for f in found)
    assert not any("other._mine" in f or "self._mine" in f or "super()._x" in f for f in found)


# -- the public surface -----------------------------------------------------------------------------------


def test_all_is_sorted_and_importable() -> None:
    assert list(wsplay.__all__) == sorted(wsplay.__all__)
    for name in wsplay.__all__:
        assert getattr(wsplay, name) is not None, name


def test_what_public_methods_return_is_importable_from_wsplay() -> None:
    """Recorder, the event records and the types public methods hand out are all in `wsplay`."""
    for name in ("Recorder", "FrameRecord", "Event", "ConnectionOpened", "ConnectionClosedRecord", "LimitHit",
                 "PumpStall", "InterleavedWrite", "HandlerError", "Counters", "CloseRecord", "Frame", "RawFrame",
                 "Header", "RequestInfo", "SocketConnection", "Client", "Connection", "AlreadyClosed"):
        assert name in wsplay.__all__, name


def test_seed_names_are_there() -> None:
    from wsplay import FrameType, Host, ReactiveHandler, Websocket

    assert {t.name for t in FrameType} == {"TEXT", "BINARY", "CONTINUE", "CLOSE", "PING", "PONG", "ERROR"}
    for flavor in ("reactive", "functional", "imperative", "create"):
        assert callable(getattr(Websocket, flavor))
    for method in ("create", "handler", "route", "port", "bind", "defaults", "development", "console", "start", "stop", "restart", "run"):
        assert hasattr(Host, method), method
    for method in ("on_connected", "on_message", "on_binary", "on_continue", "on_ping", "on_pong", "on_close", "on_error"):
        assert hasattr(ReactiveHandler, method), method


@pytest.mark.parametrize("side", ["SocketConnection", "Client"])
def test_both_sides_close_the_same_way(side: str) -> None:
    """close(code, reason) with the same order and defaults on both sides, and the same close record."""
    import inspect

    cls = getattr(wsplay, side)
    params = list(inspect.signature(cls.close).parameters.values())
    assert [p.name for p in params] == ["self", "code", "reason"]
    assert params[1].default is None and params[2].default == ""
    for attr in ("close_code", "close_reason", "closed_by", "state", "latency", "buffered_amount"):
        assert hasattr(cls, attr) or attr in ("latency",), attr


def test_no_print_in_library_code() -> None:
    for path in PACKAGE.rglob("*.py"):
        if path.name == "__main__.py":
            continue  # the command line prints its URL on purpose
        tree = ast.parse(path.read_text())
        calls = [n for n in ast.walk(tree) if isinstance(n, ast.Call) and getattr(n.func, "id", None) == "print"]
        assert not calls, f"print() in {path.relative_to(PACKAGE)}: the loop thread must record or log instead"
