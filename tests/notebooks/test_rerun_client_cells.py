"""A student may run a teaching notebook's client cell again, on its own, at any point.

After a notebook has run top to bottom (all but its last cell, which stops everything), every cell
that opens a client is run once more, as a student would after editing or re-reading it. It must
work again, or fail with an assertion whose message says what to re-run first; a bare
AssertionError or any other error is a broken cell. The cells go through a kernel that is told each
cell's id, as JupyterLab does, so re-running a cell replaces the client it opened.

Solution cells (tagged `solution`, collapsed) are left out: each changes what the lesson's cells
check on purpose (a server that answers only the sender, say), and they are run, top to bottom and as
edits of the cells they replace, by test_teaching.py and test_exercises.py.
"""

from __future__ import annotations

import ast
from pathlib import Path

import nbformat
import pytest

from frontend import FrontendClient

NOTEBOOK_DIR = Path(__file__).resolve().parents[2] / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("[0-9][0-9]-*.ipynb"))


def opens_a_client(source: str) -> bool:
    """True when the cell's own code (not a function it defines) calls connect(...) or Client(...)."""
    try:
        tree = ast.parse(source)
    except SyntaxError:  # IPython syntax (magics, top-level await is fine for ast)
        return False
    pending = list(tree.body)
    while pending:
        node = pending.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)):
            continue
        if isinstance(node, ast.Call):
            func = node.func
            name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
            if name in ("connect", "Client"):
                return True
        pending.extend(ast.iter_child_nodes(node))
    return False


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_client_cells_can_be_run_again(path: Path, kernel_env: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    client = FrontendClient(nb, kernel_name="python3", timeout=60, startup_timeout=60, allow_errors=True,
                            resources={"metadata": {"path": str(path.parent)}})
    code = [i for i, cell in enumerate(nb.cells) if cell.cell_type == "code" and "solution" not in cell.metadata.get("tags", [])]
    broken = []
    with client.setup_kernel():
        for i in code[:-1]:
            client.execute_cell(nb.cells[i], i)
            errors = [o for o in nb.cells[i].outputs if o.output_type == "error"]
            assert not errors, f"cell {i} failed on the first run: {errors[0].ename}: {errors[0].evalue}"
        for i in code[:-1]:
            if not opens_a_client(nb.cells[i].source):
                continue
            client.execute_cell(nb.cells[i], i)
            for out in nb.cells[i].outputs:
                if out.output_type != "error":
                    continue
                if out.ename == "AssertionError" and "re-run" in out.evalue:
                    continue  # it says what to run first
                broken.append(f"cell {i}: {out.ename}: {out.evalue!r}")
        last = code[-1]
        client.execute_cell(nb.cells[last], last)  # stops everything: must still work after the re-runs
        errors = [o for o in nb.cells[last].outputs if o.output_type == "error"]
        assert not errors, f"the last cell failed after the re-runs: {errors[0].ename}: {errors[0].evalue}"
    assert not broken, "\n".join(broken)
