"""The browser chat page served by a development host: two chromium pages chat with each other."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from chatpage import HOST_MESSAGES, NOISE, PAGE_MESSAGES, converse, send, wait_for_line, wait_until

if TYPE_CHECKING:
    from playwright.sync_api import Dialog, Error, Page

    from wsplay import Host

pytestmark = [pytest.mark.browser, pytest.mark.timeout(90)]

XSS = "<img src=x onerror=alert(1)>"


def test_two_pages_chat_through_the_client_page(
    chat_page_host: Host, new_page: Callable[..., Page], screenshot: Callable[[Page, str], Path]
) -> None:
    dialogs: list[str] = []  # an alert() from injected markup would land here
    page_errors: list[str] = []

    def on_dialog(dialog: Dialog) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    def on_page_error(error: Error) -> None:
        page_errors.append(str(error))

    pages = [new_page(), new_page()]
    for n, page in enumerate(pages, start=1):
        page.on("dialog", on_dialog)
        page.on("pageerror", on_page_error)
        page.goto(chat_page_host.client_url)
        page.locator("body[data-state=open]").wait_for()
        # One after the other, each registered on the server before the next connects, so the
        # chat numbers them 0 and 1 in this order.
        wait_until(lambda: len(chat_page_host.connections) == n, f"{n} connection(s) on the host")

    send(pages[0], "hello")
    for page in pages:
        wait_for_line(page, "[0]: hello")

    pages[1].fill("#sendText", "hi from the second page")
    pages[1].click("#sendForm button[type=submit]")
    for page in pages:
        wait_for_line(page, "[1]: hi from the second page")

    # Peer text is shown as text: no element is created from it, no script runs.
    send(pages[0], XSS)
    for page in pages:
        wait_for_line(page, f"[0]: {XSS}")
        assert page.locator("#incoming img").count() == 0
        assert page.locator("#incoming *:not(span)").count() == 0
    pages[1].wait_for_timeout(300)  # an onerror handler would have fired by now
    assert dialogs == []
    assert page_errors == []

    assert pages[1].locator("#sendText").input_value() == ""  # the form cleared its input
    screenshot(pages[1], "client-page")


def test_the_chat_page_over_https_and_wss(new_page: Callable[..., Page], screenshot: Callable[[Page, str], Path]) -> None:
    """A host with a certificate from a test CA: the page loads over https:// and its WebSocket is wss://.

    The browser is told to accept the test CA's certificate for this page's context only
    (ignore_https_errors); nothing else of the browser changes.
    """
    import ssl

    trustme = pytest.importorskip("trustme")
    from wsplay import Host
    from wsplay.examples import chat

    ca = trustme.CA()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    host = Host.create().handler(chat()).port(0).development().tls(context).start()
    try:
        assert host.client_url.startswith("https://")
        page = new_page(ignore_https_errors=True)
        page.goto(host.client_url)
        page.locator("body[data-state=open]").wait_for()
        send(page, "over wss")
        wait_for_line(page, "[0]: over wss")
        assert page.evaluate("() => location.protocol") == "https:"
        opened = host.recorder.events("open")[-1]
        assert opened.url.startswith("wss://")
        screenshot(page, "client-page-https")
    finally:
        host.stop()


def test_the_page_and_the_host_speak_permessage_deflate(echo_page_host: Host, new_page: Callable[..., Page], screenshot: Callable[[Page, str], Path]) -> None:
    """Chromium offers permessage-deflate on every WebSocket; the host accepts it, the browser's
    messages arrive compressed (RSV1) and the host's compressed messages reach the page intact."""
    page = new_page()
    page.goto(echo_page_host.client_url)
    page.locator("body[data-state=open]").wait_for()
    wait_until(lambda: len(echo_page_host.connections) == 1, "the page's connection on the host")
    connection = echo_page_host.connections[0]

    # The handshake: the browser's own offer, the host's answer, both sides agreeing.
    assert page.evaluate("window.ws.extensions") == "permessage-deflate"
    opened = [e for e in echo_page_host.events if e.kind == "open"][-1]
    offer = [v for k, v in opened.request_headers if k.lower() == "sec-websocket-extensions"]
    assert offer == ["permessage-deflate; client_max_window_bits"]  # what every Chromium sends
    assert opened.extensions == "permessage-deflate" and connection.extension is not None

    converse(page, connection)

    frames = [f for f in echo_page_host.frames if f.connection == connection.id and f.opcode < 8]
    got = [f for f in frames if f.direction == "in"]
    sent = [f for f in frames if f.direction == "out"]
    # Chromium compresses every message, short ones too; each one frame with RSV1, masked.
    assert [f.payload.decode() for f in got] == PAGE_MESSAGES
    assert all(f.compressed and f.rsv == (True, False, False) and f.fin and f.masked for f in got)
    assert got[0].length < len(PAGE_MESSAGES[0]) // 10  # 1,300 repetitive bytes went as a few dozen
    # Context takeover (the default both sides agreed on): the second copy of NOISE refers back to the first.
    first, again = (f for f in got if f.payload == NOISE.encode())
    assert first.length > 400 and again.length < 30, (first.length, again.length)
    # The host compressed everything it sent (echoes and its own messages), and the page read it right.
    assert len(sent) == len(PAGE_MESSAGES) + len(HOST_MESSAGES)
    assert all(f.compressed and f.rsv == (True, False, False) and not f.masked for f in sent)
    big = next(f for f in sent if f.payload_length == 60000)
    assert big.length < 1000
    first, again = [f for f in sent if f.payload == NOISE.encode()][:2]  # the echoes of the page's two
    assert first.length > 400 and again.length < 30, (first.length, again.length)
    counts = echo_page_host.recorder.counters(connection.id)
    assert counts.ratio_in is not None and counts.ratio_in < 0.5 and counts.ratio_out is not None and counts.ratio_out < 0.1
    screenshot(page, "client-page-deflate")
