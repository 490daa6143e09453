"""The connection a server's handler holds: the seed's ISocketConnection, the shared core plus the request."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from typing import Any, Protocol

from websockets.datastructures import Headers

from wsplay.core.connection import Connection
from wsplay.core.options import ConnectionOptions, Settings
from wsplay.observe import Recorder
from wsplay.protocol.connection import Side

__all__ = ["Endpoint", "RequestInfo", "ServerState", "SocketConnection"]


class ServerState(Protocol):
    """What a handler may ask of the server that accepted it (the seed's `Request.Server`)."""

    @property
    def running(self) -> bool: ...


@dataclass
class RequestInfo:
    """What the upgrade request said: the seed's `connection.Request`."""

    method: str
    path: str
    query: str
    headers: Headers
    remote_address: tuple[Any, ...] | None
    subprotocol: str | None
    server: ServerState = field(repr=False)


class SocketConnection(Connection):
    """One accepted WebSocket connection: what a handler writes to and, in the imperative flavor, reads from.

    Attributes:
        request: the upgrade request (`request.server.running` tells whether the host still runs).
        And everything of `wsplay.core.Connection`: `id`, `state`, `write()`, `ping()`, `pong()`,
        `close(code, reason)`, `read_frame()`, `write_lock`, `close_code`, `closed_by`, ...
    """

    __slots__ = ("request",)

    _ids = itertools.count(1)  # next() on a count is atomic: ids stay unique across loops and threads

    def __init__(
        self,
        request: RequestInfo,
        settings: Settings,
        options: ConnectionOptions,
        recorder: Recorder | None = None,
        handler_tasks: Collection[asyncio.Task[Any]] = (),
        task_failed: Callable[[Connection, BaseException, str], None] | None = None,
    ) -> None:
        super().__init__(
            Side.SERVER,
            settings,
            options,
            recorder,
            connection_id=next(SocketConnection._ids),
            quiet_writers=handler_tasks,
            task_failed=task_failed,
        )
        self.request = request
        self.subprotocol = request.subprotocol

    def __repr__(self) -> str:
        return f"<SocketConnection {self.id} {self.request.path} {self.state}>"


class Endpoint(Protocol):
    """What a flavor hands the engine: its settings and a coroutine that serves one connection."""

    settings: Settings

    async def serve(self, connection: SocketConnection) -> None: ...
