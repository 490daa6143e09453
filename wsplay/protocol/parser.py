"""Read frame headers out of a byte buffer, incrementally and without trusting declared lengths."""

from __future__ import annotations

__all__ = ["parse_header"]

_MSB64 = 1 << 63


def parse_header(buf: bytes | bytearray | memoryview, pos: int, end: int) -> tuple[int, int, bytes | None, int] | None:
    """Read the frame header that starts at `buf[pos]`, looking no further than `end`.

    Returns:
        None when the header is not complete yet, else `(first_byte, payload_length, mask_key,
        payload_start)`. Nothing is allocated for the payload: the caller checks the length against
        its limits before waiting for the bytes (RFC 6455 10.4).

    Raises:
        ValueError: a 64-bit length with its most significant bit set (RFC 6455 5.2).
    """
    if end - pos < 2:
        return None
    b0 = buf[pos]
    b1 = buf[pos + 1]
    length = b1 & 0x7F
    p = pos + 2
    if length == 126:
        if end - p < 2:
            return None
        length = buf[p] << 8 | buf[p + 1]
        p += 2
    elif length == 127:
        if end - p < 8:
            return None
        length = int.from_bytes(buf[p : p + 8], "big")
        if length & _MSB64:
            raise ValueError("64-bit payload length has its most significant bit set (RFC 6455 5.2)")
        p += 8
    if b1 & 0x80:
        if end - p < 4:
            return None
        return b0, length, bytes(buf[p : p + 4]), p + 4
    return b0, length, None, p
