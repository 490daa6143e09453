"""A page written in a notebook cell, served with `host.page(html)`: chromium clicks its buttons, and the
host records the browser's own frames (notebook 10-browser-page, its page cell and its solution).

The page's HTML is read from the notebook itself, so the test checks the page students get.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import nbformat
import pytest

from testenv import UNIT, wait_for

if TYPE_CHECKING:
    from playwright.sync_api import Page

    from wsplay import Host

pytestmark = [pytest.mark.browser, pytest.mark.timeout(90)]

NOTEBOOK = Path(__file__).resolve().parents[2] / "notebooks" / "10-browser-page.ipynb"


def page_from(cell_id: str | None = None, tag: str | None = None) -> str:
    """MY_PAGE as the notebook's page cell (or its solution) defines it."""
    nb = nbformat.read(NOTEBOOK, as_version=4)
    cell = next(c for c in nb.cells if (cell_id and c.id == cell_id) or (tag and tag in c.metadata.get("tags", [])))
    namespace: dict[str, object] = {}
    exec(cell.source, namespace)  # noqa: S102 - the repository's own notebook
    page = namespace["MY_PAGE"]
    assert isinstance(page, str)
    return page


def _log(page: Page) -> str:
    return page.locator("#log").inner_text()


def test_the_page_written_in_the_cell_sends_what_its_buttons_say(
    echo_page_host: Host, new_page: Callable[..., Page], screenshot: Callable[[Page, str], Path]
) -> None:
    echo_page_host.page(page_from("page"))
    page = new_page()
    page.goto(echo_page_host.client_url)
    page.locator("#log").get_by_text("open; extensions: permessage-deflate").wait_for()  # the browser's offer, accepted
    page.fill("#text", "hello from chromium")
    page.click("#send")
    page.locator("#log").get_by_text("text: hello from chromium").wait_for()
    page.click("#binary")
    page.locator("#log").get_by_text("binary: 3 bytes").wait_for()
    page.click("#big")
    page.locator("#log").get_by_text("(100000 characters)").wait_for()
    page.click("#bye")
    page.locator("#log").get_by_text("closed: 4000").wait_for()  # the code the server echoed
    screenshot(page, "page-from-a-cell")

    wait_for(lambda: any(r.type_name == "CLOSE" and r.direction == "in" for r in echo_page_host.frames), 5 * UNIT, "the close frame")
    frames = [r for r in echo_page_host.frames if r.direction == "in"]
    text = next(r for r in frames if r.payload == b"hello from chromium")
    binary = next(r for r in frames if r.type_name == "BINARY")
    close = next(r for r in frames if r.type_name == "CLOSE")
    keys = {r.mask_key for r in frames}
    assert text.masked and text.compressed and text.rsv[0]  # the browser masked and compressed it
    assert binary.payload == bytes([1, 2, 255])
    assert close.close_info() == (4000, "bye from my page")
    assert len(keys) == len(frames)  # a fresh random mask key on every frame


def test_the_solution_page_measures_a_round_trip(echo_page_host: Host, new_page: Callable[..., Page]) -> None:
    echo_page_host.page(page_from(tag="solution"))
    page = new_page()
    page.goto(echo_page_host.client_url)
    page.locator("#log").get_by_text("open;").wait_for()
    page.click("#rtt")
    page.locator("#log").get_by_text("round trip:").wait_for()
    assert " ms" in _log(page)
    json_frames = [r for r in echo_page_host.frames if r.direction == "in" and r.payload.startswith(b'{"sent":')]
    assert len(json_frames) == 1
