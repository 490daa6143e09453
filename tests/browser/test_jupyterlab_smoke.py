"""JupyterLab in chromium runs a notebook that starts a wsplay host: proves the Lab harness end to end."""

from __future__ import annotations

import json
import sys
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from testenv import MS

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = [pytest.mark.browser, pytest.mark.timeout(90)]

CELLS = [
    "import sys\nprint('kernel python:', sys.executable)",
    (
        "from wsplay import Host\n"
        "from wsplay.examples import echo\n"
        "host = Host.create().handler(echo()).port(0).start()\n"
        "print('listening on', host.url)"
    ),
    (
        "from websockets.sync.client import connect\n"
        "with connect(host.url) as ws:\n"
        "    ws.send('hello from the kernel')\n"
        "    print('echoed:', ws.recv(timeout=10))"
    ),
    # A widget displayed, then changed by a later cell: the comm path the panels use reaches the page.
    "import ipywidgets\nlabel = ipywidgets.HTML('<b>widget shown</b>')\nlabel",
    "label.value = '<b>widget updated</b>'",
    "host.stop()\nprint('stopped:', not host.running)",
]


def test_lab_runs_a_notebook_with_a_host(
    jupyterlab: Any,
    new_page: Callable[..., Page],
    write_notebook: Callable[[Path, list[str]], Path],
    run_notebook_in_lab: Callable[..., None],
    screenshot: Callable[[Page, str], Path],
) -> None:
    # The settings override reached the server: no news toast will cover the notebook.
    with urllib.request.urlopen(
        f"{jupyterlab.url}lab/api/settings/@jupyterlab/apputils-extension:notification?token={jupyterlab.token}", timeout=10
    ) as response:
        notification = json.load(response)
    assert notification["schema"]["properties"]["fetchNews"]["default"] == "false"

    path = write_notebook(jupyterlab.root_dir / "smoke.ipynb", CELLS)
    page = new_page(viewport={"width": 1280, "height": 800})
    run_notebook_in_lab(page, jupyterlab, path, ".jp-OutputArea-output:has-text('stopped: True')")

    outputs = "\n".join(page.locator(".jp-OutputArea-output").all_inner_texts())
    assert f"kernel python: {sys.executable}" in outputs  # Lab's kernel is the test environment
    assert "listening on ws://127.0.0.1:" in outputs
    assert "echoed: hello from the kernel" in outputs
    page.locator(".jp-OutputArea-output .widget-html-content:has-text('widget updated')").wait_for(timeout=10 * MS)
    assert not page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']").count(), outputs
    assert not page.locator(".jp-Notification-Toast").count()  # no news or update toast
    screenshot(page, "jupyterlab-smoke")
