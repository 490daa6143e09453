"""Two chromium pages of the client page chat with each other THROUGH jupyter-server-proxy.

As on Binder: a real Jupyter server with a token under `/user/tester/`, the host started with
JUPYTERHUB_SERVICE_PREFIX set, and the pages opened at `host.client_url` on the Jupyter server with
`?token=` (the page carries location.search into its WebSocket URL, so the WebSocket is authenticated
by the token as well as by the cookie the first request set).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from chatpage import HOST_MESSAGES, NOISE, PAGE_MESSAGES, converse, send, wait_for_line, wait_until
from jupyter_process import running_jupyter_server

if TYPE_CHECKING:
    from playwright.sync_api import Page

    from wsplay import Host

pytestmark = [pytest.mark.browser, pytest.mark.timeout(90)]


@pytest.fixture(scope="module")
def jupyter(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    with running_jupyter_server(tmp_path_factory.mktemp("jupyter-proxy-browser")) as server:
        yield server


@pytest.fixture
def chat_host(jupyter: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Host]:
    from wsplay import Host
    from wsplay.examples import chat

    monkeypatch.setenv("JUPYTERHUB_SERVICE_PREFIX", jupyter.base_url)  # before start(), as in a hub's kernel
    host = Host.create().handler(chat()).port(0).development().start()
    try:
        yield host
    finally:
        host.stop()


@pytest.fixture
def echo_host(jupyter: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Host]:
    from wsplay import Host
    from wsplay.examples import echo

    monkeypatch.setenv("JUPYTERHUB_SERVICE_PREFIX", jupyter.base_url)
    host = Host.create().handler(echo()).port(0).development().start()
    try:
        yield host
    finally:
        host.stop()


def test_two_pages_chat_through_the_jupyter_proxy(
    jupyter: Any, chat_host: Host, new_page: Callable[..., Page], screenshot: Callable[[Page, str], Path]
) -> None:
    page_url = jupyter.http_url(chat_host.client_url) + f"?token={jupyter.token}"
    assert f"{jupyter.base_url}proxy/{chat_host.bound_port}/" in page_url
    pages = [new_page(), new_page()]
    for n, page in enumerate(pages, start=1):
        response = page.goto(page_url)
        assert response is not None and response.status == 200
        page.locator("body[data-state=open]").wait_for()
        # The page built its WebSocket URL from its own location: the proxy path, with the token.
        socket_url = page.evaluate("window.ws.url")
        assert socket_url == jupyter.ws_url(chat_host.client_url) + f"?token={jupyter.token}"
        wait_until(lambda: len(chat_host.connections) == n, f"{n} connection(s) on the host")

    send(pages[0], "hello through the proxy")
    for page in pages:
        wait_for_line(page, "[0]: hello through the proxy")
    send(pages[1], "hi from the second page")
    for page in pages:
        wait_for_line(page, "[1]: hi from the second page")
    screenshot(pages[0], "proxy-chat")

    # Closing from the page: the host sees the proxy's close (the page's own code does not get through).
    pages[1].evaluate("window.ws.close(4000, 'bye')")
    pages[1].locator("body[data-state=closed]").wait_for()
    wait_until(lambda: len(chat_host.connections) == 1, "the second page gone from the host")


def test_permessage_deflate_through_the_jupyter_proxy(jupyter: Any, echo_host: Host, new_page: Callable[..., Page]) -> None:
    """What jupyter-server-proxy does to permessage-deflate (compare test_client_page.py, where the
    same page talks to the host directly and both sides compress):

    - towards the browser it negotiates nothing: the page's WebSocket has no extension, whatever
      Chromium offered (the proxy's tornado handler has compression switched off);
    - towards the host it makes its own offer (tornado's client: `permessage-deflate;
      client_max_window_bits`, not the browser's header), the host accepts, and every message between
      the proxy and the host is compressed, both ways, with context takeover;
    - so the host sees RSV1 on every message while the browser sees none, and messages arrive intact.
    """
    page = new_page()
    page.goto(jupyter.http_url(echo_host.client_url) + f"?token={jupyter.token}")
    page.locator("body[data-state=open]").wait_for()
    wait_until(lambda: len(echo_host.connections) == 1, "the proxy's connection on the host")
    connection = echo_host.connections[0]

    assert page.evaluate("window.ws.extensions") == ""  # browser <-> proxy: uncompressed
    opened = [e for e in echo_host.events if e.kind == "open"][-1]
    headers = {k.lower(): v for k, v in opened.request_headers}
    assert headers["sec-websocket-extensions"] == "permessage-deflate; client_max_window_bits"  # the proxy's own offer
    assert "Chrome" in headers["user-agent"]  # the browser's other headers are passed on
    assert opened.extensions == "permessage-deflate" and connection.extension is not None  # proxy <-> host: compressed

    converse(page, connection)

    frames = [f for f in echo_host.frames if f.connection == connection.id and f.opcode < 8]
    got = [f for f in frames if f.direction == "in"]
    sent = [f for f in frames if f.direction == "out"]
    assert [f.payload.decode() for f in got] == PAGE_MESSAGES
    assert all(f.compressed and f.rsv == (True, False, False) and f.fin and f.masked for f in got)  # the proxy compressed them
    assert len(sent) == len(PAGE_MESSAGES) + len(HOST_MESSAGES)
    assert all(f.compressed and f.rsv == (True, False, False) for f in sent)  # the proxy inflated them for the page
    first, again = (f for f in got if f.payload == NOISE.encode())
    assert first.length > 400 and again.length < 30, (first.length, again.length)  # the proxy keeps its context too
