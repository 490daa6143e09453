"""permessage-deflate (RFC 7692): the negotiation on both sides, and messages compressed and inflated.

Negotiation. A client offers `permessage-deflate; client_max_window_bits`, what every browser sends.
A server takes the first offer it can accept (RFC 7692 5): an offer with an unknown, repeated or
invalid parameter is declined, and with none left the handshake goes on without the extension. The
answer holds only parameters the RFC allows there: `client_max_window_bits` only when offered, a
window no larger than the one asked for. A client checks the answer as strictly: an extension or a
parameter it did not offer fails the handshake.

Windows of 8 bits. zlib cannot make a raw deflate stream with an 8-bit window (`wbits=-8` is refused).
Such a window limits how far back a match may point, and a stream of Huffman-coded literals has no
matches at all, so it is valid for any window: where this side must compress within 8 bits, it
compresses with Z_HUFFMAN_ONLY (less compression, still correct). Inflating needs no such care.

Inflating is incremental and bounded: never more than the message limit is produced (1009 past it),
text is validated as it comes out (1007), and data that does not inflate is 1007 too: the frame is
well formed, but its payload is not valid data for the negotiated encoding, which is what 1007 says.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from websockets.exceptions import InvalidHeaderFormat
from websockets.headers import parse_extension

from wsplay.errors import HandshakeError, ProtocolError

__all__ = ["Compression", "Deflate", "Negotiated", "client_accept", "client_offer", "server_negotiate"]

NAME = "permessage-deflate"
_TAIL = b"\x00\x00\xff\xff"  # what Z_SYNC_FLUSH ends with; RFC 7692 7.2.1 removes it from each message
_CHUNK = 64 * 1024  # inflate this much at a time: limits and UTF-8 are checked between pieces
_PARAMS = ("server_no_context_takeover", "client_no_context_takeover", "server_max_window_bits", "client_max_window_bits")


@dataclass(frozen=True)
class Compression:
    """permessage-deflate settings of an endpoint or a client (what this side asks for and allows).

    Attributes:
        server_no_context_takeover: the server compresses each message on its own (less memory kept
            between messages, less compression); a client asks for it, a server imposes it.
        client_no_context_takeover: the same for the client's messages.
        server_max_window_bits: the largest LZ77 window (8-15) the server may use: a client asks for
            it, a server announces it.
        client_max_window_bits: for a server, the largest window it lets clients use (it answers
            only a client that offered the parameter); for a client, None offers
            `client_max_window_bits` with no value (as browsers do: "I can use a smaller window"),
            a number offers that limit.
        level: zlib's compression level (0-9) for what this side sends. The default, 1, compresses
            JSON-like text about 3x faster than zlib's own default of 6 for about 20% more bytes
            (measured on benchmarks' W7 corpus: 191 vs 58 MB/s, 3.7x vs 4.4x smaller): the CPU of a
            notebook kernel is dearer than bytes on a workshop's network. aiohttp chose the same.
        mem_level: zlib's memLevel (1-9): memory for compressing, per connection.
    """

    server_no_context_takeover: bool = False
    client_no_context_takeover: bool = False
    server_max_window_bits: int | None = None
    client_max_window_bits: int | None = None
    level: int = 1
    mem_level: int = 5

    def __post_init__(self) -> None:
        for name in ("server_max_window_bits", "client_max_window_bits"):
            bits = getattr(self, name)
            if bits is not None and not 8 <= bits <= 15:
                raise ValueError(f"{name} is a window size in bits, 8 to 15, not {bits}")
        if not 0 <= self.level <= 9 or not 1 <= self.mem_level <= 9:
            raise ValueError("level is 0-9 and mem_level 1-9 (zlib's ranges)")


class Negotiated(NamedTuple):
    """The parameters both sides agreed on in the handshake."""

    server_no_context_takeover: bool = False
    client_no_context_takeover: bool = False
    server_max_window_bits: int | None = None
    client_max_window_bits: int | None = None

    def header(self) -> str:
        """As a Sec-WebSocket-Extensions value."""
        parts = [NAME]
        for name in _PARAMS:
            value = getattr(self, name)
            if value is True:
                parts.append(name)
            elif value:
                parts.append(f"{name}={value}")
        return "; ".join(parts)


def _params(raw: Sequence[tuple[str, str | None]], offer: bool) -> dict[str, int | bool]:
    """Check one extension's parameters; raise ValueError naming what is wrong."""
    found: dict[str, int | bool] = {}
    for name, value in raw:
        if name not in _PARAMS:
            raise ValueError(f"unknown parameter {name}")
        if name in found:
            raise ValueError(f"{name} given twice")
        if name.endswith("no_context_takeover"):
            if value is not None:
                raise ValueError(f"{name} takes no value")
            found[name] = True
        elif value is None:
            if name == "server_max_window_bits" or not offer:  # only a client's offer may leave it out
                raise ValueError(f"{name} needs a value")
            found[name] = True
        elif value not in {str(n) for n in range(8, 16)}:
            raise ValueError(f"{name}={value} is not a window size of 8 to 15 bits")
        else:
            found[name] = int(value)
    return found


def _extensions(values: Sequence[str]) -> list[tuple[str, Sequence[tuple[str, str | None]]]]:
    out: list[tuple[str, Sequence[tuple[str, str | None]]]] = []
    for value in values:
        out.extend(parse_extension(value))
    return out


# -- negotiation ----------------------------------------------------------------------------------


def server_negotiate(values: list[str], config: Compression | None) -> tuple[Negotiated | None, list[str]]:
    """Pick the first permessage-deflate offer this server accepts.

    Args:
        values: the request's Sec-WebSocket-Extensions header values.
        config: the endpoint's settings; None declines every offer.

    Returns:
        The agreed parameters (None: answer without the extension) and why each offer was declined.
    """
    if config is None or not values:
        return None, []
    try:
        offers = _extensions(values)
    except InvalidHeaderFormat as exc:
        return None, [f"Sec-WebSocket-Extensions is malformed: {exc}"]
    declined = []
    for name, raw in offers:
        if name != NAME:
            continue  # an extension wsplay does not speak: not offered to us
        try:
            offered = _params(raw, offer=True)
        except ValueError as exc:
            declined.append(f"{NAME} offer declined: {exc}")
            continue
        server_bits = offered.get("server_max_window_bits")
        if config.server_max_window_bits is not None:
            server_bits = min(int(server_bits or 15), config.server_max_window_bits)
        client_bits = offered.get("client_max_window_bits")
        if client_bits is not None:  # the client can limit its window: tell it ours, if we have one
            limit = config.client_max_window_bits
            if client_bits is True:
                client_bits = limit
            elif limit is not None:
                client_bits = min(int(client_bits), limit)
        return (
            Negotiated(
                bool(offered.get("server_no_context_takeover")) or config.server_no_context_takeover,
                bool(offered.get("client_no_context_takeover")) or config.client_no_context_takeover,
                int(server_bits) if server_bits else None,
                int(client_bits) if client_bits else None,
            ),
            declined,
        )
    return None, declined


def client_offer(config: Compression) -> str:
    """The Sec-WebSocket-Extensions value a client sends (by default what browsers send)."""
    return Negotiated(
        config.server_no_context_takeover,
        config.client_no_context_takeover,
        config.server_max_window_bits,
        config.client_max_window_bits if config.client_max_window_bits is not None else True,  # type: ignore[arg-type]
    ).header()


def client_accept(values: list[str], config: Compression | None) -> Negotiated | None:
    """Check the server's answer against what this client offered.

    Raises:
        HandshakeError: an extension or a parameter that was not offered, or a value out of bounds
            (status 101: the server did answer the upgrade, wrongly).
    """
    if not values:
        return None

    def refuse(why: str) -> HandshakeError:
        return HandshakeError(f"invalid upgrade response: {why} (Sec-WebSocket-Extensions: {', '.join(values)})", 101)

    try:
        answers = _extensions(values)
    except InvalidHeaderFormat as exc:
        raise refuse(f"malformed extensions header: {exc}") from None
    if config is None:
        raise refuse("the server accepted an extension this client did not offer")
    if len(answers) != 1 or answers[0][0] != NAME:
        raise refuse(f"the server answered with extensions this client did not offer or offered once: {[n for n, _ in answers]}")
    try:
        got = _params(answers[0][1], offer=False)
    except ValueError as exc:
        raise refuse(str(exc)) from None
    if config.server_no_context_takeover and not got.get("server_no_context_takeover"):
        raise refuse("server_no_context_takeover was asked for and not granted")
    server_bits = got.get("server_max_window_bits")
    if config.server_max_window_bits is not None:
        if server_bits is None or int(server_bits) > config.server_max_window_bits:
            raise refuse(f"server_max_window_bits={config.server_max_window_bits} was asked for, the answer says {server_bits}")
    client_bits = got.get("client_max_window_bits")
    if client_bits is not None and config.client_max_window_bits is not None and int(client_bits) > config.client_max_window_bits:
        raise refuse(f"client_max_window_bits={client_bits} is larger than the {config.client_max_window_bits} offered")
    if client_bits is None and config.client_max_window_bits is not None:
        client_bits = config.client_max_window_bits  # what we said we would stay within
    return Negotiated(
        bool(got.get("server_no_context_takeover")) or config.server_no_context_takeover,
        bool(got.get("client_no_context_takeover")) or config.client_no_context_takeover,
        int(server_bits) if server_bits else None,
        int(client_bits) if client_bits else None,
    )


# -- messages -------------------------------------------------------------------------------------


def _measure(decompressor: Any, data: bytes | bytearray | memoryview, cap: int) -> int:
    """How much `data` inflates to, up to `cap` bytes, keeping none of it (the decompressor is a copy)."""
    total = 0
    while total <= cap:
        piece = decompressor.decompress(data, min(_CHUNK, cap - total + 1))
        data = decompressor.unconsumed_tail
        total += len(piece)
        if not data and not piece:
            break
    return total


class Deflate:
    """One side's compressor and decompressor for a negotiated permessage-deflate.

    Args:
        params: what the handshake agreed.
        server: True on the server side (it compresses within the server's parameters).
        level, mem_level: zlib settings for what this side sends.
    """

    def __init__(self, params: Negotiated, server: bool, level: int = 1, mem_level: int = 5) -> None:
        self.params = params
        if server:
            self._own_bits, self._peer_bits = params.server_max_window_bits or 15, params.client_max_window_bits or 15
            self._own_reset, self._peer_reset = params.server_no_context_takeover, params.client_no_context_takeover
        else:
            self._own_bits, self._peer_bits = params.client_max_window_bits or 15, params.server_max_window_bits or 15
            self._own_reset, self._peer_reset = params.client_no_context_takeover, params.server_no_context_takeover
        self._level, self._mem_level = level, mem_level
        # zlib's compressor and decompressor objects, made at first use: an idle connection keeps none.
        self._compressor: Any = None
        self._decompressor: Any = None

    # sending

    def compress(self, data: bytes | bytearray | memoryview, fin: bool) -> bytes:
        """Compress one frame's worth of a message (RFC 7692 7.2.1); the message ends when `fin`."""
        compressor = self._compressor
        if compressor is None:
            # zlib refuses an 8-bit raw window: Huffman-only output has no matches, so fits any window.
            bits = self._own_bits
            strategy = zlib.Z_HUFFMAN_ONLY if bits == 8 else zlib.Z_DEFAULT_STRATEGY
            compressor = self._compressor = zlib.compressobj(self._level, zlib.DEFLATED, -max(bits, 9), self._mem_level, strategy)
        out = compressor.compress(data) + compressor.flush(zlib.Z_SYNC_FLUSH)
        if fin:
            if out.endswith(_TAIL):
                out = out[:-4]
            if self._own_reset:
                self._compressor = None
        return out

    # receiving

    def inflate(
        self, data: bytes | bytearray | memoryview, fin: bool, limit: int, on_piece: Callable[[bytes], object] | None = None
    ) -> bytes:
        """Inflate one frame of a compressed message, producing at most `limit` bytes.

        Args:
            data: the frame's payload, unmasked.
            fin: the frame ends the message (the removed tail is put back, RFC 7692 7.2.2).
            limit: how many more bytes the message may grow by.
            on_piece: called with each piece as it comes out (a text message's UTF-8 check).

        Raises:
            ProtocolError: 1009 past the limit; 1007 for data that does not inflate.
        """
        decompressor = self._decompressor
        if decompressor is None:
            decompressor = self._decompressor = zlib.decompressobj(-self._peer_bits)
        pieces = []
        produced = 0
        measured = False  # the rest of this frame is known to fit the limit
        pending: bytes | bytearray | memoryview = bytes(data) + _TAIL if fin else data
        try:
            while True:
                room = min(_CHUNK, limit - produced + 1)  # one byte over the limit is enough to know
                if not measured and produced + room > limit // 2 and (pending or room == _CHUNK):
                    # Past half the limit, measure what the rest inflates to (on a copy, keeping
                    # nothing) before holding any more of it: a bomb is refused holding half the
                    # limit, not all of it. Only messages that big pay for inflating twice.
                    if produced + _measure(decompressor.copy(), pending, limit - produced + 1) > limit:
                        raise ProtocolError(f"message inflates past the limit ({limit} bytes more at most)", 1009)
                    measured = True
                piece = decompressor.decompress(pending, room)
                pending = decompressor.unconsumed_tail
                produced += len(piece)
                if produced > limit:
                    raise ProtocolError(f"message inflates past the limit ({limit} bytes more at most)", 1009)
                if piece:
                    pieces.append(piece)
                    if on_piece is not None:
                        on_piece(piece)
                if not pending and len(piece) < room:  # all input taken and nothing held back
                    break
        except zlib.error as exc:
            raise ProtocolError(f"compressed payload does not inflate: {exc} (RFC 7692 7.2.2)", 1007) from None
        if fin and self._peer_reset:
            self._decompressor = None
        return pieces[0] if len(pieces) == 1 else b"".join(pieces)
