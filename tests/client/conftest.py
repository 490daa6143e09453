"""Fixtures of the client tests: websockets' own server as the independent peer, and an echo URL of each kind.

The shared fixtures (hosts, clients, raw_servers) are in tests/conftest.py.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from websockets.asyncio.server import serve
from websockets.exceptions import ConnectionClosed as WebsocketsClosed

from testenv import UNIT


def _chat_if_offered(connection: Any, offered: Any) -> Any:
    return "chat" if "chat" in offered else None


class WebsocketsEcho:
    """websockets' own server, on its own loop in a thread: an independent peer for our codec."""

    def __init__(self) -> None:
        self.closes: list[tuple[int | None, str | None]] = []  # (code, reason) each connection ended with
        self.ready = threading.Event()
        self.thread = threading.Thread(target=asyncio.run, args=(self._main(),), daemon=True)
        self.thread.start()
        assert self.ready.wait(5 * UNIT), "websockets server did not start"
        self.url = f"ws://127.0.0.1:{self.port}/"

    async def _main(self) -> None:
        self.loop = asyncio.get_running_loop()
        self.stopped: asyncio.Future[None] = self.loop.create_future()
        async with serve(self._echo, "127.0.0.1", 0, select_subprotocol=_chat_if_offered, ping_interval=None) as server:
            self.port = server.sockets[0].getsockname()[1]
            self.ready.set()
            await self.stopped

    async def _echo(self, ws: Any) -> None:
        try:
            async for message in ws:
                await ws.send(message)
        except WebsocketsClosed:
            pass
        finally:
            await ws.wait_closed()
            self.closes.append((ws.close_code, ws.close_reason))

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.stopped.set_result, None)
        self.thread.join(5 * UNIT)


@pytest.fixture
def websockets_server() -> Iterator[WebsocketsEcho]:
    server = WebsocketsEcho()
    yield server
    server.stop()


@pytest.fixture(params=["wsplay", "websockets"])
def echo_url(request: pytest.FixtureRequest) -> str:
    """An echo server's URL: wsplay's host, then websockets' server."""
    if request.param == "wsplay":
        return request.getfixturevalue("echo_host").url  # type: ignore[no-any-return]
    return request.getfixturevalue("websockets_server").url  # type: ignore[no-any-return]
