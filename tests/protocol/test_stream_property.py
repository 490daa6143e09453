"""Property: any legal frame stream decodes to what was sent, however the bytes are chunked.

A client `Connection` (masks pinned through `mask_source`) encodes random messages: text and binary,
fragmented at arbitrary byte positions (so UTF-8 characters are cut), with pings and pongs between
fragments and an optional close at the end. A server `Connection` reads them in random chunkings,
through `receive_data` and through `get_buffer`/`buffer_updated`, copying and borrowing.
"""

from __future__ import annotations

import codecs
import itertools

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from wsplay.protocol.connection import Connection, Side
from wsplay.protocol.frames import encode_close_payload, encode_frame

MODES = {
    "copy": dict(borrow=False),
    "borrow": dict(borrow=True),
    "borrow+retain": dict(borrow=True, retain_fragments=True),
}

control_frames = st.tuples(st.sampled_from([0x9, 0xA]), st.binary(max_size=125))
allowed_codes = st.one_of(
    st.sampled_from([1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014]),
    st.integers(3000, 4999),
)


@st.composite
def data_message(draw):
    """One message as a list of (opcode, payload, fin) frames with controls between fragments."""
    if draw(st.booleans()):
        opcode = 0x1
        lo, hi = draw(st.sampled_from([(0, 8), (30, 120), (200, 400)]))  # past 64 bytes: checked before complete
        payload = draw(st.text(min_size=lo, max_size=hi)).encode("utf-8")
    else:
        opcode = 0x2
        lo, hi = draw(st.sampled_from([(0, 8), (100, 300), (2000, 5000)]))
        payload = draw(st.binary(min_size=lo, max_size=hi))
    # Cut points may repeat: empty fragments are legal.
    cuts = sorted(draw(st.lists(st.integers(0, len(payload)), max_size=4)))
    bounds = [0, *cuts, len(payload)]
    pieces = [payload[a:b] for a, b in itertools.pairwise(bounds)]
    frames = []
    for i, piece in enumerate(pieces):
        if i:
            frames.extend((op, data, True) for op, data in draw(st.lists(control_frames, max_size=2)))
        frames.append((opcode if i == 0 else 0x0, piece, i == len(pieces) - 1))
    return frames


@st.composite
def streams(draw):
    frames = []
    for item in draw(st.lists(st.one_of(data_message(), control_frames.map(lambda c: [(c[0], c[1], True)])), max_size=6)):
        frames.extend(item)
    if draw(st.booleans()):
        reason = draw(st.text(max_size=20).filter(lambda r: len(r.encode()) <= 123))
        frames.append((0x8, encode_close_payload(draw(allowed_codes), reason), True))
    return frames


def expected(frames):
    """What the server should report for each frame: (opcode, fin, payload, text, close)."""
    out = []
    decoder = None
    message = None
    for opcode, payload, fin in frames:
        text = None
        close = None
        if opcode == 0x8:
            close = (int.from_bytes(payload[:2], "big"), payload[2:].decode()) if payload else (1005, "")
        elif opcode in (0x1, 0x2):
            message = opcode
            if opcode == 0x1:
                decoder = codecs.getincrementaldecoder("utf-8")()
        if opcode in (0x0, 0x1) and message == 0x1:
            text = decoder.decode(payload, fin)
        out.append((opcode, fin, payload, text, close))
    return out


def decode(wire: bytes, cuts: list[int], push: str, mode: str):
    conn = Connection(Side.SERVER, **MODES[mode])
    got = []
    held = []  # borrow+retain: the views of the open message, which must stay valid until it completes
    last = 0
    for cut in [*sorted(cuts), len(wire)]:
        piece = wire[last:cut]
        last = max(last, cut)
        if push == "receive_data":
            conn.receive_data(piece)
        else:
            view = memoryview(piece)
            while view:
                buf = conn.get_buffer(-1)
                n = min(len(buf), len(view))
                buf[:n] = view[:n]
                conn.buffer_updated(n)
                view = view[n:]
        while (incoming := conn.next_frame()) is not None:
            h = incoming.header
            payload = bytes(incoming.payload)  # copy at once: a borrowed view dies at the next call
            close = (incoming.close_code, incoming.close_reason) if h.opcode == 0x8 else None
            got.append((h.opcode, h.fin, payload, incoming.text, close))
            if mode == "borrow+retain" and h.opcode < 0x8:
                held.append((incoming.payload, payload))
                if h.fin:
                    assert [bytes(v) for v, _ in held] == [p for _, p in held]
                    held.clear()
    assert conn.buffered == 0
    assert conn.failure is None
    return got


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(
    frames=streams(),
    keys=st.lists(st.binary(min_size=4, max_size=4), min_size=1, max_size=4),
    chunkings=st.lists(st.lists(st.integers(0, 20000), max_size=12), min_size=1, max_size=3),
)
def test_any_chunking_decodes_what_was_sent(frames, keys, chunkings) -> None:
    sender = Connection(Side.CLIENT, mask_source=itertools.cycle(keys).__next__)
    wire = b"".join(b"".join(sender.send_frame(op, payload, fin)) for op, payload, fin in frames)
    # The pinned masks are the ones on the wire.
    key_cycle = itertools.cycle(keys)
    assert wire == b"".join(encode_frame(op, p, fin, mask_key=next(key_cycle)) for op, p, fin in frames)

    want = expected(frames)
    # Text pieces joined per message give back each message's text.
    whole = [p for op, p, fin in frames if op in (0x1, 0x2, 0x0)]
    assert b"".join(whole) == b"".join(p for op, _, p, _, _ in want if op < 0x8)

    all_cuts = [[], list(range(1, len(wire)))[:2000], *[[c % (len(wire) + 1) for c in cuts] for cuts in chunkings]]
    for cuts in all_cuts:
        for push in ("receive_data", "get_buffer"):
            for mode in MODES:
                assert decode(wire, cuts, push, mode) == want, (cuts, push, mode)


@settings(max_examples=60, deadline=None)
@given(text=st.text(min_size=1, max_size=300), cuts=st.lists(st.integers(0, 1200), max_size=6), mode=st.sampled_from(sorted(MODES)))
def test_text_pieces_join_to_the_message(text, cuts, mode) -> None:
    data = text.encode()
    bounds = [0, *sorted(c % (len(data) + 1) for c in cuts), len(data)]
    pieces = [data[a:b] for a, b in itertools.pairwise(bounds)]
    sender = Connection(Side.CLIENT, mask_source=lambda: b"\x01\x02\x03\x04")
    wire = b"".join(b"".join(sender.send_frame(0x1 if i == 0 else 0x0, p, i == len(pieces) - 1)) for i, p in enumerate(pieces))
    got = decode(wire, [7, 70, 700], "receive_data", mode)
    assert "".join(t for *_, t, _ in got) == text
