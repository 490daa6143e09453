"""Frames against their bytes: RFC 6455 5.7's examples and the length forms, three ways each.

Every row is encoded (`encode_frame`) and compared with its bytes, then decoded by a `Connection`
whole, one byte at a time, and with trailing bytes left over, in copying and borrowing mode, with bytes
copied in (`receive_data`) and written into its buffer (`get_buffer`, the `push` fixture).
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from wsplay.errors import ProtocolError
from wsplay.protocol.connection import Connection, Side
from wsplay.protocol.frames import FrameType, Header, encode_frame, encode_header

RFC_KEY = bytes.fromhex("37fa213d")  # the masking key of RFC 6455 5.7's masked examples
KEY2 = bytes.fromhex("a1b2c3d4")


def h(text: str) -> bytes:
    return bytes.fromhex(text)


def xor(data: bytes, key: bytes) -> bytes:
    """Mask independently of the code under test (RFC 6455 5.3)."""
    return bytes(b ^ key[i % 4] for i, b in enumerate(data))


@dataclass(frozen=True)
class Expect:
    opcode: int
    fin: bool
    payload: bytes
    header: bytes  # the header bytes as on the wire
    mask_key: bytes | None = None
    length_form: int = 7
    text: str | None = None
    close: tuple[int, str] | None = None


BIN256 = bytes(range(256))
BIN64K = bytes(i % 251 for i in range(65536))
BIN125 = bytes(range(125))
BIN126 = bytes(range(126))
BIN65535 = bytes(i % 253 for i in range(65535))
CLOSE_1001 = h("03e9") + b"going"

# (id, wire bytes, frames they decode to)
ROWS = [
    # RFC 6455 5.7, verbatim.
    ("rfc single-frame unmasked text", h("810548656c6c6f"),
     [Expect(1, True, b"Hello", h("8105"), text="Hello")]),
    ("rfc single-frame masked text", h("818537fa213d7f9f4d5158"),
     [Expect(1, True, b"Hello", h("818537fa213d"), RFC_KEY, text="Hello")]),
    ("rfc fragmented unmasked text", h("010348656c") + h("80026c6f"),
     [Expect(1, False, b"Hel", h("0103"), text="Hel"), Expect(0, True, b"lo", h("8002"), text="lo")]),
    ("rfc unmasked ping", h("890548656c6c6f"),
     [Expect(9, True, b"Hello", h("8905"))]),
    ("rfc masked pong", h("8a8537fa213d7f9f4d5158"),
     [Expect(10, True, b"Hello", h("8a8537fa213d"), RFC_KEY)]),
    ("rfc 256-byte binary, 16-bit length", h("827e0100") + BIN256,
     [Expect(2, True, BIN256, h("827e0100"), length_form=16)]),
    ("rfc 64 KiB binary, 64-bit length", h("827f0000000000010000") + BIN64K,
     [Expect(2, True, BIN64K, h("827f0000000000010000"), length_form=64)]),
    # Empty payloads.
    ("empty text", h("8100"), [Expect(1, True, b"", h("8100"), text="")]),
    ("empty masked binary", h("8280") + KEY2, [Expect(2, True, b"", h("8280") + KEY2, KEY2)]),
    ("empty masked ping", h("8980") + KEY2, [Expect(9, True, b"", h("8980") + KEY2, KEY2)]),
    ("empty close: no status", h("8800"), [Expect(8, True, b"", h("8800"), close=(1005, ""))]),
    # Close frames with a code and a reason.
    ("close 1000 'bye'", h("880503e8627965"),
     [Expect(8, True, h("03e8627965"), h("8805"), close=(1000, "bye"))]),
    ("masked close 1001 'going'", h("8887") + KEY2 + xor(CLOSE_1001, KEY2),
     [Expect(8, True, CLOSE_1001, h("8887") + KEY2, KEY2, close=(1001, "going"))]),
    ("close 4999 with a UTF-8 reason", h("8807") + h("1387") + "é€".encode(),
     [Expect(8, True, h("1387") + "é€".encode(), h("8807"), close=(4999, "é€"))]),
    # The length forms at their edges.
    ("125 bytes: largest 7-bit length", h("827d") + BIN125, [Expect(2, True, BIN125, h("827d"))]),
    ("126 bytes: smallest 16-bit length", h("827e007e") + BIN126,
     [Expect(2, True, BIN126, h("827e007e"), length_form=16)]),
    ("65535 bytes: largest 16-bit length", h("827effff") + BIN65535,
     [Expect(2, True, BIN65535, h("827effff"), length_form=16)]),
    ("masked 65536 bytes: smallest 64-bit length", h("82ff0000000000010000") + KEY2 + xor(BIN64K, KEY2),
     [Expect(2, True, BIN64K, h("82ff0000000000010000") + KEY2, KEY2, length_form=64)]),
    ("masked 126-byte text, 16-bit length", h("81fe007e") + RFC_KEY + xor(b"x" * 126, RFC_KEY),
     [Expect(1, True, b"x" * 126, h("81fe007e") + RFC_KEY, RFC_KEY, length_form=16, text="x" * 126)]),
    # Text fragments: a character cut by a fragment boundary comes with the later fragment.
    ("euro sign split across fragments", h("0102e282") + h("8001ac"),
     [Expect(1, False, h("e282"), h("0102"), text=""), Expect(0, True, h("ac"), h("8001"), text="€")]),
    ("binary in three fragments with a ping between", h("0201aa") + h("8900") + h("0001bb") + h("8001cc"),
     [Expect(2, False, h("aa"), h("0201")), Expect(9, True, b"", h("8900")),
      Expect(0, False, h("bb"), h("0001")), Expect(0, True, h("cc"), h("8001"))]),
    ("masked text in two fragments with a pong between",
     h("0182") + KEY2 + xor(b"ab", KEY2) + h("8a80") + RFC_KEY + h("8081") + RFC_KEY + xor(b"c", RFC_KEY),
     [Expect(1, False, b"ab", h("0182") + KEY2, KEY2, text="ab"), Expect(10, True, b"", h("8a80") + RFC_KEY, RFC_KEY),
      Expect(0, True, b"c", h("8081") + RFC_KEY, RFC_KEY, text="c")]),
]
IDS = [row[0] for row in ROWS]


def side_for(frames: list[Expect]) -> Side:
    masked = {f.mask_key is not None for f in frames}
    assert len(masked) == 1, "a row is either all client (masked) or all server (unmasked) frames"
    return Side.SERVER if masked.pop() else Side.CLIENT


def check_header(header: Header, want: Expect) -> None:
    assert header.fin is want.fin
    assert (header.rsv1, header.rsv2, header.rsv3) == (False, False, False)
    assert header.opcode == want.opcode
    assert header.type is FrameType(want.opcode)
    assert header.is_control is (want.opcode >= 8)
    assert header.masked is (want.mask_key is not None)
    assert header.mask_key == want.mask_key
    assert header.length == len(want.payload)
    assert header.length_form == want.length_form
    assert header.header_bytes == want.header


def decode(side: Side, pieces: list[bytes], borrow: bool, push) -> tuple[Connection, list]:
    """Feed pieces one after another; after each, read frames, keep a copy of each."""
    conn = Connection(side, borrow=borrow)
    got = []
    for piece in pieces:
        push(conn, piece)
        while (incoming := conn.next_frame()) is not None:
            payload = bytes(incoming.payload)
            if borrow:
                assert isinstance(incoming.payload, memoryview)
            else:
                assert isinstance(incoming.payload, bytes)
            got.append((incoming.header, payload, incoming.text, incoming.close_code, incoming.close_reason))
    return conn, got


def check_decoded(got: list, frames: list[Expect]) -> None:
    assert len(got) == len(frames)
    for (header, payload, text, close_code, close_reason), want in zip(got, frames):
        check_header(header, want)
        assert payload == want.payload
        assert text == want.text
        if want.close is not None:
            assert (close_code, close_reason) == want.close
        else:
            assert close_code is None


@pytest.mark.parametrize(("name", "wire", "frames"), ROWS, ids=IDS)
def test_encode(name: str, wire: bytes, frames: list[Expect]) -> None:
    encoded = b"".join(encode_frame(f.opcode, f.payload, f.fin, 0, f.mask_key) for f in frames)
    assert encoded == wire
    for f in frames:
        assert encode_header(f.opcode, len(f.payload), f.fin, 0, f.mask_key) == f.header


@pytest.mark.parametrize(("name", "wire", "frames"), ROWS, ids=IDS)
def test_connection_frame_bytes(name: str, wire: bytes, frames: list[Expect]) -> None:
    """`Connection.send_frame` on the sending side produces the same bytes (a client masks with its source)."""
    side = side_for(frames)
    keys = [f.mask_key for f in frames]
    sender_side = Side.CLIENT if side is Side.SERVER else Side.SERVER
    sender = Connection(sender_side, mask_source=iter(keys).__next__)
    assert b"".join(b"".join(sender.send_frame(f.opcode, f.payload, f.fin)) for f in frames) == wire


@pytest.mark.parametrize("borrow", [False, True], ids=["copy", "borrow"])
@pytest.mark.parametrize(("name", "wire", "frames"), ROWS, ids=IDS)
class TestDecode:
    def test_whole(self, name: str, wire: bytes, frames: list[Expect], borrow: bool, push) -> None:
        conn, got = decode(side_for(frames), [wire], borrow, push)
        check_decoded(got, frames)
        assert conn.buffered == 0
        assert conn.message_open is None

    def test_byte_by_byte(self, name: str, wire: bytes, frames: list[Expect], borrow: bool, push) -> None:
        conn, got = decode(side_for(frames), [wire[i : i + 1] for i in range(len(wire))], borrow, push)
        check_decoded(got, frames)
        assert conn.buffered == 0

    def test_trailing_bytes_stay_buffered(self, name: str, wire: bytes, frames: list[Expect], borrow: bool, push) -> None:
        side = side_for(frames)
        nxt = encode_frame(1, b"Hello", mask_key=RFC_KEY if side is Side.SERVER else None)
        conn, got = decode(side, [wire + nxt[:3]], borrow, push)
        check_decoded(got, frames)
        if frames[-1].opcode == 8:
            # After a close frame whatever follows is dropped unread (RFC 6455 5.5.1).
            assert conn.next_frame() is None
            assert conn.buffered == 0
            return
        assert conn.buffered == 3
        assert conn.next_frame() is None
        assert conn.buffered == 3
        push(conn, nxt[3:])
        last = conn.next_frame()
        assert last is not None and last.text == "Hello" and bytes(last.payload) == b"Hello"
        assert conn.buffered == 0


# -- headers alone (Header.parse / encode_header), including what a Connection refuses --------------

# (id, header bytes, fin, rsv bits, opcode, mask key, length, length form)
HEADER_ROWS = [
    ("text fin", h("8105"), True, 0, 1, None, 5, 7),
    ("continuation no fin", h("0000"), False, 0, 0, None, 0, 7),
    ("RSV1", h("c105"), True, 4, 1, None, 5, 7),
    ("RSV2", h("a105"), True, 2, 1, None, 5, 7),
    ("RSV3", h("9105"), True, 1, 1, None, 5, 7),
    ("RSV1+2+3 masked", h("f185") + RFC_KEY, True, 7, 1, RFC_KEY, 5, 7),
    ("RSV1 fragment", h("4100"), False, 4, 1, None, 0, 7),
    ("reserved opcode 3", h("8300"), True, 0, 3, None, 0, 7),
    ("reserved opcode 15", h("8f00"), True, 0, 15, None, 0, 7),
    ("16-bit length", h("827e1234"), True, 0, 2, None, 0x1234, 16),
    ("masked 16-bit length", h("82fe1234") + KEY2, True, 0, 2, KEY2, 0x1234, 16),
    ("64-bit length", h("827f0000000100000000"), True, 0, 2, None, 1 << 32, 64),
    ("64-bit largest length", h("827f7fffffffffffffff"), True, 0, 2, None, (1 << 63) - 1, 64),
    ("masked 64-bit length", h("82ff0000010000000000") + KEY2, True, 0, 2, KEY2, 1 << 40, 64),
]


@pytest.mark.parametrize(("name", "raw", "fin", "rsv", "opcode", "mask_key", "length", "form"), HEADER_ROWS,
                         ids=[r[0] for r in HEADER_ROWS])
def test_header(name, raw, fin, rsv, opcode, mask_key, length, form) -> None:
    assert encode_header(opcode, length, fin, rsv, mask_key) == raw
    for data in (raw, raw + b"trailing payload bytes"):
        header = Header.parse(data)
        assert header.fin is fin
        assert (header.rsv1, header.rsv2, header.rsv3) == (bool(rsv & 4), bool(rsv & 2), bool(rsv & 1))
        assert header.opcode == opcode
        assert header.masked is (mask_key is not None)
        assert header.mask_key == mask_key
        assert header.length == length
        assert header.length_form == form
        assert header.header_bytes == raw
        assert header == Header.parse(raw) and hash(header) == hash(Header.parse(raw))
        repr(header)
    for cut in range(len(raw)):
        with pytest.raises(ValueError, match="incomplete"):
            Header.parse(raw[:cut])


def test_header_64bit_msb_set() -> None:
    with pytest.raises(ValueError, match="most significant bit"):
        Header.parse(h("827f8000000000000000"))


def test_reserved_opcode_has_no_type() -> None:
    assert Header.parse(h("8300")).type is None
    assert "reserved opcode 3" in repr(Header.parse(h("8300")))


@pytest.mark.parametrize("raw", [h("c105"), h("a105"), h("9105"), h("8300")], ids=["RSV1", "RSV2", "RSV3", "opcode 3"])
def test_connection_refuses_what_header_parse_shows(raw: bytes) -> None:
    """The inspector can show any header; a connection answers these with 1002."""
    conn = Connection(Side.CLIENT)
    conn.receive_data(raw + b"Hello")
    with pytest.raises(ProtocolError) as info:
        conn.next_frame()
    assert info.value.code == 1002
