"""Every exception wsplay raises, answering "whose fault, and what now?".

    WsplayError
      ProtocolError        the peer broke RFC 6455; carries the close code to answer with
      HandshakeError       a bad upgrade request; carries the HTTP status to answer with
      InvalidState         your call does not fit the connection's state (write after close)
      ConnectionClosed     the connection is closed; says who closed it, with code and reason
        AlreadyClosed      (also an InvalidState) a write after this side's own close()
      HostError            the host could not start (port taken, bad address, ...)
"""

from __future__ import annotations

from wsplay.codes import close_code_name

__all__ = [
    "AlreadyClosed",
    "ConnectionClosed",
    "HandshakeError",
    "HostError",
    "InvalidState",
    "ProtocolError",
    "WsplayError",
]


class WsplayError(Exception):
    """Base class of every wsplay exception."""


class ProtocolError(WsplayError):
    """The peer broke RFC 6455; `code` is the close code to answer with."""

    def __init__(self, message: str, code: int = 1002) -> None:
        super().__init__(message)
        self.code = code
        self.header: object = None  # the offending frame's wsplay.protocol.Header, when it could be read
        self.payload: bytes = b""  # and as much of its payload as had arrived, unmasked


class HandshakeError(WsplayError):
    """A bad opening handshake; `status` is the HTTP status to answer with."""

    def __init__(self, message: str, status: int = 400, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.headers = dict(headers or {})


class InvalidState(WsplayError):
    """The call does not fit the connection's state, e.g. writing after close."""


class ConnectionClosed(WsplayError):
    """The connection is closed.

    Attributes:
        code: the close code (1005 when the close frame had none, 1006 when there was no close frame).
        reason: the close reason.
        by: "server" or "client": the side that started the close (or failed or dropped the
            connection); None when nobody knows.
    """

    def __init__(self, code: int = 1006, reason: str = "", by: str | None = None) -> None:
        self.code = code
        self.reason = reason
        self.by = by
        super().__init__(str(self))

    def __str__(self) -> str:
        who = f"closed by the {self.by}" if self.by else "closed"
        text = f"{who}: {self.code} ({close_code_name(self.code)})"
        return f"{text} {self.reason!r}" if self.reason else text


class AlreadyClosed(ConnectionClosed, InvalidState):
    """A write after this side's own close(): a misuse of the connection, which is closed all the same.

    Catch it as InvalidState ("your call does not fit"), or as ConnectionClosed, the way a loop that
    writes until the connection ends catches every other end.
    """

    def __init__(self, message: str, code: int = 1006, reason: str = "", by: str | None = None) -> None:
        self.message = message
        super().__init__(code, reason, by)

    def __str__(self) -> str:
        return self.message


class HostError(WsplayError):
    """The host could not do what was asked; the message says what to do next."""
