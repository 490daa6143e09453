"""Run notebooks built in code on a real kernel with nbclient.

The kernel must be this interpreter (the test environment with wsplay installed), whatever
kernelspecs the machine has: each run writes a throwaway `python3` kernelspec pointing at
`sys.executable` and puts it first on JUPYTER_PATH. Runtime and IPython directories go to the
test's tmp dir too, so nothing outside it is touched.
"""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nbclient
import nbformat
import pytest

from frontend import FrontendClient
from testenv import BINDER_RESULTS, LIMITS_CHECK, binder_limits, binder_table, write_kernelspec

KERNEL_STARTUP = 60  # seconds
CELL_TIMEOUT = 30  # seconds, per cell


@dataclass
class Run:
    notebook: nbformat.NotebookNode
    seconds: float

    def stream(self, index: int, name: str = "stdout") -> str:
        """All text cell `index` wrote to `name` (stdout or stderr)."""
        cell = self.notebook.cells[index]
        return "".join(o.get("text", "") for o in cell.get("outputs", []) if o.output_type == "stream" and o.name == name)

    def errors(self) -> list[tuple[int, str, str]]:
        """(cell index, ename, evalue) of every error output."""
        return [
            (i, o.ename, o.evalue)
            for i, cell in enumerate(self.notebook.cells)
            for o in cell.get("outputs", [])
            if o.output_type == "error"
        ]


def _kernel_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, prefix: list[str] | None = None) -> Path:
    write_kernelspec(tmp_path / "jupyter", prefix)
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", str(tmp_path / "runtime"))
    monkeypatch.setenv("IPYTHONDIR", str(tmp_path / "ipython"))
    monkeypatch.setenv("PYTHONUNBUFFERED", "1")
    monkeypatch.delenv("JUPYTERHUB_SERVICE_PREFIX", raising=False)  # direct URLs, not the hub's proxy
    from jupyter_client.kernelspec import KernelSpecManager

    assert sys.executable in KernelSpecManager().get_kernel_spec("python3").argv
    return tmp_path


@pytest.fixture
def kernel_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A throwaway `python3` kernelspec running this interpreter, first on JUPYTER_PATH; returns tmp_path."""
    return _kernel_env(tmp_path, monkeypatch)


@pytest.fixture
def binder_kernel_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The same kernelspec, its kernel run as on a Binder pod: one CPU, 2 GB of address space."""
    return _kernel_env(tmp_path, monkeypatch, binder_limits())


class Session:
    """A notebook open on a live kernel: run its cells in any order, edit one, run it again."""

    def __init__(self, client: FrontendClient) -> None:
        self.client = client
        self.nb = client.nb

    def run(self, index: int, source: str | None = None) -> list[Any]:
        """Run cell `index` (after replacing its source, keeping its id, when `source` is given); its outputs."""
        cell = self.nb.cells[index]
        if source is not None:
            cell.source = source
        self.client.execute_cell(cell, index)
        return list(cell.get("outputs", []))

    def stdout(self, index: int) -> str:
        return "".join(o.get("text", "") for o in self.nb.cells[index].get("outputs", []) if o.output_type == "stream" and o.name == "stdout")


@pytest.fixture
def notebook_session(kernel_env: Path) -> Callable[[list[str]], contextlib.AbstractContextManager[Session]]:
    """`with notebook_session([source, ...]) as s:` a kernel with those cells, none run yet; s.run(i) runs one."""

    @contextlib.contextmanager
    def open_session(sources: list[str]) -> Iterator[Session]:
        nb = nbformat.v4.new_notebook()
        nb.cells = [nbformat.v4.new_code_cell(src) for src in sources]
        client = FrontendClient(nb, kernel_name="python3", timeout=CELL_TIMEOUT, startup_timeout=KERNEL_STARTUP,
                                resources={"metadata": {"path": str(kernel_env)}})
        with client.setup_kernel():
            yield Session(client)

    return open_session


def execute(nb: nbformat.NotebookNode, cwd: Path) -> Run:
    """Execute `nb` in place on the throwaway kernel, with `cwd` as the kernel's working directory."""
    client = nbclient.NotebookClient(
        nb,
        kernel_name="python3",
        timeout=CELL_TIMEOUT,
        startup_timeout=KERNEL_STARTUP,
        resources={"metadata": {"path": str(cwd)}},
    )
    started = time.monotonic()
    client.execute()
    return Run(nb, time.monotonic() - started)


@pytest.fixture
def run_notebook(kernel_env: Path) -> Callable[[list[str]], Run]:
    """`run_notebook([source, ...])` builds a notebook in tmp_path, executes it and returns the Run."""
    tmp_path = kernel_env

    def run(sources: list[str]) -> Run:
        nb = nbformat.v4.new_notebook()
        nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
        nb.cells = [nbformat.v4.new_code_cell(src) for src in sources]
        path = tmp_path / "notebook.ipynb"
        nbformat.write(nb, path)  # a real file on disk, as a user's notebook would be
        nb = nbformat.read(path, as_version=4)
        return execute(nb, tmp_path)

    return run


# -- the notebooks within Binder's limits ------------------------------------------------------------

def pytest_terminal_summary(terminalreporter: Any) -> None:
    if BINDER_RESULTS:
        terminalreporter.section("the notebooks on one CPU with 2 GB (Binder's limits): wall time with kernel start, kernel's peak RSS")
        terminalreporter.write_line(binder_table())


@pytest.fixture
def run_notebook_file(kernel_env: Path) -> Callable[..., Run]:
    """`run_notebook_file(path, extra_cells=[...])` executes a copy of a stored notebook top to bottom.

    The kernel's working directory is the notebook's folder, as in JupyterLab. `extra_cells` are code
    cells appended to the copy only (checks the reader never sees); the file itself is not touched.
    """

    def run(path: Path, extra_cells: list[str] = ()) -> Run:
        nb = nbformat.read(path, as_version=4)
        nb.cells.extend(nbformat.v4.new_code_cell(src) for src in extra_cells)
        return execute(nb, Path(path).parent)

    return run


@pytest.fixture
def run_notebook_on_binder_limits(binder_kernel_env: Path) -> Callable[..., Run]:
    """`run_notebook_on_binder_limits(path, extra_cells=[...])`: as `run_notebook_file`, the kernel on one
    CPU with 2 GB of address space; a last cell reports its peak memory (`kernel_limits(run)` reads it)."""

    def run(path: Path, extra_cells: list[str] = ()) -> Run:
        nb = nbformat.read(path, as_version=4)
        nb.cells.extend(nbformat.v4.new_code_cell(src) for src in [*extra_cells, LIMITS_CHECK])
        return execute(nb, Path(path).parent)

    return run
