"""The wire model of a frame: opcodes, the header as the inspector shows it, encoding, close payloads."""

from __future__ import annotations

import enum
import struct
try:  # websockets' C unmasking when its extension is built, its pure-Python fallback otherwise
    from websockets.speedups import apply_mask
except ImportError:  # pragma: no cover - depends on how websockets was installed
    from websockets.utils import apply_mask

from wsplay.codes import CLOSE_CODE_NAMES, close_code_allowed, close_code_name
from wsplay.errors import ProtocolError

__all__ = [
    "CLOSE_CODE_NAMES",
    "CONTROL_OPCODES",
    "DATA_OPCODES",
    "FrameType",
    "Header",
    "apply_mask",
    "close_code_allowed",
    "close_code_name",
    "encode_close_payload",
    "encode_frame",
    "parse_close_payload",
]


class FrameType(enum.IntEnum):
    """What a frame is; the values of the wire opcodes, plus ERROR for a protocol violation."""

    CONTINUE = 0x0
    TEXT = 0x1
    BINARY = 0x2
    CLOSE = 0x8
    PING = 0x9
    PONG = 0xA
    ERROR = -1  # never on the wire: the frame that reports a broken protocol to a handler


DATA_OPCODES = frozenset({0x0, 0x1, 0x2})
CONTROL_OPCODES = frozenset({0x8, 0x9, 0xA})

class Header:
    """A frame header exactly as it was on the wire, for handlers and the frame inspector.

    Attributes:
        fin: the FIN bit: the last frame of a message.
        rsv1, rsv2, rsv3: the reserved bits (extensions only).
        opcode: the raw 4-bit opcode, reserved values included.
        masked: the MASK bit.
        mask_key: the 4-byte masking key, or None when not masked.
        length: the payload length.
        length_form: 7, 16 or 64: which of the three length encodings carried it.
        header_bytes: the header's bytes as sent (2 to 14 bytes).
    """

    # A plain slotted class, not a frozen dataclass: one is built per frame on the hot path.
    __slots__ = ("fin", "opcode", "length", "mask_key", "header_bytes")

    def __init__(self, fin: bool, opcode: int, length: int, mask_key: bytes | None, header_bytes: bytes) -> None:
        self.fin = fin
        self.opcode = opcode
        self.length = length
        self.mask_key = mask_key
        self.header_bytes = header_bytes

    @classmethod
    def parse(cls, data: bytes) -> Header:
        """Read a complete header from `data` (extra bytes after it are ignored)."""
        from wsplay.protocol.parser import parse_header

        found = parse_header(data, 0, len(data))
        if found is None:
            raise ValueError("incomplete frame header")
        b0, length, mask_key, end = found
        return cls(bool(b0 & 0x80), b0 & 0x0F, length, mask_key, bytes(data[:end]))

    rsv1 = property(lambda self: bool(self.header_bytes[0] & 0x40))
    rsv2 = property(lambda self: bool(self.header_bytes[0] & 0x20))
    rsv3 = property(lambda self: bool(self.header_bytes[0] & 0x10))
    masked = property(lambda self: bool(self.header_bytes[1] & 0x80))

    @property
    def length_form(self) -> int:
        low = self.header_bytes[1] & 0x7F
        return 16 if low == 126 else 64 if low == 127 else 7

    @property
    def type(self) -> FrameType | None:
        """The opcode as a FrameType, or None for a reserved opcode."""
        try:
            return FrameType(self.opcode)
        except ValueError:
            return None

    @property
    def is_control(self) -> bool:
        return self.opcode >= 0x8

    def __repr__(self) -> str:
        kind = self.type.name if self.type is not None else f"reserved opcode {self.opcode}"
        bits = "".join(n for n, on in (("R1", self.rsv1), ("R2", self.rsv2), ("R3", self.rsv3)) if on)
        mask = f" mask={self.mask_key.hex()}" if self.mask_key else ""
        return f"<Header {kind} fin={int(self.fin)}{' ' + bits if bits else ''} len={self.length}/{self.length_form}{mask}>"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Header) and self.header_bytes == other.header_bytes

    def __hash__(self) -> int:
        return hash(self.header_bytes)


_pack_h = struct.Struct("!BB").pack
_pack_h16 = struct.Struct("!BBH").pack
_pack_h64 = struct.Struct("!BBQ").pack


def encode_header(opcode: int, length: int, fin: bool = True, rsv: int = 0, mask_key: bytes | None = None) -> bytes:
    """Encode a frame header; `rsv` is the three reserved bits as a number 0-7 (RSV1 is 4)."""
    b0 = (0x80 if fin else 0) | (rsv & 7) << 4 | (opcode & 0xF)
    mask_bit = 0x80 if mask_key is not None else 0
    if length < 126:
        head = _pack_h(b0, mask_bit | length)
    elif length < 0x10000:
        head = _pack_h16(b0, mask_bit | 126, length)
    else:
        head = _pack_h64(b0, mask_bit | 127, length)
    return head + mask_key if mask_key is not None else head


def encode_frame(
    opcode: int,
    payload: bytes | bytearray | memoryview = b"",
    fin: bool = True,
    rsv: int = 0,
    mask_key: bytes | None = None,
) -> bytes:
    """Encode one frame; a client passes `mask_key` (4 bytes) and the payload is masked with it."""
    if mask_key is not None:
        return encode_header(opcode, len(payload), fin, rsv, mask_key) + apply_mask(payload, mask_key)
    return encode_header(opcode, len(payload), fin, rsv) + payload


def encode_close_payload(code: int | None = 1000, reason: str = "") -> bytes:
    """Encode a close frame's payload; None sends an empty payload (the peer sees 1005)."""
    if code is None:
        if reason:
            raise ValueError("a close reason needs a close code")
        return b""
    data = reason.encode("utf-8")
    if len(data) > 123:
        raise ValueError(f"close reason is {len(data)} bytes; limit is 123 (RFC 6455 5.5)")
    return struct.pack("!H", code) + data


def parse_close_payload(payload: bytes | memoryview) -> tuple[int, str]:
    """Read a received close payload into (code, reason); 1005 when it carries no code.

    Raises:
        ProtocolError: 1002 for a 1-byte payload or a code not allowed on the wire,
            1007 for a reason that is not UTF-8.
    """
    n = len(payload)
    if n == 0:
        return 1005, ""
    if n == 1:
        raise ProtocolError("close frame payload is 1 byte; a close code needs 2 (RFC 6455 5.5.1)", 1002)
    code = payload[0] << 8 | payload[1]
    if not close_code_allowed(code):
        raise ProtocolError(f"close code {code} is not allowed on the wire (RFC 6455 7.4)", 1002)
    try:
        reason = bytes(payload[2:]).decode("utf-8")
    except UnicodeDecodeError:
        raise ProtocolError("close reason is not valid UTF-8 (RFC 6455 5.5.1)", 1007) from None
    return code, reason
