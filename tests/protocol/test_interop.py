"""Our codec against an independent one: websockets' own Sans-I/O frame code, in both directions."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from websockets.frames import Close, Frame, Opcode
from websockets.streams import StreamReader

from wsplay.protocol.connection import Connection, Side

KEY = bytes.fromhex("0badcafe")

FRAMES = [
    Frame(Opcode.TEXT, "Hello, wörld €𝄞".encode()),
    Frame(Opcode.BINARY, bytes(range(256))),
    Frame(Opcode.TEXT, b"frag", fin=False),
    Frame(Opcode.PING, b"in between"),
    Frame(Opcode.CONT, "ment é".encode()[:-1], fin=False),
    Frame(Opcode.PONG, b""),
    Frame(Opcode.CONT, "ment é".encode()[-1:], fin=True),
    Frame(Opcode.BINARY, b""),
    Frame(Opcode.BINARY, bytes(i % 7 for i in range(70_000))),
    Frame(Opcode.TEXT, b"x" * 126),
    Frame(Opcode.CLOSE, Close(1001, "going away").serialize()),
]


def parse_with_websockets(data: bytes, mask: bool) -> list[Frame]:
    """Drive websockets' generator-based parser the way its own tests do."""
    reader = StreamReader()
    reader.feed_data(data)
    reader.feed_eof()
    frames = []
    while reader.buffer:
        parser = Frame.parse(reader.read_exact, mask=mask, extensions=[])
        try:
            next(parser)
        except StopIteration as exc:
            frames.append(exc.value)
        else:
            raise AssertionError("websockets' parser wanted more bytes")
    return frames


def decode_with_ours(data: bytes, side: Side, borrow: bool = False) -> list[tuple[int, bool, bytes]]:
    conn = Connection(side, borrow=borrow)
    conn.receive_data(data)
    out = []
    while (incoming := conn.next_frame()) is not None:
        out.append((incoming.header.opcode, incoming.header.fin, bytes(incoming.payload)))
    assert conn.buffered == 0
    return out


def plain(frames: list[Frame]) -> list[tuple[int, bool, bytes]]:
    return [(int(f.opcode), f.fin, bytes(f.data)) for f in frames]


def test_websockets_client_frames_decode_with_our_server() -> None:
    for borrow in (False, True):
        wire = b"".join(f.serialize(mask=True, extensions=[]) for f in FRAMES)
        assert decode_with_ours(wire, Side.SERVER, borrow) == plain(FRAMES)


def test_websockets_server_frames_decode_with_our_client() -> None:
    wire = b"".join(f.serialize(mask=False, extensions=[]) for f in FRAMES)
    assert decode_with_ours(wire, Side.CLIENT) == plain(FRAMES)


def test_our_frames_parse_with_websockets() -> None:
    for side, mask in ((Side.SERVER, False), (Side.CLIENT, True)):
        conn = Connection(side, mask_source=lambda: KEY)
        wire = b"".join(b"".join(conn.send_frame(f.opcode, f.data, f.fin)) for f in FRAMES)
        assert plain(parse_with_websockets(wire, mask)) == plain(FRAMES)


def test_our_close_frame_parses_with_websockets() -> None:
    conn = Connection(Side.SERVER)
    [frame] = parse_with_websockets(conn.send_close(1000, "done ✓"), mask=False)
    assert frame.opcode is Opcode.CLOSE
    assert Close.parse(frame.data) == Close(1000, "done ✓")


def test_our_header_equals_theirs() -> None:
    """Byte-for-byte: same header choices (length form) for every length boundary."""
    for length in (0, 1, 125, 126, 127, 65535, 65536, 100_000):
        data = bytes(length)
        theirs = Frame(Opcode.BINARY, data).serialize(mask=False, extensions=[])
        assert b"".join(Connection(Side.SERVER).send_frame(2, data)) == theirs


@settings(max_examples=100, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from([Opcode.TEXT, Opcode.BINARY]), st.text(max_size=300), st.integers(0, 5)),
        min_size=1,
        max_size=5,
    )
)
def test_random_fragmented_messages_both_ways(messages) -> None:
    frames = []
    for opcode, text, parts in messages:
        data = text.encode()
        step = max(1, len(data) // (parts + 1))
        pieces = [data[i : i + step] for i in range(0, len(data), step)] or [b""]
        for i, piece in enumerate(pieces):
            frames.append(Frame(opcode if i == 0 else Opcode.CONT, piece, fin=i == len(pieces) - 1))
            if i % 2:
                frames.append(Frame(Opcode.PING, piece[:125]))
    wire = b"".join(f.serialize(mask=True, extensions=[]) for f in frames)
    assert decode_with_ours(wire, Side.SERVER) == plain(frames)
    ours = Connection(Side.SERVER)
    assert plain(parse_with_websockets(b"".join(b"".join(ours.send_frame(f.opcode, f.data, f.fin)) for f in frames), False)) == plain(frames)
