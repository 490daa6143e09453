"""Sans-I/O RFC 6455: bytes in, frames and bytes out; no sockets, no clock, no threads."""

from wsplay.protocol.connection import CloseRecord, Connection, Incoming, Side, State
from wsplay.protocol.frames import (
    CLOSE_CODE_NAMES,
    FrameType,
    Header,
    close_code_name,
    encode_close_payload,
    encode_frame,
    parse_close_payload,
)
from wsplay.protocol.parser import parse_header

__all__ = [
    "CLOSE_CODE_NAMES",
    "CloseRecord",
    "Connection",
    "FrameType",
    "Header",
    "Incoming",
    "close_code_name",
    "encode_close_payload",
    "encode_frame",
    "parse_close_payload",
    "parse_header",
    "Side",
    "State",
]
