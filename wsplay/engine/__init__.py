"""asyncio glue: the transport protocol, the connection users write to, and the server."""

from wsplay.engine.frame import Frame, RawFrame
from wsplay.engine.server import Endpoint, HandlerError, Server
from wsplay.engine.settings import ServerOptions, Settings
from wsplay.engine.socket import RequestInfo, SocketConnection

__all__ = [
    "Endpoint",
    "Frame",
    "HandlerError",
    "RawFrame",
    "RequestInfo",
    "Server",
    "ServerOptions",
    "Settings",
    "SocketConnection",
]
