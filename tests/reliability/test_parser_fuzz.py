"""Property: the Sans-I/O parser survives any bytes in any chunking.

Whatever arrives, `Connection.next_frame()` returns frames, returns None (needs more bytes), or raises
`ProtocolError` with 1002, 1007 or 1009, never anything else; it never loops without progress, and
the bytes it keeps stay bounded by the size limits (a declared length is never trusted). Inputs are
pure random bytes and, to get past the first header check, valid masked frames with bits flipped,
cut short, repeated, spliced and unmasked.
"""

from __future__ import annotations

import struct

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from wsplay import ProtocolError
from wsplay.protocol.connection import Connection, Incoming

CODES = {1002, 1007, 1009}
MAX_MESSAGE = 4096
MAX_FRAME = 2048
INITIAL = 256  # a small receive buffer, so growing, sliding and shrinking are all exercised
HEADER_MAX = 14  # 2 + 8 (64-bit length) + 4 (mask key)


def frame(opcode: int, payload: bytes, fin: bool, rsv: int, mask: bytes, length: int | None = None) -> bytes:
    b0 = (0x80 if fin else 0) | rsv << 4 | opcode
    n = len(payload) if length is None else length
    if n < 126:
        head = struct.pack("!BB", b0, 0x80 | n)
    elif n < 1 << 16:
        head = struct.pack("!BBH", b0, 0x80 | 126, n)
    else:
        head = struct.pack("!BBQ", b0, 0x80 | 127, n)
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


payloads = st.one_of(
    st.binary(max_size=300),
    st.text(max_size=100).map(lambda s: s.encode("utf-8")),
    st.sampled_from([b"\xff", b"\xc0\x80", b"\xed\xa0\x80", b"\xf4\x90\x80\x80", "é€😀".encode()]),
    st.integers(1000, 4999).map(lambda c: struct.pack("!H", c)),
)


@st.composite
def valid_ish_frames(draw) -> bytes:
    """A masked frame that is well formed on the wire; its content may or may not obey the rules."""
    opcode = draw(st.sampled_from([0x0, 0x1, 0x2, 0x8, 0x9, 0xA, 0x1, 0x2, 0x3, 0xB]))
    return frame(
        opcode,
        draw(payloads),
        draw(st.booleans()),
        draw(st.sampled_from([0, 0, 0, 0, 1, 4])),
        draw(st.binary(min_size=4, max_size=4)),
        draw(st.one_of(st.none(), st.none(), st.integers(0, 1 << 63 | 5))),  # sometimes a lying length
    )


@st.composite
def mutated(draw) -> bytes:
    data = bytearray(b"".join(draw(st.lists(valid_ish_frames(), min_size=1, max_size=6))))
    for _ in range(draw(st.integers(0, 4))):
        kind = draw(st.sampled_from(["flip", "truncate", "duplicate", "insert", "unmask"]))
        if not data:
            break
        i = draw(st.integers(0, len(data) - 1))
        if kind == "flip":
            data[i] ^= 1 << draw(st.integers(0, 7))
        elif kind == "truncate":
            del data[i:]
        elif kind == "duplicate":
            j = draw(st.integers(i, len(data)))
            data[j:j] = data[i:j]
        elif kind == "insert":
            data[i:i] = draw(st.binary(min_size=1, max_size=8))
        else:
            if i + 1 < len(data):
                data[i + 1] &= 0x7F
    return bytes(data)


@st.composite
def chunked(draw) -> list[bytes]:
    data = draw(st.one_of(st.binary(max_size=600), mutated(), mutated()))
    cuts = sorted(draw(st.lists(st.integers(0, len(data)), max_size=12)))
    bounds = [0, *cuts, len(data)]
    return [data[a:b] for a, b in zip(bounds, bounds[1:])]


def check_frame(item: Incoming) -> None:
    opcode = item.header.opcode
    assert opcode in (0, 1, 2, 8, 9, 10)
    assert item.header.length == len(item.payload) <= MAX_FRAME
    if opcode >= 8:
        assert item.header.fin and len(item.payload) <= 125
    if opcode == 1 and item.header.fin:
        assert item.text is not None and item.text.encode("utf-8") == bytes(item.payload)
    if opcode == 8 and item.close_code is not None:
        assert 1000 <= item.close_code < 5000


def drain(conn: Connection, out: list[Incoming], budget: int) -> None:
    """Take every complete frame; fail if the parser keeps returning frames without consuming bytes."""
    for _ in range(budget):
        before = conn._start
        item = conn.next_frame()
        if item is None:
            return
        assert isinstance(item, Incoming)
        assert conn._start > before, "a frame came out without consuming bytes"
        check_frame(item)  # now: a borrowed payload is only valid until the next read
        out.append(item)
    raise AssertionError("next_frame() kept returning frames: it does not make progress")


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(chunks=chunked(), mode=st.sampled_from(["copy", "borrow", "borrow+retain", "zero-copy"]))
def test_hostile_bytes_give_frames_or_a_protocol_error(chunks: list[bytes], mode: str) -> None:
    conn = Connection(
        max_message_size=MAX_MESSAGE,
        max_frame_size=MAX_FRAME,
        borrow=mode.startswith("borrow"),
        retain_fragments=mode == "borrow+retain",
        buffer_size=INITIAL,
    )
    frames: list[Incoming] = []
    error: ProtocolError | None = None
    for chunk in chunks:
        if mode == "zero-copy":  # the asyncio.BufferedProtocol path the engine uses
            view = chunk
            while view:
                space = conn.get_buffer(len(view))
                n = min(len(space), len(view))
                assert n > 0, "get_buffer() returned no space"
                space[:n] = view[:n]
                conn.buffer_updated(n)
                view = view[n:]
        else:
            conn.receive_data(chunk)
        try:
            drain(conn, frames, budget=len(chunk) + 2)
        except ProtocolError as exc:
            error = exc
            break
        # Unconsumed bytes are at most one incomplete frame under the limits: a lying length is never waited out.
        assert conn.buffered <= HEADER_MAX + MAX_FRAME, (conn.buffered, conn._pending)
        # The buffer holds that frame plus the read size asked for (16 KiB free per recv), at most doubled.
        assert len(conn._buf) <= max(INITIAL, 2 * (HEADER_MAX + MAX_FRAME + len(chunk) + 16 * 1024)), len(conn._buf)
    event(f"close code {error.code}" if error is not None else "frames only")
    if error is not None:
        assert error.code in CODES, error
        assert str(error)
        assert conn.next_frame() is None  # a failed connection yields nothing more
        assert conn.failure is error
