"""The teaching notebooks in `notebooks/`: each runs top to bottom on a real kernel and cleans up after itself.

Every `notebooks/NN-*.ipynb` is picked up. Each notebook asserts its own lesson in its own cells; this
harness adds what every notebook owes its reader: no error, under a minute on one CPU with 2 GB (a
Binder pod's size: the kernel runs under `taskset` and `prlimit --as`), and nothing left running. Each
notebook's time and the kernel's peak memory go to artifacts/binder-limits.txt and the test summary.
For that a hidden check cell is appended to the executed copy (never to the file); it fails when,
after a grace of a couple of seconds:

- a wsplay host is still registered (`wsplay.runtime.live_hosts()`) or any `Host` object still runs;
- any `wsplay.Client` object is not closed (there is no client registry: the check walks the
  objects the garbage collector tracks, which include every `Client` the notebook still holds);
- a non-daemon thread other than MainThread is alive (it would hold up kernel shutdown);
- a task is still pending on wsplay's background loop (a handler or spawned task never finished).

Daemon threads (wsplay's loop, a panel's refresher, the kernel's own) die with the kernel and are allowed.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

from testenv import BINDER_RESULTS, binder_table, kernel_limits

NOTEBOOK_DIR = Path(__file__).resolve().parents[2] / "notebooks"
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("[0-9][0-9]-*.ipynb"))
BUDGET = 60  # seconds per notebook, kernel start and stop included
CLEAN = "WSPLAY-LEFT-NOTHING-BEHIND"

LEFTOVERS_CHECK = f"""
import asyncio as _asyncio, gc as _gc, threading as _threading, time as _time
import wsplay as _wsplay, wsplay.runtime as _wsplay_runtime

def _isa(o, cls):
    # A dead weakref.proxy raises ReferenceError on isinstance(); the websockets library keeps one per
    # connection in its logger adapters (a "websocket" proxy in `extra`), after the connection is gone.
    try:
        return isinstance(o, cls)
    except ReferenceError:
        return False

def _wsplay_leftovers():
    found = {{}}
    hosts = _wsplay_runtime.live_hosts()
    hosts += [o for o in _gc.get_objects() if _isa(o, _wsplay.Host) and o.running and o not in hosts]
    if hosts:
        found["running hosts"] = hosts
    clients = [o for o in _gc.get_objects() if _isa(o, _wsplay.Client) and o.state != "closed"]
    if clients:
        found["clients not closed"] = clients
    threads = [t for t in _threading.enumerate() if not t.daemon and t is not _threading.main_thread()]
    if threads:
        found["non-daemon threads"] = threads
    loop = _wsplay_runtime._loop
    if loop is not None and not loop.is_closed() and loop.is_running():
        async def _pending():
            me = _asyncio.current_task()
            return [t for t in _asyncio.all_tasks() if t is not me and not t.done()]
        tasks = _asyncio.run_coroutine_threadsafe(_pending(), loop).result(5)
        if tasks:
            found["tasks pending on the wsplay loop"] = tasks
    return found

_deadline = _time.monotonic() + 3
while (_found := _wsplay_leftovers()) and _time.monotonic() < _deadline:
    _time.sleep(0.05)
assert not _found, f"the notebook left these behind: {{_found}}"
print({CLEAN!r})
"""


def test_notebooks_are_there():
    assert (NOTEBOOK_DIR / "00-quickstart.ipynb") in NOTEBOOKS, f"no 00-quickstart in {NOTEBOOK_DIR}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_stored_clean(path: Path):
    """Stored as a reader should get it: valid v4, no outputs, python3 kernel, learning goals first."""
    nb = nbformat.read(path, as_version=nbformat.NO_CONVERT)
    nbformat.validate(nb)
    assert nb.nbformat == 4
    assert nb.metadata.get("kernelspec", {}).get("name") == "python3", nb.metadata.get("kernelspec")
    assert "widgets" not in nb.metadata, "saved widget state: clear the outputs before saving"
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "code":
            assert cell.outputs == [], f"cell {i} has saved outputs"
            assert cell.execution_count is None, f"cell {i} has an execution count"
    first = nb.cells[0]
    assert first.cell_type == "markdown" and "Learning goals" in first.source, "start with a markdown cell of learning goals"
    assert nb.cells[-1].cell_type == "code", "the last cell stops what the notebook started"


@pytest.mark.timeout(3 * BUDGET)
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_runs_and_cleans_up_within_binders_limits(path: Path, run_notebook_on_binder_limits):
    """Top to bottom, solutions included, in a kernel on one CPU with 2 GB, as on a Binder pod."""
    run = run_notebook_on_binder_limits(path, extra_cells=[LEFTOVERS_CHECK])

    assert run.errors() == []
    assert CLEAN in run.stream(len(run.notebook.cells) - 2)  # the leftovers check, before the limits report
    limits = kernel_limits(run)
    BINDER_RESULTS[path.stem] = (run.seconds, limits["peak_kib"] / 1024)
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "binder-limits.txt").write_text(binder_table() + "\n", encoding="utf-8")
    assert run.seconds < BUDGET, f"{path.name} took {run.seconds:.1f} s"
    print(f"{path.name}: {run.seconds:.1f} s, peak {limits['peak_kib'] / 1024:.0f} MiB")


@pytest.mark.timeout(3 * BUDGET)
def test_leftover_check_catches_leaks(tmp_path: Path, run_notebook_file):
    """The check cell itself: a notebook that forgets its host, a client and a thread fails it, naming each."""
    import nbclient

    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [
        nbformat.v4.new_code_cell(
            "import threading, wsplay, wsplay.examples\n"
            "host = wsplay.Host.create().handler(wsplay.examples.echo()).port(0).start()\n"
            "client = wsplay.connect(host.url)\n"
            "threading.Thread(target=threading.Event().wait, args=(5,), name='forgotten').start()\n"
        )
    ]
    path = tmp_path / "leaky.ipynb"
    nbformat.write(nb, path)
    with pytest.raises(nbclient.exceptions.CellExecutionError) as failure:
        run_notebook_file(path, extra_cells=[LEFTOVERS_CHECK])
    message = str(failure.value)
    for what in ("running hosts", "clients not closed", "non-daemon threads", "forgotten"):
        assert what in message, (what, message[-2000:])
