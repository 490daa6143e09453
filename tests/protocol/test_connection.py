"""The connection state machine: every protocol row of DESIGN.md's strictness table, and a pair talking.

Violations are checked at the Sans-I/O level: bytes in, a `ProtocolError` carrying the close code out.
"""

from __future__ import annotations

import struct

import pytest

from wsplay.errors import InvalidState, ProtocolError
from wsplay.protocol.connection import CloseRecord, Connection, Side, State
from wsplay.protocol.frames import encode_frame, encode_header, parse_close_payload

KEY = bytes.fromhex("37fa213d")


def cf(opcode: int, payload: bytes = b"", fin: bool = True, rsv: int = 0) -> bytes:
    """A client frame (masked), as a server receives it."""
    return encode_frame(opcode, payload, fin, rsv, mask_key=KEY)


def close_payload(code: int, reason: bytes = b"") -> bytes:
    return code.to_bytes(2, "big") + reason


def read_all(conn: Connection, data: bytes = b"") -> list:
    if data:
        conn.receive_data(data)
    out = []
    while (incoming := conn.next_frame()) is not None:
        out.append((incoming.header.opcode, incoming.header.fin, bytes(incoming.payload), incoming.text,
                    incoming.close_code, incoming.close_reason))
    return out


def failure(conn: Connection, data: bytes) -> ProtocolError:
    """Feed `data` whole and return the ProtocolError it must cause."""
    with pytest.raises(ProtocolError) as info:
        read_all(conn, data)
    return info.value


# -- 1002: framing violations -----------------------------------------------------------------------

# (id, side receiving, bytes)
PROTOCOL_ERRORS = [
    ("unmasked client frame", Side.SERVER, encode_frame(1, b"hi")),
    ("unmasked client ping", Side.SERVER, encode_frame(9, b"")),
    ("masked server frame", Side.CLIENT, cf(1, b"hi")),
    ("RSV1 without extension", Side.SERVER, cf(1, b"hi", rsv=4)),
    ("RSV2", Side.SERVER, cf(2, b"hi", rsv=2)),
    ("RSV3", Side.SERVER, cf(2, b"hi", rsv=1)),
    ("RSV1 on a continuation", Side.SERVER, cf(1, b"a", fin=False) + cf(0, b"b", rsv=4)),
    ("RSV1 on a ping", Side.SERVER, cf(9, b"", rsv=4)),
    *[(f"reserved opcode {op}", Side.SERVER, cf(op, b"x")) for op in (3, 4, 5, 6, 7, 11, 12, 13, 14, 15)],
    ("reserved opcode 3 to a client", Side.CLIENT, encode_frame(3, b"x")),
    ("ping with fin=0", Side.SERVER, cf(9, b"", fin=False)),
    ("pong with fin=0", Side.SERVER, cf(10, b"x", fin=False)),
    ("close with fin=0", Side.SERVER, cf(8, close_payload(1000), fin=False)),
    ("ping payload 126 bytes", Side.SERVER, cf(9, b"p" * 126)),
    ("pong payload 126 bytes", Side.SERVER, cf(10, b"p" * 126)),
    ("close payload 126 bytes", Side.SERVER, cf(8, close_payload(1000, b"r" * 124))),
    ("ping 126 bytes to a client", Side.CLIENT, encode_frame(9, b"p" * 126)),
    ("continuation with no message open", Side.SERVER, cf(0, b"x")),
    ("continuation after a complete message", Side.SERVER, cf(1, b"a") + cf(0, b"b")),
    ("continuation after a finished fragmented message", Side.SERVER, cf(2, b"a", fin=False) + cf(0, b"b") + cf(0, b"c")),
    ("TEXT while TEXT open", Side.SERVER, cf(1, b"a", fin=False) + cf(1, b"b")),
    ("BINARY while TEXT open", Side.SERVER, cf(1, b"a", fin=False) + cf(2, b"b")),
    ("TEXT while BINARY open", Side.SERVER, cf(2, b"a", fin=False) + cf(1, b"b", fin=False)),
    ("BINARY while BINARY open, ping between", Side.SERVER, cf(2, b"a", fin=False) + cf(9) + cf(2, b"b")),
    ("close payload of 1 byte", Side.SERVER, cf(8, b"\x03")),
    *[(f"close code {code}", Side.SERVER, cf(8, close_payload(code, b"why")))
      for code in (0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, 65535)],
    ("close code 1005 to a client", Side.CLIENT, encode_frame(8, close_payload(1005))),
    ("64-bit length with MSB set", Side.SERVER, bytes.fromhex("82ff8000000000000000") + KEY),
    ("64-bit length with MSB set to a client", Side.CLIENT, bytes.fromhex("827f8000000000000001")),
]


@pytest.mark.parametrize(("name", "side", "data"), PROTOCOL_ERRORS, ids=[r[0] for r in PROTOCOL_ERRORS])
def test_protocol_error_1002(name: str, side: Side, data: bytes) -> None:
    conn = Connection(side)
    exc = failure(conn, data)
    assert exc.code == 1002
    assert conn.failure is exc
    assert conn.state is State.CLOSED
    assert str(exc) and "RFC 6455" in str(exc)


@pytest.mark.parametrize(("name", "side", "data"), PROTOCOL_ERRORS, ids=[r[0] for r in PROTOCOL_ERRORS])
def test_protocol_error_byte_by_byte(name: str, side: Side, data: bytes) -> None:
    conn = Connection(side)
    with pytest.raises(ProtocolError) as info:
        for i in range(len(data)):
            read_all(conn, data[i : i + 1])
    assert info.value.code == 1002


ALLOWED_CODES = [1000, 1001, 1002, 1003, *range(1007, 1015), 3000, 3999, 4000, 4999]


@pytest.mark.parametrize("code", ALLOWED_CODES)
def test_allowed_close_codes(code: int) -> None:
    conn = Connection(Side.SERVER)
    [got] = read_all(conn, cf(8, close_payload(code, "fin ✓".encode())))
    assert got[0] == 8 and got[4:] == (code, "fin ✓")
    assert conn.close_received == (code, "fin ✓")
    assert conn.state is State.CLOSING


def test_empty_close_reads_as_1005() -> None:
    conn = Connection(Side.SERVER)
    [got] = read_all(conn, cf(8))
    assert got[4:] == (1005, "")


# -- 1007: invalid UTF-8 ----------------------------------------------------------------------------

BAD_TEXTS = {
    "lone continuation byte": b"ok \x80",
    "0xff": b"\xff",
    "overlong slash": b"\xc0\xaf",
    "overlong 3-byte": b"\xe0\x80\xaf",
    "surrogate ED A0 80": b"\xed\xa0\x80",
    "surrogate ED BF BF": b"a\xed\xbf\xbfb",
    "above U+10FFFF": b"\xf4\x90\x80\x80",
    "truncated at the end": b"euro \xe2\x82",
    "truncated then ASCII": b"\xe2\x82x",
}


@pytest.mark.parametrize("payload", BAD_TEXTS.values(), ids=BAD_TEXTS.keys())
@pytest.mark.parametrize("borrow", [False, True], ids=["copy", "borrow"])
def test_invalid_utf8_whole_frame(payload: bytes, borrow: bool) -> None:
    assert failure(Connection(Side.SERVER, borrow=borrow), cf(1, payload)).code == 1007


@pytest.mark.parametrize("payload", BAD_TEXTS.values(), ids=BAD_TEXTS.keys())
def test_invalid_utf8_whole_frame_to_client(payload: bytes) -> None:
    assert failure(Connection(Side.CLIENT), encode_frame(1, payload)).code == 1007


def first_bad_index(data: bytes) -> int:
    """The index of the byte at which a strict, fail-fast decoder must give up (len(data) if truncated)."""
    for i in range(1, len(data) + 1):
        try:
            data[:i].decode()
        except UnicodeDecodeError as exc:
            if exc.reason != "unexpected end of data":
                return i - 1
    return len(data)


def test_first_bad_index() -> None:
    assert first_bad_index(b"ab\xed\xa0\x80") == 3  # the A0: no valid character starts ED A0
    assert first_bad_index(b"ab\xe2\x82") == 4
    assert first_bad_index(b"\xff") == 0


SPLIT_MESSAGES = {
    "surrogate": "κόσμε ".encode() + b"\xed\xa0\x80" + b" world",
    "overlong": "κό".encode() + b"\xe0\x80\xaf",
    "bad continuation": "€".encode() + b"\xe2\x28\xa1",
    "truncated at the end": "€€".encode() + b"\xf0\x9f\x98",
}


@pytest.mark.parametrize("message", SPLIT_MESSAGES.values(), ids=SPLIT_MESSAGES.keys())
@pytest.mark.parametrize("borrow", [False, True], ids=["copy", "borrow"])
def test_invalid_utf8_across_fragments_fails_fast(message: bytes, borrow: bool) -> None:
    """Split at every byte: the error comes with the fragment that holds the bad byte, not later."""
    bad = first_bad_index(message)
    for cut in range(len(message) + 1):
        conn = Connection(Side.SERVER, borrow=borrow)
        if cut > bad:
            # The first fragment already shows the error: it must fail before the rest arrives.
            exc = failure(conn, cf(1, message[:cut], fin=False))
        else:
            assert len(read_all(conn, cf(1, message[:cut], fin=False))) == 1
            exc = failure(conn, cf(0, message[cut:], fin=True))
        assert exc.code == 1007, cut


def test_invalid_utf8_in_middle_fragment_with_controls_between() -> None:
    conn = Connection(Side.SERVER)
    assert len(read_all(conn, cf(1, b"abc", fin=False) + cf(9, b"p") + cf(0, b"\xce", fin=False) + cf(10))) == 4
    assert failure(conn, cf(0, b"\x41", fin=False)).code == 1007  # CE 41: not a continuation byte


def test_truncated_character_before_empty_final_fragment() -> None:
    conn = Connection(Side.SERVER)
    read_all(conn, cf(1, b"ok \xe2\x82", fin=False))
    assert failure(conn, cf(0, b"", fin=True)).code == 1007


@pytest.mark.parametrize("borrow", [False, True], ids=["copy", "borrow"])
def test_invalid_utf8_detected_inside_a_large_frame_before_it_completes(borrow: bool) -> None:
    frame = cf(1, b"a" * 10 + b"\xff" + b"b" * 989)
    conn = Connection(Side.SERVER, borrow=borrow)
    assert failure(conn, frame[:8 + 200]).code == 1007  # 8 header bytes, 200 of 1000 payload bytes


def test_binary_is_not_utf8_checked() -> None:
    conn = Connection(Side.SERVER)
    [got] = read_all(conn, cf(2, b"\xff\xed\xa0\x80"))
    assert got[2] == b"\xff\xed\xa0\x80" and got[3] is None


@pytest.mark.parametrize("reason", [b"\xff", b"\xed\xa0\x80", b"ok\xe2\x82"], ids=["0xff", "surrogate", "truncated"])
def test_invalid_utf8_close_reason(reason: bytes) -> None:
    assert failure(Connection(Side.SERVER), cf(8, close_payload(1000, reason))).code == 1007


# -- 1009: size limits, enforced at the header --------------------------------------------------------


def test_huge_declared_length_fails_at_the_header_without_allocating() -> None:
    conn = Connection(Side.SERVER)
    size_before = len(conn._buf)
    conn.receive_data(encode_header(2, 2**40, mask_key=KEY))  # only the 14 header bytes
    with pytest.raises(ProtocolError) as info:
        conn.next_frame()
    assert info.value.code == 1009
    assert len(conn._buf) <= max(size_before, conn._initial_size)  # the first read's buffer, never 2**40


def test_huge_declared_length_with_no_limit_waits_without_allocating() -> None:
    conn = Connection(Side.SERVER, max_message_size=None)
    size_before = len(conn._buf)
    conn.receive_data(encode_header(2, 2**40, mask_key=KEY) + b"x" * 1000)
    assert conn.next_frame() is None
    conn.get_buffer(-1)
    assert len(conn._buf) <= max(size_before, conn._initial_size)  # room for what arrived, not for 2**40


@pytest.mark.parametrize(("limit", "length", "ok"), [(1000, 1000, True), (1000, 1001, False), (0, 0, True), (0, 1, False)])
def test_message_limit_on_a_single_frame(limit: int, length: int, ok: bool) -> None:
    conn = Connection(Side.SERVER, max_message_size=limit)
    frame = cf(2, b"z" * length)
    if ok:
        assert read_all(conn, frame)[0][2] == b"z" * length
    else:
        header_only = frame[: len(encode_header(2, length, mask_key=KEY))]
        assert failure(conn, header_only).code == 1009


def test_message_limit_over_fragments() -> None:
    conn = Connection(Side.SERVER, max_message_size=100)
    assert len(read_all(conn, cf(1, b"a" * 60, fin=False) + cf(9, b"p" * 125) + cf(0, b"b" * 40, fin=False))) == 3
    assert len(read_all(conn, cf(0, b"", fin=False))) == 1  # still exactly 100
    third = cf(0, b"c", fin=True)
    assert failure(conn, third[:6]).code == 1009  # the header alone is enough


def test_message_limit_resets_between_messages() -> None:
    conn = Connection(Side.SERVER, max_message_size=100)
    for _ in range(5):
        assert len(read_all(conn, cf(2, b"a" * 50, fin=False) + cf(0, b"b" * 50))) == 2


def test_frame_limit() -> None:
    conn = Connection(Side.SERVER, max_frame_size=10, max_message_size=100)
    assert len(read_all(conn, cf(2, b"a" * 10, fin=False) + cf(0, b"b" * 10))) == 2
    assert failure(conn, cf(2, b"a" * 11)[:6]).code == 1009


def test_control_frames_do_not_count_towards_the_message_limit() -> None:
    conn = Connection(Side.SERVER, max_message_size=10)
    assert len(read_all(conn, cf(2, b"a" * 5, fin=False) + cf(9, b"p" * 125) + cf(0, b"b" * 5))) == 3


# -- after close, after failure -------------------------------------------------------------------------


def test_data_frames_after_close_are_ignored() -> None:
    conn = Connection(Side.SERVER)
    got = read_all(conn, cf(8, close_payload(1001)) + cf(1, b"late") + cf(2, b"later"))
    assert [g[0] for g in got] == [8]
    assert conn.close_received == (1001, "")
    assert conn.buffered == 0
    assert read_all(conn, cf(1, b"still late")) == []


def test_garbage_after_close_is_dropped_unread() -> None:
    conn = Connection(Side.SERVER)
    got = read_all(conn, cf(8, close_payload(1000)) + cf(1, b"\xff") + cf(3) + cf(0, b"stray"))
    assert [g[0] for g in got] == [8]
    assert conn.failure is None and conn.buffered == 0


def test_failed_connection_reads_nothing_more() -> None:
    conn = Connection(Side.SERVER)
    exc = failure(conn, cf(3) + cf(1, b"valid"))
    assert conn.next_frame() is None
    conn.receive_data(cf(1, b"more"))
    assert conn.next_frame() is None
    assert conn.failure is exc and conn.state is State.CLOSED
    with pytest.raises(InvalidState):
        conn.send_frame(1)


def test_frames_before_the_error_are_delivered() -> None:
    conn = Connection(Side.SERVER)
    conn.receive_data(cf(1, b"one") + cf(2, b"two") + cf(1, b"\xff"))
    assert conn.next_frame().text == "one"
    assert bytes(conn.next_frame().payload) == b"two"
    with pytest.raises(ProtocolError):
        conn.next_frame()


def test_message_open_tracks_fragmentation() -> None:
    conn = Connection(Side.SERVER)
    assert conn.message_open is None
    read_all(conn, cf(1, b"a", fin=False))
    assert conn.message_open is not None and conn.message_open.name == "TEXT"
    read_all(conn, cf(9) + cf(0, b"b", fin=False))
    assert conn.message_open.name == "TEXT"
    read_all(conn, cf(0, b"c"))
    assert conn.message_open is None


# -- a client and a server, back to back in memory ---------------------------------------------------------


class Pair:
    def __init__(self, **server_options) -> None:
        keys = iter(bytes([i, i + 1, i + 2, i + 3]) for i in range(0, 10**6, 4))
        self.client = Connection(Side.CLIENT, mask_source=lambda: next(keys))
        self.server = Connection(Side.SERVER, **server_options)

    def to_server(self, opcode: int, payload: bytes = b"", fin: bool = True) -> list:
        return read_all(self.server, b"".join(self.client.send_frame(opcode, payload, fin)))

    def to_client(self, opcode: int, payload: bytes = b"", fin: bool = True) -> list:
        return read_all(self.client, b"".join(self.server.send_frame(opcode, payload, fin)))


def test_pair_exchanges_messages_pings_and_a_close_handshake() -> None:
    pair = Pair()
    assert pair.to_server(1, "héllo".encode()) == [(1, True, "héllo".encode(), "héllo", None, "")]
    assert pair.to_client(1, b"echo") == [(1, True, b"echo", "echo", None, "")]
    assert pair.to_client(2, bytes(300)) == [(2, True, bytes(300), None, None, "")]
    # A fragmented message from the client with a ping between the fragments; the server answers the ping.
    assert pair.to_server(1, "a€".encode()[:2], fin=False)[0][3] == "a"
    assert pair.to_server(9, b"are you there")[0][:3] == (9, True, b"are you there")
    assert pair.to_client(10, b"are you there")[0][:3] == (10, True, b"are you there")
    assert pair.to_server(0, "a€".encode()[2:])[0][3] == "€"

    # The client closes; the server answers; both end CLOSED.
    assert pair.client.state is pair.server.state is State.OPEN
    got = read_all(pair.server, pair.client.send_close(1000, "bye"))
    assert got == [(8, True, b"\x03\xe8bye", None, 1000, "bye")]
    assert pair.client.close_sent == (1000, "bye") and pair.client.state is State.CLOSING
    assert pair.server.close_received == (1000, "bye") and pair.server.state is State.CLOSING
    # The server may still send data before it answers the close (RFC 6455 5.5.1); the client reads it.
    assert pair.to_client(1, b"last words")[0][3] == "last words"
    got = read_all(pair.client, pair.server.send_close(1000, "bye"))
    assert got == [(8, True, b"\x03\xe8bye", None, 1000, "bye")]
    assert pair.client.state is pair.server.state is State.CLOSED
    assert pair.client.close_received == (1000, "bye") and pair.server.close_sent == (1000, "bye")


def test_close_without_code() -> None:
    pair = Pair()
    got = read_all(pair.server, pair.client.send_close(None))
    assert got[0][4:] == (1005, "")
    assert pair.client.close_sent == (None, "")


def test_send_frame_after_close_sent() -> None:
    pair = Pair()
    pair.server.send_close(1001, "going away")
    for opcode in (1, 2, 0, 9, 10, 8):
        with pytest.raises(InvalidState, match="close frame was already sent"):
            pair.server.send_frame(opcode)
    pair.client.send_frame(1)  # the other side is unaffected until it reads the close


def test_close_reason_too_long_is_refused_locally() -> None:
    with pytest.raises(ValueError, match="123"):
        Connection(Side.SERVER).send_close(1000, "x" * 124)


def test_server_frames_are_unmasked_and_client_frames_masked() -> None:
    pair = Pair()
    assert b"".join(pair.server.send_frame(1, b"hi")) == b"\x81\x02hi"
    raw = b"".join(pair.client.send_frame(1, b"hi"))
    assert raw[1] & 0x80 and raw[2:6] == bytes([0, 1, 2, 3])


@pytest.mark.parametrize("borrow", [False, True], ids=["copy", "borrow"])
def test_invalid_utf8_in_a_small_chunk_of_one_frame_fails_fast(borrow: bool) -> None:
    """Autobahn 6.4.3: one frame sent in three chunks; the middle one is invalid; fail before the third."""
    good, bad, rest = "κόσμε".encode(), b"\xf4\x90\x80\x80", b"edited"
    frame = cf(1, good + bad + rest)
    header = len(frame) - len(good + bad + rest)
    conn = Connection(Side.SERVER, borrow=borrow)
    assert read_all(conn, frame[: header + len(good)]) == []
    assert failure(conn, frame[header + len(good) : header + len(good) + len(bad)]).code == 1007


def test_send_frame_with_a_reserved_opcode_after_close() -> None:
    """A client may send malformed frames on purpose (send_raw); send_frame after close must still answer InvalidState."""
    conn = Connection(Side.CLIENT)
    conn.send_close()
    with pytest.raises(InvalidState):
        conn.send_frame(3)


def test_error_messages_say_what_was_wrong() -> None:
    assert "not masked" in str(failure(Connection(Side.SERVER), encode_frame(1, b"hi")))
    assert "server frame is masked" in str(failure(Connection(Side.CLIENT), cf(1, b"hi")))
    assert "126 bytes; limit is 125" in str(failure(Connection(Side.SERVER), cf(9, bytes(126))))
    assert "close code 1005" in str(failure(Connection(Side.SERVER), cf(8, close_payload(1005))))


@pytest.mark.parametrize("kind", [bytes, bytearray, memoryview])
def test_send_frame_takes_any_bytes_like_payload(kind) -> None:
    data = kind(b"payload")
    assert b"".join(Connection(Side.SERVER).send_frame(2, data)) == b"\x82\x07payload"
    assert encode_frame(2, data) == b"\x82\x07payload"
    client = Connection(Side.CLIENT, mask_source=lambda: KEY)
    assert b"".join(client.send_frame(2, data)) == encode_frame(2, b"payload", mask_key=KEY)
    assert read_all(Connection(Side.SERVER), b"".join(client.send_frame(2, data)))[0][2] == b"payload"


# -- the close record: one answer to "how did it end?", for every layer above -----------------------------


def test_the_close_record_names_the_side_that_started_the_close() -> None:
    pair = Pair()
    assert pair.client.close_record is None and pair.server.close_record is None
    read_all(pair.server, pair.client.send_close(4000, "bye"))
    assert pair.client.close_record == CloseRecord(4000, "bye", "client")
    assert pair.server.close_record == CloseRecord(4000, "bye", "client")
    read_all(pair.client, pair.server.send_close(4000, "bye"))  # the answer does not change who started it
    assert pair.client.close_record.by == pair.server.close_record.by == "client"
    assert pair.client.clean and pair.server.clean


def test_a_close_without_code_is_recorded_as_1005() -> None:
    pair = Pair()
    read_all(pair.client, pair.server.send_close(None))
    assert pair.server.close_record == pair.client.close_record == CloseRecord(1005, "", "server")


def test_failing_sends_the_code_once_and_records_it() -> None:
    conn = Connection(Side.SERVER)
    error = ProtocolError("é" * 100, 1007)  # 200 bytes of UTF-8: the reason must be cut on a character
    data = conn.fail(error)
    assert data is not None and data[0] == 0x88 and data[1] <= 125
    code, reason = parse_close_payload(data[2:])
    assert code == 1007 and reason == "é" * 61  # 122 bytes: the 62nd character would not fit in 123
    assert conn.close_record == CloseRecord(1007, reason, "server") and conn.state is State.CLOSED
    assert conn.fail(ProtocolError("again", 1002)) is None  # the close frame went already
    with pytest.raises(InvalidState, match="failed"):
        conn.send_frame(1, b"x")


def test_failing_after_our_close_records_the_failure() -> None:
    conn = Connection(Side.SERVER)
    conn.send_close(1000)
    assert conn.fail(ProtocolError("reserved bits", 1002)) is None
    assert conn.close_record == CloseRecord(1002, "reserved bits", "server")


def test_a_dropped_connection_is_1006_by_the_peer_and_an_abort_is_ours() -> None:
    server = Connection(Side.SERVER)
    server.connection_lost()
    assert server.close_record == CloseRecord(1006, "", "client")
    client = Connection(Side.CLIENT)
    client.abort(1011, "keepalive ping timeout")
    client.connection_lost()  # the first word stays
    assert client.close_record == CloseRecord(1011, "keepalive ping timeout", "client")


def test_send_raw_breaks_any_rule_it_is_asked_to() -> None:
    client = Connection(Side.CLIENT, mask_source=lambda: KEY)
    head, body = client.send_raw(0x3, b"hi", fin=False, rsv=7)
    assert head == bytes([0x73, 0x82]) + KEY and body == bytes(b ^ KEY[i] for i, b in enumerate(b"hi"))
    head, body = client.send_raw(0x1, b"hi", masked=False, length=1000)
    assert head == b"\x81\x7e\x03\xe8" and body == b"hi"  # a lying 16-bit length, unmasked
    pinned = b"\x01\x02\x03\x04"
    head, _ = Connection(Side.SERVER).send_raw(0x2, b"", masked=True, mask_key=pinned)
    assert head == b"\x82\x80" + pinned  # a server can mask too, when asked


def test_a_raw_close_counts_as_sent_and_leaves_the_record_to_the_peer() -> None:
    pair = Pair()
    head, body = pair.client.send_raw(0x8, struct.pack("!H", 1005))  # a code no one may send
    assert pair.client.close_sent == (1005, "") and pair.client.close_record is None
    error = failure(pair.server, head + body)
    assert error.code == 1002
    answer = pair.server.fail(error)
    assert answer is not None
    got = read_all(pair.client, answer)
    assert got[0][4] == 1002  # the peer's verdict on the frame is how it ended, for the client too
    assert pair.client.close_record == CloseRecord(1002, str(error), "server") and pair.client.clean
