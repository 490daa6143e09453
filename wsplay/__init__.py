"""wsplay: a strict RFC 6455 WebSocket server and playground you can drive from notebook cells.

Example:
    host = Host.create().handler(Websocket.reactive().handler(ChatHandler())).development().start()
    host.client_url  # open it in a browser
"""

import logging

from wsplay.client import Client, connect, connect_async
from wsplay.engine import Frame, RawFrame, RequestInfo, SocketConnection
from wsplay.errors import ConnectionClosed, HandshakeError, HostError, InvalidState, ProtocolError, WsplayError
from wsplay.flavors import (
    FunctionalWebsocket,
    ImperativeHandler,
    ImperativeWebsocket,
    LegacyConnection,
    LegacyWebsocket,
    ReactiveHandler,
    ReactiveWebsocket,
    Websocket,
)
from wsplay.host import Host, stop_all
from wsplay.protocol import FrameType, Header
from wsplay.replay import ReplayResult, replay

# A library logs, it does not print: nothing shows unless the application (or .console()) asks.
logging.getLogger("wsplay").addHandler(logging.NullHandler())

__version__ = "0.1.0"

__all__ = [
    "Client",
    "ConnectionClosed",
    "Frame",
    "FrameType",
    "FunctionalWebsocket",
    "HandshakeError",
    "Header",
    "Host",
    "HostError",
    "ImperativeHandler",
    "ImperativeWebsocket",
    "InvalidState",
    "LegacyConnection",
    "LegacyWebsocket",
    "ProtocolError",
    "RawFrame",
    "ReactiveHandler",
    "ReactiveWebsocket",
    "ReplayResult",
    "RequestInfo",
    "SocketConnection",
    "Websocket",
    "WsplayError",
    "connect",
    "connect_async",
    "replay",
    "stop_all",
]
