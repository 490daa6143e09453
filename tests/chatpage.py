"""Driving wsplay's browser chat page (wsplay/static/client.html) from Playwright, for the browser tests."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from playwright.sync_api import Page


def wait_until(condition: Callable[[], bool], what: str, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def send(page: Page, text: str) -> None:
    page.fill("#sendText", text)
    page.press("#sendText", "Enter")  # submits #sendForm


def wait_for_line(page: Page, text: str) -> None:
    """Wait until #incoming holds a line that is exactly `text` (as text, not markup)."""
    page.locator("#incoming span", has_text=text).filter(has_not_text="connect").first.wait_for()
    lines = [line.strip("\n") for line in page.locator("#incoming span").all_inner_texts()]
    assert text in lines, lines
