"""The panels as notebooks treat them: two views of one panel, a kernel restart, and Notebook 7."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from testenv import MS

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = [pytest.mark.browser, pytest.mark.timeout(120)]

START = (
    "import time\n"
    "import wsplay\n"
    "from wsplay import Host\n"
    "from wsplay.examples import echo\n"
    "host = Host.create().handler(echo()).port(0).start()\n"
    "host"
)
SEND = "client = wsplay.connect(host.url)\nclient.send('seen by both views')\nprint('echo:', client.receive_text(timeout=5))"


def test_two_views_then_a_kernel_restart(
    jupyterlab: Any,
    new_page: Callable[..., Page],
    write_notebook: Callable[[Path, list[str]], Path],
    run_notebook_in_lab: Callable[..., None],
    screenshot: Callable[[Page, str], Path],
) -> None:
    path = write_notebook(jupyterlab.root_dir / "views.ipynb", [START, "host  # the same panel again: a second view", SEND])
    page = new_page(viewport={"width": 1400, "height": 1000})
    run_notebook_in_lab(page, jupyterlab, path, ".jp-OutputArea-output:has-text('echo: seen by both views')")
    panels = page.locator(".jp-OutputArea-output .wsp-panel")
    panels.nth(1).wait_for()
    assert panels.count() == 2
    for i in range(2):  # both views show the frames, the connection and the live status
        panels.nth(i).locator(".wsp-scroll .wsp-row", has_text="seen by both views").first.wait_for(timeout=10 * MS)
        assert "running at" in panels.nth(i).locator(".wsp-status").inner_text()
        assert panels.nth(i).locator(".wsp-banner").is_hidden()
    # A click in one view selects the frame in both (the selection is the panel's, not the view's).
    panels.nth(0).locator(".wsp-scroll .wsp-row.wsp-in", has_text="seen by both views").first.click()
    for i in range(2):
        panels.nth(i).locator(".wsp-inspector .wsp-bits").wait_for(timeout=10 * MS)

    # Restart the kernel behind the page's back: the views say they are disconnected, not frozen.
    with urllib.request.urlopen(f"{jupyterlab.url}api/sessions?token={jupyterlab.token}", timeout=10) as response:
        kernel = next(s["kernel"]["id"] for s in json.load(response) if s["path"] == "views.ipynb")
    request = urllib.request.Request(f"{jupyterlab.url}api/kernels/{kernel}/restart?token={jupyterlab.token}", method="POST", data=b"")
    urllib.request.urlopen(request, timeout=30).close()
    for i in range(2):
        banner = panels.nth(i).locator(".wsp-banner")
        banner.wait_for(state="visible", timeout=15 * MS)
        assert "disconnected" in banner.inner_text()
    # What was recorded stays on the page.
    assert panels.nth(0).locator(".wsp-scroll .wsp-row", has_text="seen by both views").count() >= 1
    panels.nth(0).scroll_into_view_if_needed()
    screenshot(page, "panel-disconnected")


def test_the_panel_in_notebook_7(
    notebook7: Any,
    new_page: Callable[..., Page],
    write_notebook: Callable[[Path, list[str]], Path],
    run_notebook_in_lab: Callable[..., None],
    screenshot: Callable[[Page, str], Path],
) -> None:
    path = write_notebook(notebook7.root_dir / "nb7.ipynb", [START, SEND])
    page = new_page(viewport={"width": 1400, "height": 1000})
    run_notebook_in_lab(page, notebook7, path, ".jp-OutputArea-output:has-text('echo: seen by both views')", ui="notebook")
    panel = page.locator(".jp-OutputArea-output .wsp-panel").first
    row = panel.locator(".wsp-scroll .wsp-row.wsp-in", has_text="seen by both views").first
    row.wait_for(timeout=10 * MS)
    row.click()
    panel.locator(".wsp-inspector .wsp-bit[data-field='mask']:has-text('1')").wait_for(timeout=10 * MS)
    assert "1 open connection" in panel.locator(".wsp-status").inner_text()
    screenshot(page, "notebook7-panel")
