"""Driving wsplay's browser chat page (wsplay/static/client.html) from Playwright, for the browser tests."""

from __future__ import annotations

import random
import string
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from wsplay import FrameType

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


# Every message the page's WebSocket delivers, kept in order beside the page's own handler: text as
# it is, binary as a list of byte values (so Python compares exact bytes, not the page's summary).
_LISTEN = """() => {
  window.received = [];
  window.ws.addEventListener("message", (e) => window.received.push(typeof e.data === "string" ? e.data : Array.from(new Uint8Array(e.data))));
}"""


def listen(page: Page) -> None:
    """Start keeping every message the page's current WebSocket receives (read with `received`)."""
    page.evaluate(_LISTEN)


def received(page: Page) -> list[str | bytes]:
    """The messages kept since `listen(page)`: str for text, bytes for binary."""
    return [m if isinstance(m, str) else bytes(m) for m in page.evaluate("window.received")]


# A conversation that exercises permessage-deflate both ways: long and short, repetitive and not,
# non-ASCII text, many messages in a row (each compressed against the ones before: context
# takeover), and a binary message from the host.
# NOISE has no repeats of its own, so it compresses only against an earlier copy of itself: sent twice
# in a row, the second copy is small only if the compression context was kept between messages.
NOISE = "".join(random.Random(7).choices(string.ascii_letters + string.digits, k=600))
PAGE_MESSAGES = ["compress me, " * 100, "héllo wörld ✓ " * 20, NOISE, NOISE] + [f"message {i}: " + "la" * i for i in range(30)]
HOST_MESSAGES: list[str | bytes] = ["abc" * 20000, "ünïcödé ✓ " * 100, NOISE, NOISE, *(f"tick {i}" for i in range(30)), bytes(range(256)) * 16]


def converse(page: Page, connection: Any) -> None:
    """On a page connected to an echo endpoint: the page sends PAGE_MESSAGES (echoed back), then the
    host writes HOST_MESSAGES on `connection`; returns once the page has received and shown them all,
    each exactly (checked against `received`)."""
    listen(page)
    for text in PAGE_MESSAGES:
        page.evaluate("text => window.ws.send(text)", text)
    wait_until(lambda: len(received(page)) == len(PAGE_MESSAGES), "the page's messages echoed")
    for message in HOST_MESSAGES:
        connection.write(message, FrameType.BINARY if isinstance(message, bytes) else FrameType.TEXT)
    wait_until(lambda: len(received(page)) == len(PAGE_MESSAGES) + len(HOST_MESSAGES), "the host's messages on the page")
    assert received(page) == PAGE_MESSAGES + HOST_MESSAGES
    wait_for_line(page, "tick 29")  # shown in the page, not only received
    wait_for_line(page, f"[binary message, {len(HOST_MESSAGES[-1])} bytes]")
