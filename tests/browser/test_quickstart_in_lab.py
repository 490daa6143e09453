"""notebooks/00-quickstart.ipynb in JupyterLab (chromium): Run All renders the live server panel and
the sequence diagram picture, and runs to the last cell; the screenshots are kept as
artifacts/jupyterlab-quickstart.png and artifacts/jupyterlab-quickstart-picture.png.

The notebook is the one students open first on Binder. nbclient (tests/notebooks) checks its
assertions headless; this test checks what only a browser shows: the widgets render.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from labpictures import show, svg_of
from testenv import MS

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = [pytest.mark.browser, pytest.mark.timeout(120)]

NOTEBOOK = Path(__file__).resolve().parents[2] / "notebooks" / "00-quickstart.ipynb"
LAST_OUTPUT = "<Host stopped"  # the last cell prints the stopped host


def test_quickstart_runs_in_lab_with_its_panel(
    jupyterlab: Any,
    new_page: Callable[..., Page],
    run_notebook_in_lab: Callable[..., None],
    screenshot: Callable[[Page, str], Path],
) -> None:
    assert NOTEBOOK.exists(), f"{NOTEBOOK} is missing"
    # Its kernelspec is "python3", which the Lab fixture maps to this interpreter.
    path = Path(shutil.copy(NOTEBOOK, jupyterlab.root_dir / NOTEBOOK.name))
    page = new_page(viewport={"width": 1400, "height": 1000})
    run_notebook_in_lab(page, jupyterlab, path, f".jp-OutputArea-output:has-text('{LAST_OUTPUT}')", timeout=60)

    # Run All stops at the first failing cell, so reaching the last cell's output means none failed;
    # check anyway that no cell shows a traceback.
    errors = page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']").all_inner_texts()
    assert not [text for text in errors if "Traceback" in text or "Error" in text], errors

    # The live panel: its connection table and its frame table, with the chat's frames in it.
    panel = page.locator(".jp-OutputArea-output .wsp-panel").first
    panel.wait_for(state="attached", timeout=10 * MS)
    chat_rows = panel.locator(".wsp-scroll .wsp-row", has_text="[0]: hi")
    chat_rows.first.wait_for(state="attached", timeout=10 * MS)
    assert panel.locator(".wsp-conns table tbody tr").count() >= 1

    # Show the panel for the screenshot: the cell that starts the host, at the top of the notebook view.
    first_code_cell = page.locator(".jp-NotebookPanel .jp-CodeCell").first
    first_code_cell.evaluate("cell => cell.scrollIntoView({block: 'start'})")
    page.wait_for_timeout(300)  # let the scroll settle
    shot = screenshot(page, "jupyterlab-quickstart")
    assert shot.stat().st_size > 10_000

    # The picture (an SVG saved in the output, so nbconvert shows it too): Alice's connection.
    picture = page.locator(".jp-RenderedSVG img").first
    picture.wait_for(state="attached", timeout=10_000)
    assert "Alice" in svg_of(picture)
    show(page, picture, "jupyterlab-quickstart-picture", screenshot)
    page.keyboard.press("Escape")
