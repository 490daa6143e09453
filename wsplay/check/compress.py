"""permessage-deflate for the check suite, on zlib directly (RFC 7692), independent of wsplay's own.

Offers and answers are parsed here by hand, strictly enough to judge a peer's answer; messages are
compressed and inflated with the parameters the handshake agreed, so a case can tell whether the
peer kept to them (a window it promised, a context it promised to reset).
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from functools import cache
from typing import Any

__all__ = ["Agreement", "Deflater", "Inflater", "bomb", "parse_extensions"]

NAME = "permessage-deflate"
TAIL = b"\x00\x00\xff\xff"
PARAMS = ("server_no_context_takeover", "client_no_context_takeover", "server_max_window_bits", "client_max_window_bits")


def parse_extensions(values: list[str]) -> list[tuple[str, list[tuple[str, str | None]]]]:
    """Sec-WebSocket-Extensions values as [(name, [(param, value or None)])], quotes removed."""
    out: list[tuple[str, list[tuple[str, str | None]]]] = []
    for value in values:
        for item in value.split(","):
            parts = [p.strip() for p in item.split(";")]
            if not parts[0]:
                continue
            params: list[tuple[str, str | None]] = []
            for p in parts[1:]:
                if not p:
                    continue
                name, eq, val = p.partition("=")
                params.append((name.strip().lower(), val.strip().strip('"') if eq else None))
            out.append((parts[0].lower(), params))
    return out


@dataclass(frozen=True)
class Agreement:
    """What a permessage-deflate answer agreed to (None for a window: 15, the default)."""

    server_no_context_takeover: bool = False
    client_no_context_takeover: bool = False
    server_max_window_bits: int | None = None
    client_max_window_bits: int | None = None

    @classmethod
    def from_params(cls, params: list[tuple[str, str | None]]) -> Agreement:
        """Read an answer's parameters; raise ValueError for one the RFC does not allow in an answer."""
        seen: dict[str, str | None] = {}
        for name, value in params:
            if name not in PARAMS:
                raise ValueError(f"unknown parameter {name!r}")
            if name in seen:
                raise ValueError(f"{name} given twice")
            seen[name] = value
        for name in ("server_no_context_takeover", "client_no_context_takeover"):
            if name in seen and seen[name] is not None:
                raise ValueError(f"{name} takes no value")
        bits: dict[str, int | None] = {}
        for name in ("server_max_window_bits", "client_max_window_bits"):
            if name in seen:
                value = seen[name]
                if value is None or not value.isdigit() or not 8 <= int(value) <= 15:
                    raise ValueError(f"{name}={value} is not a window of 8 to 15 bits")
                bits[name] = int(value)
        return cls(
            "server_no_context_takeover" in seen,
            "client_no_context_takeover" in seen,
            bits.get("server_max_window_bits"),
            bits.get("client_max_window_bits"),
        )

    def header(self) -> str:
        parts = [NAME]
        for name in PARAMS:
            value = getattr(self, name)
            if value is True:
                parts.append(name)
            elif value:
                parts.append(f"{name}={value}")
        return "; ".join(parts)


class Deflater:
    """Compress messages as one side (RFC 7692 7.2.1), with or without context takeover."""

    def __init__(self, bits: int = 15, reset: bool = False, level: int = 6) -> None:
        self.bits, self.reset, self.level = max(bits, 9), reset, level
        self._z: Any = None  # a zlib compressor, made at first use

    def message(self, data: bytes) -> bytes:
        z = self._z
        if z is None:
            z = self._z = zlib.compressobj(self.level, zlib.DEFLATED, -self.bits)
        out = z.compress(data) + z.flush(zlib.Z_SYNC_FLUSH)
        if self.reset:
            self._z = None
        return out[:-4] if out.endswith(TAIL) else out


class Inflater:
    """Inflate the peer's messages (RFC 7692 7.2.2) within a window, keeping or dropping the context.

    `message()` raises ValueError when the data does not inflate (which is also how a peer that used
    a larger window than agreed, or kept a context it agreed to drop, shows up) and stops past `limit`.
    """

    def __init__(self, bits: int = 15, reset: bool = False, limit: int = 64 * 1024 * 1024) -> None:
        self.bits, self.reset, self.limit = bits, reset, limit
        self._z: Any = None  # a zlib decompressor

    def message(self, data: bytes) -> bytes:
        z = self._z
        if z is None or self.reset:
            z = self._z = zlib.decompressobj(-self.bits)
        # zlib resolves a match from the output of the current call too, whatever the window: asked for
        # a large piece, it inflates a stream that points further back than the window it was given.
        # Small pieces make every match come from the window, so a peer that broke its window fails.
        step = 64 if self.bits < 15 else self.limit + 1
        pieces, produced, pending = [], 0, data + TAIL
        try:
            while True:
                piece = z.decompress(pending, step)
                pending = z.unconsumed_tail
                produced += len(piece)
                if produced > self.limit:
                    raise ValueError(f"inflates past {self.limit} bytes")
                pieces.append(piece)
                if not pending and len(piece) < step:
                    break
        except zlib.error as exc:
            self._z = None
            raise ValueError(f"does not inflate: {exc}") from None
        return b"".join(pieces)


@cache
def bomb(size: int) -> bytes:
    """A message of `size` zero bytes, compressed (32 MiB of zeros take about 32 KiB)."""
    z = zlib.compressobj(9, zlib.DEFLATED, -15)
    chunk = bytes(1 << 20)
    parts = [z.compress(chunk) for _ in range(size >> 20)]
    parts.append(z.compress(bytes(size & ((1 << 20) - 1))))
    out = b"".join(parts) + z.flush(zlib.Z_SYNC_FLUSH)
    return out[:-4] if out.endswith(TAIL) else out
