"""The workshop's exercises: each has a solution students can reveal, and the edit-and-re-run ones work as edits.

A solution is a code cell tagged `solution` and collapsed (`"jupyter": {"source_hidden": true}`), so
JupyterLab shows a "..." a student clicks to reveal it; test_teaching.py runs every one top to bottom.
An exercise that asks students to *edit a cell and run it again* has a solution whose metadata names
that cell (`"wsplay": {"edit": "<cell id>"}`): its source is the edited cell. Here each of those is done
the way a student does it in JupyterLab: the notebook runs (its lesson cells), the named cell's source
is replaced by the solution's, the cell runs again with the same id (FrontendClient sends it, as
JupyterLab does), and the cells the exercise says to run next show the new behaviour.

The capstone is checked both ways in one kernel: its checker cell reports all four items missing on
the start cell as shipped, and all done once the start cell holds the solution.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import nbformat
import pytest

from frontend import FrontendClient

NOTEBOOK_DIR = Path(__file__).resolve().parents[2] / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("[0-9][0-9]-*.ipynb"))


@dataclass(frozen=True)
class Edit:
    """An edit exercise: after the edit, run `rerun` (cell ids) and find each of `expect` in their output."""

    notebook: str
    rerun: tuple[str, ...]
    expect: tuple[str, ...]
    before: tuple[str, ...] = ()  # found in the `rerun` cells' output before the edit (the lesson as shipped)
    check: str = ""  # more code to run in the kernel after the re-runs (its output counts too)


EDITS = {
    "00-quickstart": Edit("00-quickstart", ("probe",), ("sender got '[", "other got nothing", "hosts: 1"),
                          before=("other got '[",)),
    "02-flavors": Edit("02-flavors", ("hosts", "probe"), ("/pings -> 'pings: 2'", "hosts: 1"), before=("/pings -> '[0]: /pings'",)),
    "03-continuation-frames": Edit("03-continuation-frames", ("probe",), ("'hello wörld (3 fragments)'",), before=("'hello wörld'",)),
    "04-long-running-tasks": Edit("04-long-running-tasks", ("probe",), ("'busy'",), before=("'import done'",)),
    "06-compression": Edit("06-compression", ("probe",), ("extension: None, RSV1: False, on the wire: 1670 of 1670 bytes", "hosts: 1"),
                           before=("extension: permessage-deflate, RSV1: True",)),
    "07-capstone": Edit("07-capstone", ("checker",), ("all done: the capstone works", "hosts: 1"),
                        before=("4 of 4 still missing", "✗ 1. /nick", "✗ 2. /ticker", "✗ 3. a fragmented upload", "… 4. the upload")),
    "10-browser-page": Edit("10-browser-page", ("serve",), ("served: True", "hosts: 1"),
                            check="import urllib.request\nwith urllib.request.urlopen(host.direct_client_url, timeout=5) as r:\n"
                                  "    print('served:', 'rtt' in r.read().decode())\n"),
}
REPORT = "import wsplay.runtime as _rt\nprint('hosts:', len(_rt.live_hosts()))\n"  # run after the re-run cells


def _solutions(nb: nbformat.NotebookNode) -> list[nbformat.NotebookNode]:
    return [c for c in nb.cells if c.cell_type == "code" and "solution" in c.metadata.get("tags", [])]


def _output_text(cell: nbformat.NotebookNode) -> str:
    parts = []
    for out in cell.get("outputs", []):
        if out.output_type == "stream":
            parts.append(out.text)
        elif out.output_type in ("execute_result", "display_data"):
            parts.append(out.get("data", {}).get("text/plain", ""))
        elif out.output_type == "error":
            parts.append(f"ERROR {out.ename}: {out.evalue}")
    return "".join(parts)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_exercise_has_a_collapsed_solution(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    # An exercise is a "## Exercise(s)" or "## Questions" section; the capstone is one exercise as a whole.
    exercises = [c for c in nb.cells if c.cell_type == "markdown" and re.search(r"^## (Exercises?|Questions)\b", c.source, re.M)]
    solutions = _solutions(nb)
    assert exercises or path.stem.endswith("-capstone"), f"{path.name} has no exercise"
    assert solutions, f"{path.name} has exercises but no solution cell"
    # A numbered list under "## Exercises" is that many exercises, each with its own solution cell.
    numbered = max((len(re.findall(r"^\d+\. ", c.source[c.source.index("## Exercises"):], re.M)) for c in exercises if "## Exercises" in c.source), default=0)
    assert len(solutions) >= max(1, numbered), f"{path.name}: {numbered} exercises, {len(solutions)} solutions"
    ids = {c.id for c in nb.cells}
    for cell in solutions:
        assert cell.metadata.get("jupyter", {}).get("source_hidden") is True, f"{path.name}: solution {cell.id} is not collapsed"
        target = cell.metadata.get("wsplay", {}).get("edit")
        if target is not None:
            assert target in ids, f"{path.name}: solution {cell.id} edits {target!r}, which is no cell of the notebook"
            assert path.stem in EDITS, f"{path.name}: the edit exercise on {target!r} has no test in EDITS"


@pytest.mark.timeout(240)
@pytest.mark.parametrize("stem", sorted(EDITS))
def test_an_edit_exercise_done_as_a_student_does_it(stem: str, kernel_env: Path) -> None:
    edit = EDITS[stem]
    path = NOTEBOOK_DIR / f"{stem}.ipynb"
    nb = nbformat.read(path, as_version=4)
    (solution,) = [c for c in _solutions(nb) if c.metadata.get("wsplay", {}).get("edit")]
    target_id = solution.metadata["wsplay"]["edit"]
    by_id = {c.id: i for i, c in enumerate(nb.cells)}
    lesson = [i for i, c in enumerate(nb.cells) if c.cell_type == "code" and "solution" not in c.metadata.get("tags", [])]
    last = lesson.pop()  # the clean-up cell, run at the end
    client = FrontendClient(nb, kernel_name="python3", timeout=60, startup_timeout=60, allow_errors=True,
                            resources={"metadata": {"path": str(path.parent)}})
    with client.setup_kernel():
        for i in lesson:
            client.execute_cell(nb.cells[i], i)
            assert not [o for o in nb.cells[i].outputs if o.output_type == "error"], f"cell {i} failed: {_output_text(nb.cells[i])[-800:]}"
        shipped = "".join(_output_text(nb.cells[by_id[cid]]) for cid in edit.rerun)
        for text in edit.before:
            assert text in shipped, f"before the edit, {text!r} not in:\n{shipped}"

        target = by_id[target_id]
        nb.cells[target].source = solution.source  # the student pastes the solution over the cell...
        client.execute_cell(nb.cells[target], target)  # ...and runs it again: same cell, same id
        outputs = [_output_text(nb.cells[target])]
        for cid in edit.rerun:
            client.execute_cell(nb.cells[by_id[cid]], by_id[cid])
            outputs.append(_output_text(nb.cells[by_id[cid]]))
        report = nbformat.v4.new_code_cell(edit.check + REPORT)
        nb.cells.append(report)
        client.execute_cell(report, len(nb.cells) - 1)
        outputs.append(_output_text(report))
        after = "".join(outputs)
        assert "ERROR" not in after, after
        for text in edit.expect:
            assert text in after, f"after the edit, {text!r} not in:\n{after}"

        client.execute_cell(nb.cells[last], last)
        assert not [o for o in nb.cells[last].outputs if o.output_type == "error"], _output_text(nb.cells[last])
