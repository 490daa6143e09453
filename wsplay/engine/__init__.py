"""The server side: listening, the HTTP phase and upgrade, the handler-facing connection, shutdown."""

from wsplay.engine.connection import Endpoint, RequestInfo, ServerState, SocketConnection
from wsplay.engine.options import ServerOptions
from wsplay.engine.server import HandlerError, Server

__all__ = [
    "Endpoint",
    "HandlerError",
    "RequestInfo",
    "Server",
    "ServerOptions",
    "ServerState",
    "SocketConnection",
]
