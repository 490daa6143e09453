"""Two chromium pages of the client page chat with each other THROUGH jupyter-server-proxy.

As on Binder: a real Jupyter server with a token under `/user/tester/`, the host started with
JUPYTERHUB_SERVICE_PREFIX set, and the pages opened at `host.client_url` on the Jupyter server with
`?token=` (the page carries location.search into its WebSocket URL, so the WebSocket is authenticated
by the token as well as by the cookie the first request set).
"""

from __future__ import annotations

import importlib.util
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from playwright.sync_api import Page

    from wsplay import Host

pytestmark = [pytest.mark.browser, pytest.mark.timeout(90)]


def _jupyter_process() -> ModuleType:
    """tests/proxy/jupyter_process.py (shared with the proxy tests; loaded by path under importlib mode)."""
    name = "wsplay_tests_jupyter_process"
    if name not in sys.modules:
        path = Path(__file__).resolve().parents[1] / "proxy" / "jupyter_process.py"
        spec = importlib.util.spec_from_file_location(name, path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


@pytest.fixture(scope="module")
def jupyter(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    jp = _jupyter_process()
    why = jp.missing_requirement()
    if why:
        if _ci():
            pytest.fail(f"{why} (CI is set, so this fails instead of skipping)", pytrace=False)
        pytest.skip(why)
    server = jp.start_jupyter_server(tmp_path_factory.mktemp("jupyter-proxy-browser"))
    try:
        yield server
    finally:
        jp.stop_jupyter_server(server)


def _ci() -> bool:
    import os

    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


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


def _wait_until(condition: Callable[[], bool], what: str, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def _send(page: Page, text: str) -> None:
    page.fill("#sendText", text)
    page.press("#sendText", "Enter")


def _wait_for_line(page: Page, text: str) -> None:
    page.locator("#incoming span", has_text=text).filter(has_not_text="connect").first.wait_for()
    lines = [line.strip("\n") for line in page.locator("#incoming span").all_inner_texts()]
    assert text in lines, lines


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
        _wait_until(lambda: len(chat_host.connections) == n, f"{n} connection(s) on the host")

    _send(pages[0], "hello through the proxy")
    for page in pages:
        _wait_for_line(page, "[0]: hello through the proxy")
    _send(pages[1], "hi from the second page")
    for page in pages:
        _wait_for_line(page, "[1]: hi from the second page")
    screenshot(pages[0], "proxy-chat")

    # Closing from the page: the host sees the proxy's close (the page's own code does not get through).
    pages[1].evaluate("window.ws.close(4000, 'bye')")
    pages[1].locator("body[data-state=closed]").wait_for()
    _wait_until(lambda: len(chat_host.connections) == 1, "the second page gone from the host")
