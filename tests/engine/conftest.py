"""Fixtures for the engine tests: real sockets on 127.0.0.1, bytes made by hand (tests/rawws.py).

Every timeout is a multiple of UNIT (seconds; raise WSPLAY_TEST_UNIT on a slow machine). Frames
sent to the server are built with `struct`, never with wsplay's encoder, so the engine is not
only checked against its own codec.

The raw-wire helpers are handed to tests by the `wire` fixture; hosts, echo_host and raw_client are the
shared ones of tests/conftest.py.
"""

from __future__ import annotations

import pytest

from wsplay import Host, Websocket

from rawws import KEY, UNIT, RawClient, close_payload, mask_frame, upgrade_request


class Wire:
    """The raw-wire helpers (tests/rawws.py), handed out by the `wire` fixture."""

    UNIT = UNIT
    KEY = KEY
    mask_frame = staticmethod(mask_frame)
    close_payload = staticmethod(close_payload)
    upgrade_request = staticmethod(upgrade_request)
    RawClient = RawClient


@pytest.fixture
def wire() -> type[Wire]:
    return Wire


@pytest.fixture
def limited_host(hosts) -> Host:
    """A functional echo that refuses messages over 1024 bytes."""

    async def echo(connection, frame):
        await connection.write(frame.data, frame.type)

    return hosts(Websocket.functional().on_message(echo).on_binary(echo).max_message_size(1024))
