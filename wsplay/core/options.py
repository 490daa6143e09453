"""Plain option records: what one connection is allowed (`Settings`) and how it is kept (`ConnectionOptions`).

A server endpoint's builder fills a `Settings`, and a host a `ServerOptions` (in wsplay.engine) that
extends `ConnectionOptions`; a `Client` fills both from its keyword arguments. The connection core
reads only these two, so both sides are configured the same way.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from wsplay.protocol.deflate import Compression

__all__ = ["Compression", "ConnectionOptions", "Settings"]


@dataclass
class Settings:
    """What one endpoint's (or one client's) connections accept and how they hand frames out.

    Attributes:
        max_message_size: the largest message accepted (all fragments together); 1009 above it.
        max_frame_size: the largest single frame; None leaves only the message limit.
        handle_continuation_frames_manually: deliver fragments as they come (first frame with
            fin False, then CONTINUE frames) instead of one merged frame.
        allocate_frame_data: False (do_not_allocate_frame_data()) lends frames views into the
            receive buffer, valid until the next frame is read.
        subprotocols: subprotocols to offer, in order of preference.
        compression: permessage-deflate (RFC 7692): what to ask for or allow; None turns it off.
    """

    max_message_size: int | None = 16 * 1024 * 1024
    max_frame_size: int | None = None
    handle_continuation_frames_manually: bool = False
    allocate_frame_data: bool = True
    subprotocols: tuple[str, ...] = ()
    compression: Compression | None = field(default_factory=Compression)


@dataclass
class ConnectionOptions:
    """How a connection is kept, the same on both sides.

    Attributes:
        ping_interval: seconds without any byte from the peer before a keepalive ping; None: off.
        ping_timeout: seconds after a keepalive ping without any byte before the peer is dropped
            (1011); None: ping_interval.
        close_timeout: seconds to wait for the end of the close handshake before dropping the TCP
            connection.
        write_high_water: buffered outgoing bytes above which `await write()` waits for the peer.
        max_write_buffer: buffered outgoing bytes above which a peer that does not read is dropped (1008).
        development: report the seed's pitfalls (a stalled message pump, interleaved writes).
        stall_threshold: seconds a handler may hold the message pump, while frames wait, before it is reported.
    """

    ping_interval: float | None = None
    ping_timeout: float | None = None
    close_timeout: float = 10.0
    write_high_water: int = 64 * 1024
    max_write_buffer: int = 32 * 1024 * 1024
    development: bool = False
    stall_threshold: float = 1.0
