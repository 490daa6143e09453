"""The connection a server's handler holds: the seed's ISocketConnection, the shared core plus the request."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable, Collection
from typing import Any, Protocol

from websockets.datastructures import Headers

from wsplay.core.connection import Connection
from wsplay.core.options import ConnectionOptions, Settings
from wsplay.observe import Recorder
from wsplay.protocol.handshake import parse_headers
from wsplay.protocol.connection import Side

__all__ = ["Endpoint", "RequestInfo", "ServerState", "SocketConnection"]


class ServerState(Protocol):
    """What a handler may ask of the server that accepted it (the seed's `Request.Server`)."""

    @property
    def running(self) -> bool: ...


class RequestInfo:
    """What the upgrade request said: the seed's `connection.Request`.

    The headers are kept as the bytes that carried them and parsed the first time `headers` is read:
    an idle connection whose handler never looks costs a few hundred bytes, not a parsed mapping.
    """

    __slots__ = ("_head", "_headers", "method", "path", "query", "remote_address", "server", "subprotocol")

    def __init__(
        self,
        method: str,
        path: str,
        query: str,
        headers: Headers | bytes,
        remote_address: tuple[Any, ...] | None,
        subprotocol: str | None,
        server: ServerState,
    ) -> None:
        self.method = method
        self.path = path
        self.query = query
        self._head = headers if isinstance(headers, bytes) else None  # the request head, or...
        self._headers = headers if not isinstance(headers, bytes) else None  # ...its headers, parsed
        self.remote_address = remote_address
        self.subprotocol = subprotocol
        self.server = server

    @property
    def headers(self) -> Headers:
        """The request's headers (names case-insensitive; `get_all(name)` for repeated ones)."""
        if self._headers is None:
            self._headers = parse_headers(self._head or b"")
        return self._headers

    @property
    def head(self) -> bytes | None:
        """The request head as received (None when made from parsed headers)."""
        return self._head

    def __repr__(self) -> str:
        return (
            f"RequestInfo(method={self.method!r}, path={self.path!r}, query={self.query!r}, "
            f"remote_address={self.remote_address!r}, subprotocol={self.subprotocol!r})"
        )


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
