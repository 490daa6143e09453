"""The events a recorder keeps: connections opened and closed, handler errors, limits, refusals, and
the seed's pitfalls as they happen (a stalled pump, interleaved writes, a blocked loop)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from wsplay.protocol.frames import close_code_name

__all__ = [
    "ConnectionClosedRecord",
    "ConnectionOpened",
    "Event",
    "HandlerErrorRecord",
    "InterleavedWrite",
    "LimitHit",
    "LoopBlocked",
    "Notice",
    "PumpStall",
    "Refused",
    "TaskFailed",
    "parse_head",
]


@dataclass
class Event:
    """Base of every non-frame record: when, and on which connection."""

    time: float
    connection: int

    kind = "event"

    def summary(self) -> str:
        return self.kind


@dataclass
class ConnectionOpened(Event):
    """A connection completed its opening handshake; the handshake itself when the side recorded it.

    The heads are kept as they were (the request's headers object, the response's bytes) and read
    into lines and pairs only when asked: recording a handshake costs a reference, not a parse.
    """

    remote: str = ""
    path: str = "/"
    subprotocol: str | None = None
    url: str = ""  # ws://host/path as the client asked for it ('' when not known)
    request_line: str = ""  # 'GET /path HTTP/1.1'
    request_head: Any = field(default=None, repr=False)  # the request: its head's bytes, (name, value) pairs or a Headers
    response_head: Any = field(default=None, repr=False)  # the response: its bytes, or (status line, headers)

    kind = "open"

    @property
    def request_headers(self) -> list[tuple[str, str]]:
        head = self.request_head
        if isinstance(head, (bytes, bytearray)):  # the request head as received
            return parse_head(head)[1]
        return _pairs(head)

    @property
    def status_line(self) -> str:
        """'HTTP/1.1 101 Switching Protocols' (or '' when not recorded)."""
        return self._response()[0]

    @property
    def response_headers(self) -> list[tuple[str, str]]:
        return self._response()[1]

    @property
    def extensions(self) -> str | None:
        """The negotiated Sec-WebSocket-Extensions, if any."""
        return next((v for k, v in self.response_headers if k.lower() == "sec-websocket-extensions"), None)

    def _response(self) -> tuple[str, list[tuple[str, str]]]:
        head = self.response_head
        if head is None:
            return "", []
        if isinstance(head, (bytes, bytearray, str)):
            return parse_head(head)
        status, headers = head
        return status, _pairs(headers)

    def summary(self) -> str:
        return f"connection {self.connection} opened from {self.remote} on {self.path}"


def _pairs(headers: Any) -> list[tuple[str, str]]:
    if headers is None:
        return []
    items = headers.raw_items() if hasattr(headers, "raw_items") else headers
    return [(str(k), str(v)) for k, v in items]


def parse_head(raw: bytes | bytearray | str) -> tuple[str, list[tuple[str, str]]]:
    """Split an HTTP head (request or response) into its first line and its (name, value) headers."""
    text = raw.decode("latin-1") if isinstance(raw, (bytes, bytearray)) else raw
    lines = text.split("\r\n\r\n", 1)[0].split("\r\n")
    headers = []
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if sep:
            headers.append((name.strip(), value.strip()))
    return lines[0], headers


@dataclass
class ConnectionClosedRecord(Event):
    code: int = 1006
    reason: str = ""
    by: str = "client"  # "server" or "client": the side that started the close (or failed or dropped it)
    clean: bool = False  # a close frame went each way before TCP closed

    kind = "close"

    @property
    def code_name(self) -> str:
        return close_code_name(self.code)

    def summary(self) -> str:
        reason = f" {self.reason!r}" if self.reason else ""
        how = "" if self.clean else " (no clean close handshake)"
        return f"connection {self.connection} closed by {self.by}: {self.code} {self.code_name}{reason}{how}"


@dataclass
class HandlerErrorRecord(Event):
    handler: str = ""
    error: str = ""
    traceback: str = ""

    kind = "error"

    def summary(self) -> str:
        return f"connection {self.connection}: {self.handler} raised {self.error}; closed with 1011"


@dataclass
class TaskFailed(HandlerErrorRecord):
    """A task started with `connection.spawn()` raised; the connection stays open (shown like a handler error)."""

    def summary(self) -> str:
        return f"connection {self.connection}: task {self.handler} raised {self.error}; the connection stays open"


@dataclass
class PumpStall(Event):
    """A handler held the message pump while frames waited: the seed's long-running-task pitfall."""

    handler: str = ""
    seconds: float = 0.0
    frames_waiting: int = 0
    ping_waiting: bool = False
    ongoing: bool = True

    kind = "stall"
    fix = "start long work with connection.spawn(job()) and return to the pump; the task is cancelled when the connection ends"
    notebook = "notebooks/04-long-running-tasks.ipynb"

    def summary(self) -> str:
        ping = ", a ping among them" if self.ping_waiting else ""
        state = "for" if not self.ongoing else "for at least"
        return (
            f"connection {self.connection}: {self.handler} held the message pump {state} {self.seconds:.1f} s "
            f"while {self.frames_waiting} frame(s) waited{ping}"
        )


@dataclass
class InterleavedWrite(Event):
    """Two writers mixed their frames into one fragmented message: the seed's sync-write pitfall."""

    detail: str = ""

    kind = "interleave"
    fix = "hold connection.write_lock for the whole message: every frame of it inside async with connection.write_lock:"
    notebook = "notebooks/05-synchronized-writes.ipynb"

    def summary(self) -> str:
        return f"connection {self.connection}: interleaved write: {self.detail}"


@dataclass
class LoopBlocked(Event):
    """Something blocked the whole event loop (time.sleep, CPU-bound work): every connection stood still."""

    seconds: float = 0.0

    kind = "blocked"
    fix = "never block in a handler: await asyncio.sleep(), or run blocking work with asyncio.to_thread()"
    notebook = "notebooks/04-long-running-tasks.ipynb"

    def summary(self) -> str:
        return f"the event loop was blocked for {self.seconds:.1f} s: every connection stood still"


@dataclass
class LimitHit(Event):
    limit: str = ""
    value: int = 0
    code: int = 1009

    kind = "limit"

    def summary(self) -> str:
        return f"connection {self.connection}: {self.limit} limit of {self.value} hit; closed with {self.code}"


@dataclass
class Refused(Event):
    """A handshake refused before any connection existed (connection 0): a foreign origin, too many clients."""

    status: int = 403
    reason: str = ""
    remote: str = ""

    kind = "refused"

    def summary(self) -> str:
        return f"refused a handshake from {self.remote} with {self.status}: {self.reason}"


@dataclass
class Notice(Event):
    """Something the person running the server should know (e.g. listening on every interface)."""

    message: str = ""

    kind = "notice"

    def summary(self) -> str:
        return self.message
