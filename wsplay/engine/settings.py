"""Plain settings records shared by the engine, the flavors and the host."""

from __future__ import annotations

from dataclasses import dataclass, field

from wsplay.protocol.origin import OriginPolicy

__all__ = ["ServerOptions", "Settings"]


@dataclass
class Settings:
    """Per-endpoint options, set by a flavor's builder.

    Attributes:
        max_message_size: the largest message accepted (all fragments together); 1009 above it.
        max_frame_size: the largest single frame; None leaves only the message limit.
        handle_continuation_frames_manually: deliver fragments as they come (first frame with
            fin False, then CONTINUE frames) instead of one merged frame.
        allocate_frame_data: False (do_not_allocate_frame_data()) lends frames views into the
            receive buffer, valid until the next frame is read.
        subprotocols: subprotocols to offer, in order of preference.
    """

    max_message_size: int | None = 16 * 1024 * 1024
    max_frame_size: int | None = None
    handle_continuation_frames_manually: bool = False
    allocate_frame_data: bool = True
    subprotocols: tuple[str, ...] = ()


@dataclass
class ServerOptions:
    """Per-host options.

    Attributes:
        ping_interval: seconds without any byte from the peer before a keepalive ping; None: off.
        ping_timeout: seconds after a keepalive ping without any byte before the peer is dropped.
        close_timeout: seconds to wait for the peer's close frame before dropping the TCP connection.
        handshake_timeout: seconds a client may take to send its upgrade request.
        max_request_size: the largest HTTP request head accepted (431 above it).
        development: serve the client page on a plain GET and report pitfalls (stalls, interleaved writes).
        stall_threshold: seconds a handler may hold the message pump, while frames wait, before it is reported.
        max_connections: open WebSocket connections at most; more handshakes get 503. None: no limit.
        write_high_water: buffered outgoing bytes above which `await write()` waits for the peer.
        max_write_buffer: buffered outgoing bytes above which a peer that does not read is dropped (1008).
        origins: which browser origins may connect (403 otherwise).
        client_page: the HTML served on a plain GET in development mode.
    """

    ping_interval: float | None = None
    ping_timeout: float | None = None
    close_timeout: float = 10.0
    handshake_timeout: float = 10.0
    max_request_size: int = 16 * 1024
    development: bool = False
    stall_threshold: float = 1.0
    max_connections: int | None = 4096
    write_high_water: int = 64 * 1024
    max_write_buffer: int = 32 * 1024 * 1024
    origins: OriginPolicy = field(default_factory=OriginPolicy)
    client_page: bytes = field(default=b"", repr=False)
