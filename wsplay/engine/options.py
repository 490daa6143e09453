"""A host's options: how its connections are kept (shared with clients), plus what only a server has."""

from __future__ import annotations

import ssl
from dataclasses import dataclass, field

from wsplay.core.options import ConnectionOptions
from wsplay.protocol.origin import OriginPolicy

__all__ = ["ServerOptions"]


@dataclass
class ServerOptions(ConnectionOptions):
    """Per-host options: `ConnectionOptions` for every connection, and these.

    Attributes:
        handshake_timeout: seconds a client may take to send its upgrade request.
        max_request_size: the largest HTTP request head accepted (431 above it).
        max_connections: open WebSocket connections at most; more handshakes get 503. None: no limit.
        origins: which browser origins may connect (403 otherwise).
        client_page: the HTML served on a plain GET (the chat page in development mode, or `Host.page()`'s).
        tls: the server's TLS context: wss:// and https:// (None: plain ws:// and http://).
    """

    handshake_timeout: float = 10.0
    max_request_size: int = 16 * 1024
    max_connections: int | None = 4096
    origins: OriginPolicy = field(default_factory=OriginPolicy)
    client_page: bytes = field(default=b"", repr=False)
    tls: ssl.SSLContext | None = field(default=None, repr=False)
