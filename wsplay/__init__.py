"""wsplay: a strict RFC 6455 WebSocket server and client, and a playground you can drive from notebook cells.

Example:
    host = Host.create().handler(Websocket.reactive().handler(ChatHandler())).development().start()
    host.client_url  # open it in a browser
"""

import logging

from wsplay import check
from wsplay.client import Client, connect, connect_async
from wsplay.core import Compression, Connection, ConnectionOptions, Frame, RawFrame, Settings, broadcast
from wsplay.engine import HandlerError, RequestInfo, SocketConnection
from wsplay.errors import AlreadyClosed, ConnectionClosed, HandshakeError, HostError, InvalidState, ProtocolError, WsplayError
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
from wsplay.observe import (
    ConnectionClosedRecord,
    ConnectionOpened,
    Counters,
    Event,
    FrameRecord,
    HandlerErrorRecord,
    InterleavedWrite,
    LimitHit,
    LoopBlocked,
    Notice,
    PumpStall,
    Recorder,
    Refused,
    TaskFailed,
)
from wsplay.protocol import CloseRecord, FrameType, Header
from wsplay.replay import ReplayResult, replay

# A library logs, it does not print: nothing shows unless the application (or .console()) asks.
logging.getLogger("wsplay").addHandler(logging.NullHandler())


def _server_panel(host: Host) -> object:
    from wsplay.widgets import ServerPanel  # ipywidgets is imported only when a panel is asked for

    return ServerPanel.for_host(host)


Host.panel_factory = _server_panel


def _check_panel(result: check.Result) -> object:
    from wsplay.widgets.check import CheckPanel  # anywidget is imported only when results are shown

    return CheckPanel(result)


check.Result.widget_factory = _check_panel

__version__ = "0.1.0"

__all__ = [
    "AlreadyClosed",
    "Client",
    "CloseRecord",
    "Compression",
    "Connection",
    "ConnectionClosed",
    "ConnectionClosedRecord",
    "ConnectionOpened",
    "ConnectionOptions",
    "Counters",
    "Event",
    "Frame",
    "FrameRecord",
    "FrameType",
    "FunctionalWebsocket",
    "HandlerError",
    "HandlerErrorRecord",
    "HandshakeError",
    "Header",
    "Host",
    "HostError",
    "ImperativeHandler",
    "ImperativeWebsocket",
    "InterleavedWrite",
    "InvalidState",
    "LegacyConnection",
    "LegacyWebsocket",
    "LimitHit",
    "LoopBlocked",
    "Notice",
    "ProtocolError",
    "PumpStall",
    "RawFrame",
    "ReactiveHandler",
    "ReactiveWebsocket",
    "Recorder",
    "Refused",
    "ReplayResult",
    "RequestInfo",
    "Settings",
    "SocketConnection",
    "TaskFailed",
    "Websocket",
    "WsplayError",
    "broadcast",
    "connect",
    "connect_async",
    "replay",
    "stop_all",
]
