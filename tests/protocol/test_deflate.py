"""permessage-deflate, Sans-I/O: the negotiation tables of RFC 7692 7.1, and messages checked against
websockets' own PerMessageDeflate (an independent implementation) in both directions."""

from __future__ import annotations

import itertools
import os
import zlib

import pytest
from websockets.extensions.permessage_deflate import PerMessageDeflate
from websockets.frames import Frame, Opcode
from websockets.streams import StreamReader

from wsplay.errors import HandshakeError, ProtocolError
from wsplay.protocol.connection import Connection, Side
from wsplay.protocol.deflate import Compression, Negotiated, client_accept, client_offer, server_negotiate
from wsplay.protocol.parser import parse_header

BROWSER = "permessage-deflate; client_max_window_bits"  # what Chromium and Firefox send

# -- a server answering offers --------------------------------------------------------------------------

SERVER_CASES = [
    # (offer, server settings, expected answer header or None)
    (BROWSER, Compression(), "permessage-deflate"),
    (BROWSER, Compression(client_max_window_bits=10), "permessage-deflate; client_max_window_bits=10"),
    ("permessage-deflate", Compression(client_max_window_bits=10), "permessage-deflate"),  # never unasked
    ("permessage-deflate; client_max_window_bits=12", Compression(), "permessage-deflate; client_max_window_bits=12"),
    ("permessage-deflate; client_max_window_bits=12", Compression(client_max_window_bits=10), "permessage-deflate; client_max_window_bits=10"),
    ("permessage-deflate; client_max_window_bits=9", Compression(client_max_window_bits=10), "permessage-deflate; client_max_window_bits=9"),
    ("permessage-deflate; server_no_context_takeover", Compression(), "permessage-deflate; server_no_context_takeover"),
    ("permessage-deflate; client_no_context_takeover", Compression(), "permessage-deflate; client_no_context_takeover"),
    ("permessage-deflate", Compression(server_no_context_takeover=True, client_no_context_takeover=True),
     "permessage-deflate; server_no_context_takeover; client_no_context_takeover"),
    ("permessage-deflate; server_max_window_bits=10", Compression(), "permessage-deflate; server_max_window_bits=10"),
    ("permessage-deflate; server_max_window_bits=12", Compression(server_max_window_bits=9), "permessage-deflate; server_max_window_bits=9"),
    ("permessage-deflate", Compression(server_max_window_bits=11), "permessage-deflate; server_max_window_bits=11"),
    ("permessage-deflate; server_max_window_bits=8", Compression(), "permessage-deflate; server_max_window_bits=8"),
    # the first acceptable offer of several; bad ones declined, the handshake goes on
    ("permessage-deflate; x-unknown, permessage-deflate; client_max_window_bits", Compression(), "permessage-deflate"),
    ("permessage-deflate; server_max_window_bits=10, permessage-deflate", Compression(), "permessage-deflate; server_max_window_bits=10"),
    ("x-webkit-deflate-frame, permessage-deflate", Compression(), "permessage-deflate"),
    ("permessage-deflate; server_no_context_takeover; server_no_context_takeover", Compression(), None),
    ("permessage-deflate; server_max_window_bits", Compression(), None),
    ("permessage-deflate; server_max_window_bits=7", Compression(), None),
    ("permessage-deflate; server_max_window_bits=16", Compression(), None),
    ("permessage-deflate; server_max_window_bits=08", Compression(), None),
    ("permessage-deflate; client_max_window_bits=abc", Compression(), None),
    ("permessage-deflate; client_no_context_takeover=1", Compression(), None),
    ("permessage-deflate; x-unknown=1", Compression(), None),
    ("x-webkit-deflate-frame", Compression(), None),
    ("permessage-deflate;;", Compression(), None),  # malformed
    (BROWSER, None, None),  # compression off
]


@pytest.mark.parametrize(("offer", "config", "answer"), SERVER_CASES, ids=[f"{i}:{c[0][:40]}" for i, c in enumerate(SERVER_CASES)])
def test_server_answers_offers(offer: str, config: Compression | None, answer: str | None) -> None:
    negotiated, declined = server_negotiate([offer], config)
    assert (negotiated.header() if negotiated else None) == answer
    if answer is None and config is not None and "permessage-deflate" in offer:
        assert declined, "a declined offer says why"


def test_offers_may_come_in_several_headers() -> None:
    negotiated, declined = server_negotiate(["permessage-deflate; bogus", "permessage-deflate; client_no_context_takeover"], Compression())
    assert negotiated == Negotiated(client_no_context_takeover=True) and declined == ["permessage-deflate offer declined: unknown parameter bogus"]


# -- a client checking answers ------------------------------------------------------------------------------

CLIENT_CASES = [
    # (client settings, answer, accepted parameters, or the error's words)
    (Compression(), "permessage-deflate", Negotiated()),
    (Compression(), "permessage-deflate; client_max_window_bits=10", Negotiated(client_max_window_bits=10)),
    (Compression(), "permessage-deflate; server_max_window_bits=12", Negotiated(server_max_window_bits=12)),
    (Compression(), "permessage-deflate; server_no_context_takeover; client_no_context_takeover", Negotiated(True, True)),
    (Compression(client_max_window_bits=10), "permessage-deflate", Negotiated(client_max_window_bits=10)),
    (Compression(client_max_window_bits=10), "permessage-deflate; client_max_window_bits=9", Negotiated(client_max_window_bits=9)),
    (Compression(client_max_window_bits=10), "permessage-deflate; client_max_window_bits=11", "larger than"),
    (Compression(server_max_window_bits=10), "permessage-deflate; server_max_window_bits=10", Negotiated(server_max_window_bits=10)),
    (Compression(server_max_window_bits=10), "permessage-deflate", "server_max_window_bits=10 was asked for"),
    (Compression(server_max_window_bits=10), "permessage-deflate; server_max_window_bits=11", "server_max_window_bits=10 was asked for"),
    (Compression(server_no_context_takeover=True), "permessage-deflate", "not granted"),
    (Compression(), "permessage-deflate; x-bogus", "unknown parameter"),
    (Compression(), "permessage-deflate; client_max_window_bits", "needs a value"),
    (Compression(), "permessage-deflate; server_max_window_bits=16", "8 to 15"),
    (Compression(), "permessage-deflate; client_no_context_takeover; client_no_context_takeover", "twice"),
    (Compression(), "x-webkit-deflate-frame", "did not offer"),
    (Compression(), "permessage-deflate, permessage-deflate", "offered once"),
    (None, "permessage-deflate", "did not offer"),
]


@pytest.mark.parametrize(("config", "answer", "expected"), CLIENT_CASES, ids=[f"{i}:{c[1][:40]}" for i, c in enumerate(CLIENT_CASES)])
def test_client_checks_answers(config: Compression | None, answer: str, expected: Negotiated | str) -> None:
    if isinstance(expected, str):
        with pytest.raises(HandshakeError, match=expected) as info:
            client_accept([answer], config)
        assert info.value.status == 101
    else:
        assert client_accept([answer], config) == expected


def test_the_client_offers_what_browsers_offer() -> None:
    assert client_offer(Compression()) == BROWSER
    assert client_offer(Compression(server_no_context_takeover=True, client_max_window_bits=12)) == (
        "permessage-deflate; server_no_context_takeover; client_max_window_bits=12"
    )
    assert client_accept([], Compression()) is None  # a server without the extension: no compression


def test_every_offer_our_client_can_make_is_accepted_by_our_server() -> None:
    bits = [None, 8, 12, 15]
    for sn, cn, sb, cb in itertools.product([False, True], [False, True], bits, bits):
        offer = Compression(sn, cn, sb, cb)
        negotiated, declined = server_negotiate([client_offer(offer)], Compression())
        assert negotiated is not None and not declined, offer
        assert client_accept([negotiated.header()], offer) == negotiated


# -- messages, against websockets' own PerMessageDeflate ----------------------------------------------------

KEY = bytes.fromhex("0badcafe")
PARAMS = [Negotiated(sn, cn, sb, cb) for sn, cn in itertools.product([False, True], repeat=2) for sb, cb in [(None, None), (9, 10), (8, 8), (15, 12)]]
MESSAGES = [b"", b"a", "héllo wörld ".encode() * 50, os.urandom(3000), b'{"n": 1, "text": "hi"}' * 400, bytes(70_000)]


def theirs(params: Negotiated, server: bool) -> PerMessageDeflate:
    """websockets' extension for the side opposite ours (8-bit windows: zlib's limit, see deflate.py)."""
    own_bits = (params.server_max_window_bits if server else params.client_max_window_bits) or 15
    peer_bits = (params.client_max_window_bits if server else params.server_max_window_bits) or 15
    own_reset = params.server_no_context_takeover if server else params.client_no_context_takeover
    peer_reset = params.client_no_context_takeover if server else params.server_no_context_takeover
    return PerMessageDeflate(peer_reset, own_reset, peer_bits, max(own_bits, 9))


def parse(data: bytes, mask: bool, ext: PerMessageDeflate) -> list[Frame]:
    reader = StreamReader()
    reader.feed_data(data)
    reader.feed_eof()
    frames = []
    while reader.buffer:
        parser = Frame.parse(reader.read_exact, mask=mask, extensions=[ext])
        try:
            next(parser)
        except StopIteration as exc:
            frames.append(exc.value)
    return frames


@pytest.mark.parametrize("params", PARAMS, ids=[p.header().replace("permessage-deflate", "pmd") for p in PARAMS])
def test_our_server_messages_inflate_with_websockets_and_theirs_with_ours(params: Negotiated) -> None:
    server = Connection(Side.SERVER)
    server.use_deflate(params)
    their_client = theirs(params, server=False)
    # ours -> theirs, twice over so context takeover (or its absence) is exercised
    for message in MESSAGES * 2:
        wire = b"".join(server.send_frame(2, message))
        assert wire[0] & 0x40  # RSV1: compressed
        (frame,) = parse(wire, mask=False, ext=their_client)
        assert frame.data == message
    # theirs -> ours, whole and in fragments
    for message in MESSAGES * 2:
        wire = Frame(Opcode.BINARY, message).serialize(mask=True, extensions=[their_client])
        server.receive_data(wire)
        incoming = server.next_frame()
        assert bytes(incoming.payload) == message and incoming.wire is not None
    text = "€ and 𝄞 " * 300
    pieces = [text.encode()[i : i + 1000] for i in range(0, len(text.encode()), 1000)]
    frames = [Frame(Opcode.TEXT if i == 0 else Opcode.CONT, p, fin=i == len(pieces) - 1) for i, p in enumerate(pieces)]
    wire = b"".join(f.serialize(mask=True, extensions=[their_client]) for f in frames)
    server.receive_data(wire)
    got = [server.next_frame() for _ in frames]
    assert "".join(i.text for i in got) == text and b"".join(bytes(i.payload) for i in got) == text.encode()


@pytest.mark.parametrize("params", PARAMS[:4], ids=[p.header().replace("permessage-deflate", "pmd") for p in PARAMS[:4]])
def test_our_client_fragments_a_compressed_message_websockets_can_read(params: Negotiated) -> None:
    client = Connection(Side.CLIENT, mask_source=lambda: KEY)
    client.use_deflate(params)
    their_server = theirs(params, server=True)
    message = b"fragmented and compressed " * 200
    cuts = [message[:100], message[100:2000], b"", message[2000:]]
    wire = b"".join(b"".join(client.send_frame(1 if i == 0 else 0, c, fin=i == len(cuts) - 1)) for i, c in enumerate(cuts))
    frames = parse(wire, mask=True, ext=their_server)
    assert b"".join(f.data for f in frames) == message
    first_bytes, pos = [], 0
    while pos < len(wire):  # RSV1 as it is on the wire (websockets clears it once it has inflated)
        b0, length, _, start = parse_header(wire, pos, len(wire))
        first_bytes.append(b0)
        pos = start + length
    assert [bool(b0 & 0x40) for b0 in first_bytes] == [True, False, False, False]  # on the first frame only


def test_an_8_bit_window_is_honoured_with_literals_only() -> None:
    server = Connection(Side.SERVER)
    server.use_deflate(Negotiated(server_max_window_bits=8))
    message = b"abcdefgh" * 1000  # a window of any size finds matches here; ours may use none
    head, body = server.send_frame(2, message)
    inflater = zlib.decompressobj(-8)  # an 8-bit window is all the client keeps
    assert inflater.decompress(bytes(body) + b"\x00\x00\xff\xff") == message


# -- the receive path: strict and bounded ---------------------------------------------------------------


def compressed(message: bytes, fin: bool = True) -> bytes:
    c = zlib.compressobj(6, zlib.DEFLATED, -15)
    out = c.compress(message) + c.flush(zlib.Z_SYNC_FLUSH)
    return out[:-4] if fin else out


def client_frame(opcode: int, payload: bytes, fin: bool = True, rsv: int = 0) -> bytes:
    return b"".join(Connection(Side.CLIENT, mask_source=lambda: KEY).send_raw(opcode, payload, fin=fin, rsv=rsv))


def server_with_deflate(**limits: int) -> Connection:
    conn = Connection(Side.SERVER, **limits)
    conn.use_deflate(Negotiated())
    return conn


def fails(conn: Connection, data: bytes) -> ProtocolError:
    conn.receive_data(data)
    with pytest.raises(ProtocolError) as info:
        while conn.next_frame() is not None:
            pass
    return info.value


@pytest.mark.parametrize(
    ("case", "data", "code", "words"),
    [
        ("RSV1 on a continuation frame", client_frame(1, compressed(b"ab", False), fin=False, rsv=4) + client_frame(0, compressed(b"c"), rsv=4), 1002, "continuation"),
        ("RSV1 on a ping", client_frame(9, b"p", rsv=4), 1002, "control"),
        ("RSV2 with deflate", client_frame(1, b"x", rsv=2), 1002, "RSV2 and RSV3"),
        ("RSV3 with deflate", client_frame(1, b"x", rsv=1), 1002, "RSV2 and RSV3"),
        ("data that does not inflate", client_frame(2, b"\xff\xff\xff\xff", rsv=4), 1007, "does not inflate"),
        ("text that inflates to bad UTF-8", client_frame(1, compressed(b"ok \xc3\x28 then more"), rsv=4), 1007, "UTF-8"),
    ],
)
def test_bad_compressed_input_fails_with_the_right_code(case: str, data: bytes, code: int, words: str) -> None:
    error = fails(server_with_deflate(), data)
    assert error.code == code and words in str(error), error


def test_rsv1_without_the_extension_is_1002() -> None:
    error = fails(Connection(Side.SERVER), client_frame(1, compressed(b"hi"), rsv=4))
    assert error.code == 1002 and "no extension was negotiated" in str(error)


def test_invalid_utf8_is_found_as_it_inflates_not_at_the_end() -> None:
    conn = server_with_deflate()
    payload = compressed(b"\xff" + b"a" * 5_000_000)  # a bad first byte, then 5 MB that need not be inflated
    seen = []
    real = conn.deflate.inflate

    def watch(data, fin, limit, on_piece=None):
        def piece(p):
            seen.append(len(p))
            on_piece(p)

        return real(data, fin, limit, piece)

    conn.deflate.inflate = watch
    error = fails(conn, client_frame(1, payload, rsv=4))
    assert error.code == 1007 and seen == [64 * 1024]  # stopped at the first piece


def test_a_bomb_is_stopped_at_the_limit_without_inflating_it() -> None:
    limit = 1_000_000
    bomb = compressed(bytes(1_000_000_000))  # a gigabyte of zeros in about a megabyte... of input
    assert len(bomb) < 1_100_000
    conn = server_with_deflate(max_message_size=limit)
    error = fails(conn, client_frame(2, bomb[:100_000], fin=False, rsv=4))  # the first 100 KB suffice
    assert error.code == 1009 and "limit" in str(error)


def test_the_limit_counts_inflated_bytes_across_fragments() -> None:
    message = b"x" * 3000
    c = zlib.compressobj(6, zlib.DEFLATED, -15)
    first = c.compress(message[:1500]) + c.flush(zlib.Z_SYNC_FLUSH)
    rest = (c.compress(message[1500:]) + c.flush(zlib.Z_SYNC_FLUSH))[:-4]
    ok = server_with_deflate(max_message_size=3000)
    ok.receive_data(client_frame(2, first, fin=False, rsv=4) + client_frame(0, rest))
    assert [len(ok.next_frame().payload) for _ in range(2)] == [1500, 1500]
    error = fails(server_with_deflate(max_message_size=2999), client_frame(2, first, fin=False, rsv=4) + client_frame(0, rest))
    assert error.code == 1009


def test_borrowing_inflates_from_the_receive_buffer_and_hands_out_owned_bytes() -> None:
    conn = Connection(Side.SERVER, borrow=True)
    conn.use_deflate(Negotiated())
    conn.receive_data(client_frame(1, compressed("borrowed".encode()), rsv=4))
    incoming = conn.next_frame()
    assert type(incoming.payload) is bytes and incoming.text == "borrowed"
    assert type(incoming.wire) is memoryview  # the compressed bytes were unmasked where they lay


@pytest.mark.parametrize("size", [600_000, 1_000_000])
def test_a_large_message_within_the_limit_still_inflates_whole(size: int) -> None:
    """Past half the limit the rest of a frame is measured before it is kept; what fits is delivered whole."""
    message = os.urandom(100) * (size // 100)
    conn = server_with_deflate(max_message_size=1_000_000)
    conn.receive_data(client_frame(2, compressed(message), rsv=4))
    assert conn.next_frame().payload == message
    c = zlib.compressobj(6, zlib.DEFLATED, -15)
    first = c.compress(message[:400_000]) + c.flush(zlib.Z_SYNC_FLUSH)
    rest = (c.compress(message[400_000:]) + c.flush(zlib.Z_SYNC_FLUSH))[:-4]
    conn.receive_data(client_frame(2, first, fin=False, rsv=4) + client_frame(0, rest))
    assert b"".join(bytes(conn.next_frame().payload) for _ in range(2)) == message
