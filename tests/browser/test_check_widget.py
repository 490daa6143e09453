"""The check results widget rendered by JupyterLab in chromium: summary, cases, a case's frames, the
bit diagram of a clicked frame, and a peer's text (a close reason with markup in it) shown as text."""

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
    "from wsplay import Host, Websocket\n"
    "async def refuse(connection, frame):\n"
    "    await connection.close(1000, '<b>not bold</b>')\n"
    "host = Host.create().handler(Websocket.functional().on_message(refuse)).port(0).start()\n"
    "result = wsplay.check.server(host.url, cases='1.1.1,1.1.2,1.4.3', timeout=3)\n"
    "print('checked:', result.counts)\n"
    "result",
]


def test_the_results_widget(
    jupyterlab: Any,
    new_page: Callable[..., Page],
    write_notebook: Callable[[Path, list[str]], Path],
    run_notebook_in_lab: Callable[..., None],
    screenshot: Callable[[Page, str], Path],
) -> None:
    path = write_notebook(jupyterlab.root_dir / "check.ipynb", CELLS)
    page = new_page(viewport={"width": 1400, "height": 1100})
    run_notebook_in_lab(page, jupyterlab, path, ".jp-OutputArea-output:has-text('checked:')")

    widget = page.locator(".jp-OutputArea-output .wsp-kind-check").first
    widget.wait_for(timeout=15 * MS)
    assert "3 cases" in widget.locator(".wsp-check-headline").inner_text()
    summary = widget.locator(".wsp-check-grid").inner_text()
    assert "1 Framing" in summary and "FAILED" in summary
    items = widget.locator(".wsp-check-item")
    assert items.count() == 3  # the cases that are not OK: two FAILED echoes, 1.4.3 INFORMATIONAL
    # The first case that is not OK is selected: its expected/happened, and its conversation.
    detail = widget.locator(".wsp-check-case")
    detail.locator(".wsp-check-facts").wait_for(timeout=10 * MS)
    assert "1.1.1" in detail.inner_text() and "HTTP request:" in widget.locator(".wsp-check-timeline").inner_text()
    # The peer's close reason is text, never markup.
    assert "<b>not bold</b>" in detail.inner_text()
    assert page.locator(".jp-OutputArea-output b:has-text('not bold')").count() == 0
    # Its frames in the frame table; a click draws the header bit by bit.
    rows = widget.locator(".wsp-scroll .wsp-row")
    rows.first.wait_for(timeout=10 * MS)
    assert rows.count() >= 2
    rows.first.click()
    widget.locator(".wsp-inspector .wsp-field[data-field='key']:has-text('masking key')").first.wait_for(timeout=10 * MS)
    # Another case, from the list; then the verdict filters.
    items.filter(has_text="1.4.3").first.click()
    widget.locator(".wsp-check-case .wsp-title:has-text('1.4.3')").wait_for(timeout=10 * MS)
    filters = widget.locator(".wsp-check-filters")
    assert filters.inner_text().split() == ["not", "OK", "all", "OK", "NON-STRICT", "INFORMATIONAL", "FAILED"]
    widget.locator(".wsp-check-filters button", has_text="all").first.click()
    assert widget.locator(".wsp-check-item").count() == 3
    screenshot(page, "jupyterlab-check-widget")
