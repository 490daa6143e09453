"""Fragmented messages over a real socket: merged by default, fragment by fragment on request.

The handler copies what it saw into a queue.Queue (it runs on wsplay's loop thread); the test
thread asserts on it.
"""

from __future__ import annotations

import queue
from dataclasses import dataclass

import pytest
from websockets.sync.client import connect

from wsplay import FrameType, Websocket


@dataclass(frozen=True)
class Seen:
    type: FrameType
    fin: bool
    is_segmented: bool
    segments: tuple[bytes, ...]
    data: bytes
    text: str | None


def snapshot(frame) -> Seen:
    """Copy everything out of a frame while it is valid (also in no-allocate mode)."""
    segments = tuple(bytes(s) for s in frame.raw.segments)
    text = None
    if frame.type in (FrameType.TEXT, FrameType.CONTINUE):
        try:
            text = frame.data_as_string()  # for text, the part this fragment completes
        except UnicodeDecodeError:  # a fragment of a binary message
            pass
    return Seen(frame.type, frame.raw.fin, frame.raw.is_segmented, segments, frame.data, text)


def recorder(manual: bool = False, no_allocate: bool = False):
    """A functional handler that records every data frame and ping it is given."""
    seen: queue.Queue[Seen] = queue.Queue()

    async def record(connection, frame):
        seen.put(snapshot(frame))

    async def on_ping(connection, frame):
        seen.put(snapshot(frame))
        await connection.pong(frame.data)

    builder = Websocket.functional().on_message(record).on_binary(record).on_continue(record).on_ping(on_ping)
    if manual:
        builder.handle_continuation_frames_manually()
    if no_allocate:
        builder.do_not_allocate_frame_data()
    return builder, seen


def split(data: bytes, n: int) -> list[bytes]:
    """n non-empty pieces (sizes differ, so an off-by-one in merging shows)."""
    assert len(data) >= n
    cuts = sorted({round(i * len(data) / n) + (i % 3) for i in range(1, n)})
    cuts = [c for c in cuts if 0 < c < len(data)]
    assert len(cuts) == n - 1, "message too short for this many fragments"
    bounds = [0, *cuts, len(data)]
    return [data[a:b] for a, b in zip(bounds, bounds[1:])]


def fragments(wire, opcode: int, pieces: list[bytes]) -> bytes:
    out = b""
    for i, piece in enumerate(pieces):
        out += wire.mask_frame(opcode if i == 0 else 0, piece, fin=i == len(pieces) - 1, mask=bytes([i % 256, 7, 99, 200]))
    return out


def get_all(seen: queue.Queue, n: int, unit: float) -> list[Seen]:
    got = [seen.get(timeout=2 * unit) for _ in range(n)]
    with pytest.raises(queue.Empty):
        seen.get(timeout=0.05 * unit)  # and nothing more
    return got


MESSAGE_TEXT = "fragmented ünïcødé message €𝄞 " * 40  # multi-byte characters land on some cuts
MESSAGE_BINARY = bytes(range(256)) * 5


@pytest.mark.parametrize("no_allocate", [False, True], ids=["allocate", "no-allocate"])
@pytest.mark.parametrize("n", [1, 2, 5, 50])
@pytest.mark.parametrize("kind", ["text", "binary"])
def test_fragments_are_merged_by_default(hosts, raw_client, wire, kind, n, no_allocate):
    builder, seen = recorder(no_allocate=no_allocate)
    host = hosts(builder)
    data = MESSAGE_TEXT.encode() if kind == "text" else MESSAGE_BINARY
    opcode = 1 if kind == "text" else 2
    pieces = split(data, n)
    raw = raw_client(host.bound_port)
    raw.handshake()
    raw.send(fragments(wire, opcode, pieces) + wire.mask_frame(opcode, b"next"))
    merged, following = get_all(seen, 2, wire.UNIT)
    assert merged.type is (FrameType.TEXT if kind == "text" else FrameType.BINARY)
    assert merged.fin is True
    assert merged.is_segmented is (n > 1)
    assert len(merged.segments) == n
    assert list(merged.segments) == pieces
    assert merged.data == data
    if kind == "text":
        assert merged.text == MESSAGE_TEXT
    assert following.data == b"next" and not following.is_segmented


@pytest.mark.parametrize("no_allocate", [False, True], ids=["allocate", "no-allocate"])
def test_segments_keep_the_fragments_apart_after_data_is_read(hosts, raw_client, wire, no_allocate):
    """Reading `frame.data` first joins the fragments; `raw.segments` still has one view per fragment."""
    seen: queue.Queue[tuple[bytes, list[bytes], bool]] = queue.Queue()

    async def data_first(connection, frame):
        data = frame.data
        seen.put((data, [bytes(s) for s in frame.raw.segments], frame.raw.is_segmented))

    builder = Websocket.functional().on_binary(data_first)
    if no_allocate:
        builder.do_not_allocate_frame_data()
    host = hosts(builder)
    pieces = split(MESSAGE_BINARY, 5)
    raw = raw_client(host.bound_port)
    raw.handshake()
    raw.send(fragments(wire, 2, pieces))
    data, segments, segmented = seen.get(timeout=3 * wire.UNIT)
    assert data == MESSAGE_BINARY and segmented
    assert segments == pieces


@pytest.mark.parametrize("no_allocate", [False, True], ids=["allocate", "no-allocate"])
@pytest.mark.parametrize("n", [1, 2, 5, 50])
@pytest.mark.parametrize("kind", ["text", "binary"])
def test_fragments_arrive_one_by_one_when_handled_manually(hosts, raw_client, wire, kind, n, no_allocate):
    builder, seen = recorder(manual=True, no_allocate=no_allocate)
    host = hosts(builder)
    data = MESSAGE_TEXT.encode() if kind == "text" else MESSAGE_BINARY
    first_type = FrameType.TEXT if kind == "text" else FrameType.BINARY
    pieces = split(data, n)
    raw = raw_client(host.bound_port)
    raw.handshake()
    raw.send(fragments(wire, int(first_type), pieces))
    got = get_all(seen, n, wire.UNIT)
    assert [g.type for g in got] == [first_type] + [FrameType.CONTINUE] * (n - 1)
    assert [g.fin for g in got] == [False] * (n - 1) + [True]
    assert [g.data for g in got] == pieces
    assert all(not g.is_segmented and len(g.segments) == 1 for g in got)
    if kind == "text":
        assert "".join(g.text for g in got) == MESSAGE_TEXT


@pytest.mark.parametrize("no_allocate", [False, True], ids=["allocate", "no-allocate"])
@pytest.mark.parametrize("manual", [False, True], ids=["merged", "manual"])
def test_ping_between_fragments_is_answered_before_the_message_completes(hosts, raw_client, wire, manual, no_allocate):
    builder, seen = recorder(manual=manual, no_allocate=no_allocate)
    host = hosts(builder)
    raw = raw_client(host.bound_port)
    raw.handshake()
    raw.send(wire.mask_frame(1, b"first half, ", fin=False))
    raw.send(wire.mask_frame(9, b"are you there?"))
    pong = raw.read_frame()  # the message is still open: the final fragment has not been sent
    assert (pong.opcode, pong.payload, pong.fin) == (10, b"are you there?", True)
    raw.send(wire.mask_frame(0, b"second half", fin=False, mask=b"\xff\x00\xaa\x55"))
    raw.send(wire.mask_frame(10, b"unsolicited pong"))  # allowed, and ignored by the default on_pong
    raw.send(wire.mask_frame(0, b"", fin=True))  # an empty final fragment is legal
    if manual:
        got = get_all(seen, 4, wire.UNIT)
        assert [g.type for g in got] == [FrameType.TEXT, FrameType.PING, FrameType.CONTINUE, FrameType.CONTINUE]
        assert [g.data for g in got] == [b"first half, ", b"are you there?", b"second half", b""]
        assert [g.fin for g in got] == [False, True, False, True]
    else:
        got = get_all(seen, 2, wire.UNIT)
        assert [g.type for g in got] == [FrameType.PING, FrameType.TEXT]
        assert got[1].data == b"first half, second half"
        assert got[1].segments == (b"first half, ", b"second half", b"")
        assert got[1].text == "first half, second half"


@pytest.mark.parametrize("manual", [False, True], ids=["merged", "manual"])
def test_text_fragments_may_split_a_multibyte_character(hosts, raw_client, wire, manual):
    builder, seen = recorder(manual=manual)
    host = hosts(builder)
    text = "a€b𝄞c" + "é" * 3
    data = text.encode()
    # Cut inside € (3 bytes), twice inside 𝄞 (4 bytes) and inside an é.
    e = data.index("€".encode())
    g = data.index("𝄞".encode())
    a = data.index("é".encode())
    cuts = [e + 1, e + 2, g + 1, g + 3, a + 1]
    bounds = [0, *cuts, len(data)]
    pieces = [data[x:y] for x, y in zip(bounds, bounds[1:])]
    raw = raw_client(host.bound_port)
    raw.handshake()
    raw.send(fragments(wire, 1, pieces))
    if manual:
        got = get_all(seen, len(pieces), wire.UNIT)
        assert [x.data for x in got] == pieces
        assert "".join(x.text for x in got) == text
    else:
        (got,) = get_all(seen, 1, wire.UNIT)
        assert got.text == text and got.data == data
        assert list(got.segments) == pieces


def test_websockets_client_fragmented_message_is_echoed_whole(echo_host, wire):
    """An independent peer's fragmentation (websockets sends an iterable as fragments)."""
    with connect(echo_host.url, open_timeout=2 * wire.UNIT, close_timeout=2 * wire.UNIT) as ws:
        ws.send(["frag", "mented ", "é", "cho"])
        assert ws.recv(timeout=2 * wire.UNIT) == "fragmented écho"
        ws.send([b"\x00\x01", b"\x02"])
        assert ws.recv(timeout=2 * wire.UNIT) == b"\x00\x01\x02"
