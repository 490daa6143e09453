"""The server panel rendered by JupyterLab in chromium: a frame sent by a kernel-side client shows up."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from testenv import MS

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = [pytest.mark.browser, pytest.mark.timeout(90)]

CELLS = [
    "import wsplay\n"
    "from wsplay import Host\n"
    "from wsplay.examples import echo\n"
    "host = Host.create().handler(echo()).port(0).development().start()\n"
    "host",
    # The panel is on the page; now a kernel-side client sends a frame the panel must show.
    "client = wsplay.connect(host.url)\n"
    "client.send('hello panel <b>not bold</b>')\n"
    "print('echo:', client.receive_text(timeout=5))",
]


def test_a_frame_appears_in_the_rendered_panel(
    jupyterlab: Any,
    new_page: Callable[..., Page],
    write_notebook: Callable[[Path, list[str]], Path],
    run_notebook_in_lab: Callable[..., None],
    screenshot: Callable[[Page, str], Path],
) -> None:
    path = write_notebook(jupyterlab.root_dir / "panel.ipynb", CELLS)
    page = new_page(viewport={"width": 1400, "height": 1000})
    run_notebook_in_lab(page, jupyterlab, path, ".jp-OutputArea-output:has-text('echo: hello panel')")

    # The table's rows arrive through the panel's refresher (<= 10 pushes a second).
    panel = page.locator(".jp-OutputArea-output .wsp-panel").first
    row = panel.locator(".wsp-scroll .wsp-row", has_text="hello panel")
    row.first.wait_for(timeout=10 * MS)
    assert row.count() >= 2  # the frame in and its echo out
    conns = panel.locator(".wsp-conns table").first
    conns.wait_for(timeout=10 * MS)
    assert "open" in conns.inner_text()  # the live connection, in the connection table
    # Peer text is shown as text, never as markup.
    assert page.locator(".jp-OutputArea-output b:has-text('not bold')").count() == 0
    assert "<b>not bold</b>" in row.first.inner_text()
    # Every select shows a choice (the "all ..." ones included).
    for select in panel.locator("select").all():
        assert select.evaluate("el => el.selectedIndex >= 0 && el.options[el.selectedIndex].text.length > 0")
    row.first.click()
    panel.locator(".wsp-inspector .wsp-field[data-field='key']:has-text('masking key')").first.wait_for(timeout=10 * MS)
    screenshot(page, "jupyterlab-panel")
    page.keyboard.press("Escape")
