"""permessage-deflate against an independent implementation: wsplay's client talking to a `websockets` server.

Every parameter combination of wsplay's offer against websockets' server settings, 200 messages per
connection (0 bytes to 1 MiB, text and binary, whole and fragmented), each echo checked byte for byte.
"""

from __future__ import annotations

import asyncio
import itertools
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from websockets.asyncio.server import serve
from websockets.extensions.permessage_deflate import ServerPerMessageDeflateFactory

from wsplay.protocol.deflate import Compression

from testenv import UNIT, deflate_messages


class DeflateEcho:
    """websockets' server with a chosen permessage-deflate configuration, on its own loop in a thread."""

    def __init__(self, **settings: Any) -> None:
        self.settings = settings
        self.ready = threading.Event()
        self.thread = threading.Thread(target=asyncio.run, args=(self._main(),), daemon=True)
        self.thread.start()
        assert self.ready.wait(5 * UNIT)

    async def _main(self) -> None:
        self.loop = asyncio.get_running_loop()
        self.stopped: asyncio.Future[None] = self.loop.create_future()

        async def echo(ws: Any) -> None:
            async for message in ws:
                await ws.send(message)

        factory = ServerPerMessageDeflateFactory(**self.settings)
        async with serve(echo, "127.0.0.1", 0, extensions=[factory], compression=None, max_size=2 << 20) as server:
            self.url = f"ws://127.0.0.1:{server.sockets[0].getsockname()[1]}/"
            self.ready.set()
            await self.stopped

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.stopped.set_result, None)
        self.thread.join(5 * UNIT)


@pytest.fixture
def deflate_server(request: pytest.FixtureRequest) -> Iterator[DeflateEcho]:
    server = DeflateEcho(**request.param)
    yield server
    server.stop()


SERVERS = [
    dict(server_no_context_takeover=sn, client_no_context_takeover=cn, server_max_window_bits=sb, client_max_window_bits=cb)
    for sn, cn, sb, cb in itertools.product([False, True], [False, True], [None, 10], [None, 12])
]
OFFERS = [Compression(), Compression(server_no_context_takeover=True, client_max_window_bits=11), Compression(server_max_window_bits=9)]


@pytest.mark.parametrize("deflate_server", SERVERS, indirect=True, ids=[",".join(f"{k[:8]}{'' if v is True else v}" for k, v in s.items() if v) or "defaults" for s in SERVERS])
@pytest.mark.parametrize("offer", OFFERS, ids=["browser-offer", "no-server-takeover+client-bits", "server-bits-9"])
def test_wsplay_client_against_websockets_server(deflate_server: DeflateEcho, offer: Compression, clients) -> None:
    client = clients(deflate_server.url, compression=offer, max_message_size=2 << 20)
    assert client.extension is not None, "permessage-deflate was not negotiated"
    for n, message in enumerate(deflate_messages(seed=OFFERS.index(offer))):
        if n % 3 == 1 and len(message) > 3:
            client.send_fragmented(message, sizes=[len(message) // 3, len(message) // 3])
        else:
            client.send(message)
        frame = client.receive(timeout=5 * UNIT)
        got = frame.data_as_string() if isinstance(message, str) else frame.data
        assert got == message, f"message {n} ({len(message)} bytes) was not echoed intact"
    assert any(f.compressed and f.direction == "out" for f in client.frames)

