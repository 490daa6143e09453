"""A frame as the recorder gives it back (`FrameRecord`), and a connection's running totals (`Counters`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from wsplay.protocol.frames import FrameType, Header

__all__ = ["PREVIEW", "Counters", "Deflated", "FrameRecord"]

PREVIEW = 256  # payload bytes always kept per frame record (the whole payload when the budget has room)


@dataclass
class FrameRecord:
    """One frame, in or out, with its wire header as the inspector shows it."""

    index: int
    time: float
    connection: int
    direction: str  # "in" (received) or "out" (sent)
    header: Header
    preview: bytes  # the payload as kept, unmasked: whole, or its first PREVIEW bytes when `cut`
    wire: bytes | None = None  # a compressed frame's payload as it was on the wire (kept like `preview`)
    inflated_length: int | None = None  # a compressed frame's payload length once inflated

    @property
    def compressed(self) -> bool:
        """True for a frame of a permessage-deflate compressed message (RSV1 is on its first frame only)."""
        return self.wire is not None

    @property
    def payload_length(self) -> int:
        """The payload's length as the handler (or the peer's application) sees it: inflated if compressed."""
        return self.inflated_length if self.inflated_length is not None else self.header.length

    @property
    def ratio(self) -> float | None:
        """Bytes on the wire per byte of payload, for a compressed frame (0.25: a quarter of the size)."""
        if self.inflated_length is None:
            return None
        return self.header.length / self.inflated_length if self.inflated_length else 1.0

    @property
    def fin(self) -> bool:
        return self.header.fin

    @property
    def rsv(self) -> tuple[bool, bool, bool]:
        return (self.header.rsv1, self.header.rsv2, self.header.rsv3)

    @property
    def opcode(self) -> int:
        return self.header.opcode

    @property
    def type_name(self) -> str:
        kind = self.header.type
        return kind.name if kind is not None else f"reserved {self.header.opcode:#x}"

    @property
    def masked(self) -> bool:
        return self.header.masked

    @property
    def mask_key(self) -> bytes | None:
        return self.header.mask_key

    @property
    def length(self) -> int:
        return self.header.length

    @property
    def length_form(self) -> int:
        return self.header.length_form

    @property
    def header_bytes(self) -> bytes:
        return self.header.header_bytes

    @property
    def payload(self) -> bytes:
        """The payload as kept (whole unless `cut`)."""
        return self.preview

    @property
    def cut(self) -> bool:
        """True when only the first PREVIEW bytes were kept (the recorder's payload budget was full)."""
        return len(self.preview) < self.payload_length

    truncated = cut

    def text(self) -> str | None:
        """The preview as text for TEXT/CONTINUE frames that decode (a cut character is replaced)."""
        if self.header.opcode in (FrameType.TEXT, FrameType.CONTINUE):
            return self.preview.decode("utf-8", "replace")
        return None

    def close_info(self) -> tuple[int, str] | None:
        """(code, reason) of a CLOSE frame with a payload."""
        if self.header.opcode != FrameType.CLOSE or len(self.preview) < 2:
            return None
        return int.from_bytes(self.preview[:2], "big"), self.preview[2:].decode("utf-8", "replace")

    def as_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "time": self.time,
            "connection": self.connection,
            "direction": self.direction,
            "type": self.type_name,
            "fin": self.fin,
            "rsv1": self.rsv[0],
            "rsv2": self.rsv[1],
            "rsv3": self.rsv[2],
            "opcode": self.opcode,
            "masked": self.masked,
            "mask_key": self.mask_key.hex() if self.mask_key else None,
            "length": self.length,
            "length_form": self.length_form,
            "compressed": self.compressed,
            "payload_length": self.payload_length,
            "header_hex": self.header_bytes.hex(" "),
            "preview": self.preview,
            "cut": self.cut,
        }


@dataclass(slots=True)
class Counters:
    """Per-connection totals (they count every frame, also those the bounded log has dropped)."""

    frames_in: int = 0
    bytes_in: int = 0  # payload bytes (inflated, for compressed frames)
    frames_out: int = 0
    bytes_out: int = 0
    deflated_in: int = 0  # payload bytes of compressed frames as they were on the wire...
    inflated_in: int = 0  # ...and what those inflated to
    deflated_out: int = 0
    inflated_out: int = 0

    @property
    def ratio_in(self) -> float | None:
        """Wire bytes per payload byte of what arrived compressed (None: nothing did)."""
        return self.deflated_in / self.inflated_in if self.inflated_in else None

    @property
    def ratio_out(self) -> float | None:
        return self.deflated_out / self.inflated_out if self.inflated_out else None


class Deflated:
    """How the recorder keeps a compressed frame's payloads (the payload slot of its raw record)."""

    __slots__ = ("payload", "wire", "length")

    def __init__(self, payload: bytes, wire: bytes, length: int) -> None:
        self.payload = payload  # the inflated payload, whole or cut
        self.wire = wire  # the payload as on the wire, whole or cut
        self.length = length  # the inflated length
