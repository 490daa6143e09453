"""DESIGN's "RFC 6455 strictness" table, row by row, over real sockets with hand-made bytes.

Each row checks the exact answer (close code read off the wire, or HTTP status line and headers),
that the server then ends the TCP connection, and that a healthy connection opened alongside still
echoes afterwards while the host keeps running.
"""

from __future__ import annotations

import contextlib
import threading
import time

import pytest
from websockets.sync.client import connect

from wsplay.examples import build_example

from testenv import echo_endpoint


@contextlib.contextmanager
def alongside(host, wire):
    """A websockets client connected before the bad input and checked after it."""
    unit = wire.UNIT
    with connect(host.url, open_timeout=2 * unit, close_timeout=2 * unit) as ws:
        ws.send("before")
        assert ws.recv(timeout=2 * unit) == "before"
        yield ws
        ws.send("still here")
        assert ws.recv(timeout=2 * unit) == "still here"
        ws.send(b"\x00\x01binary")
        assert ws.recv(timeout=2 * unit) == b"\x00\x01binary"
    assert host.running and host.bound_port
    with connect(host.url, open_timeout=2 * unit, close_timeout=2 * unit) as fresh:
        fresh.send("new connection")
        assert fresh.recv(timeout=2 * unit) == "new connection"


def wait_connections(host, n, unit):
    """The bad connection is forgotten once its TCP connection is gone."""
    deadline = time.monotonic() + 3 * unit
    while len(host.connections) > n and time.monotonic() < deadline:
        time.sleep(0.01)
    assert len(host.connections) == n, host.connections


# -- frames: (id, bytes to send after the handshake, expected close code) ------------------------------

BAD_CODES = [0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000]

FRAME_ROWS = [
    ("unmasked", lambda w: w.mask_frame(1, b"hello", masked=False), 1002),
    ("rsv1", lambda w: w.mask_frame(1, b"hello", rsv=4), 1002),
    ("rsv2", lambda w: w.mask_frame(1, b"hello", rsv=2), 1002),
    ("rsv3", lambda w: w.mask_frame(1, b"hello", rsv=1), 1002),
    ("rsv1-on-ping", lambda w: w.mask_frame(9, b"p", rsv=4), 1002),
    *[(f"opcode-{op}", lambda w, op=op: w.mask_frame(op, b"x"), 1002) for op in [3, 4, 5, 6, 7, 11, 12, 13, 14, 15]],
    ("ping-fin0", lambda w: w.mask_frame(9, b"p", fin=False), 1002),
    ("close-fin0", lambda w: w.mask_frame(8, w.close_payload(1000), fin=False), 1002),
    ("ping-126", lambda w: w.mask_frame(9, b"p" * 126), 1002),
    ("continuation-no-message", lambda w: w.mask_frame(0, b"x"), 1002),
    ("continuation-after-complete", lambda w: w.mask_frame(1, b"done") + w.mask_frame(0, b"b"), 1002, [b"done"]),
    ("text-while-open", lambda w: w.mask_frame(1, b"a", fin=False) + w.mask_frame(1, b"b"), 1002),
    ("binary-while-open", lambda w: w.mask_frame(2, b"a", fin=False) + w.mask_frame(2, b"b"), 1002),
    ("close-1-byte", lambda w: w.mask_frame(8, b"\x03"), 1002),
    *[(f"close-code-{c}", lambda w, c=c: w.mask_frame(8, w.close_payload(c)), 1002) for c in BAD_CODES],
    ("utf8-bad-byte", lambda w: w.mask_frame(1, b"ab\xffcd"), 1007),
    ("utf8-overlong", lambda w: w.mask_frame(1, b"\xc0\xaf"), 1007),
    ("utf8-surrogate", lambda w: w.mask_frame(1, b"\xed\xa0\x80"), 1007),
    ("utf8-truncated-at-end", lambda w: w.mask_frame(1, b"ok\xe2\x82"), 1007),
    (
        "utf8-split-across-fragments",
        lambda w: w.mask_frame(1, b"ok\xe2\x82", fin=False) + w.mask_frame(0, b"\x28 rest"),
        1007,
    ),
    (
        "utf8-truncated-across-fragments",
        lambda w: w.mask_frame(1, b"ok\xe2", fin=False) + w.mask_frame(0, b"\x82"),
        1007,
    ),
    ("utf8-close-reason", lambda w: w.mask_frame(8, w.close_payload(1000, b"bye \xff")), 1007),
    ("too-big-frame", lambda w: w.mask_frame(2, b"x" * 2000), 1009),
    ("too-big-text", lambda w: w.mask_frame(1, b"x" * 1025), 1009),
    (
        "too-big-fragmented",
        lambda w: w.mask_frame(2, b"x" * 600, fin=False) + w.mask_frame(0, b"y" * 600),
        1009,
    ),
]


@pytest.mark.parametrize(
    "make, code, echoed", [(*r[1:3], r[3] if len(r) > 3 else []) for r in FRAME_ROWS], ids=[r[0] for r in FRAME_ROWS]
)
def test_bad_frame_is_answered_with_its_close_code(limited_host, raw_client, wire, make, code, echoed):
    host = limited_host
    with alongside(host, wire):
        raw = raw_client(host.bound_port)
        raw.handshake()
        raw.send(make(wire))
        got, reason = raw.read_close(data=echoed)  # fails on any other data frame before the close
        assert got == code, reason
        assert raw.read_until_eof(3 * wire.UNIT) == b""
        raw.close()
        wait_connections(host, 1, wire.UNIT)


def test_declared_huge_length_is_refused_at_once(limited_host, raw_client, wire):
    """A header declaring 2**40 bytes, with no payload behind it: 1009 without waiting for (or allocating) it."""
    host = limited_host
    with alongside(host, wire):
        raw = raw_client(host.bound_port)
        raw.handshake()
        raw.send(wire.mask_frame(2, b"", length_override=2**40))
        start = time.monotonic()
        assert raw.read_close(2 * wire.UNIT)[0] == 1009
        assert time.monotonic() - start < wire.UNIT
        assert raw.read_until_eof() == b""


def test_invalid_utf8_fails_fast_before_the_message_ends(echo_host, raw_client, wire):
    """The first fragment carries the bad byte; the rest is never sent, yet 1007 arrives."""
    host = echo_host
    with alongside(host, wire):
        raw = raw_client(host.bound_port)
        raw.handshake()
        raw.send(wire.mask_frame(1, "héllo".encode() + b"\xff", fin=False))
        assert raw.read_close(2 * wire.UNIT)[0] == 1007
        assert raw.read_until_eof() == b""


def test_invalid_utf8_fails_fast_inside_one_frame(echo_host, raw_client, wire):
    """A frame declares 1000 bytes; the first 100 (with a bad byte) are enough for 1007."""
    host = echo_host
    with alongside(host, wire):
        raw = raw_client(host.bound_port)
        raw.handshake()
        head = wire.mask_frame(1, b"a" * 90 + b"\xff" + b"b" * 9, length_override=1000)
        raw.send(head)
        assert raw.read_close(2 * wire.UNIT)[0] == 1007
        assert raw.read_until_eof() == b""


@pytest.mark.parametrize("code", [1000, 1001, 1003, 1011, 3000, 4999])
def test_valid_close_is_echoed_with_its_code(echo_host, raw_client, wire, code):
    host = echo_host
    with alongside(host, wire):
        raw = raw_client(host.bound_port)
        raw.handshake()
        raw.send(wire.mask_frame(8, wire.close_payload(code, "bye")))
        frame = raw.read_frame()
        assert frame.opcode == 8 and not frame.masked
        assert frame.close[0] == code
        assert raw.read_until_eof() == b""


def test_empty_close_is_answered_with_an_empty_close(echo_host, raw_client, wire):
    host = echo_host
    with alongside(host, wire):
        raw = raw_client(host.bound_port)
        raw.handshake()
        raw.send(wire.mask_frame(8, b""))
        assert raw.read_close() == (None, "")
        assert raw.read_until_eof() == b""


def test_data_frames_after_a_close_frame_are_ignored(echo_host, raw_client, wire):
    host = echo_host
    with alongside(host, wire):
        raw = raw_client(host.bound_port)
        raw.handshake()
        raw.send(wire.mask_frame(1, b"first"))
        first = raw.read_frame()
        assert (first.opcode, first.payload) == (1, b"first")
        # The close and the frames behind it arrive together; only the close may be answered.
        raw.send(
            wire.mask_frame(8, wire.close_payload(1000))
            + wire.mask_frame(1, b"after close")
            + wire.mask_frame(2, b"binary after close")
            + wire.mask_frame(9, b"ping after close")
        )
        frame = raw.read_frame()
        assert frame.opcode == 8 and frame.close[0] == 1000
        assert raw.read_until_eof() == b""


def test_close_received_after_server_close_ends_tcp(echo_host, raw_client, wire):
    """When the server starts the close (here: stop), the client's answering close ends TCP at once."""
    host = echo_host
    raw = raw_client(host.bound_port)
    raw.handshake()
    stopper = threading.Thread(target=host.stop)
    stopper.start()
    try:
        frame = raw.read_frame()
        assert frame.opcode == 8 and frame.close[0] == 1001
        raw.send(wire.mask_frame(1, b"ignored") + wire.mask_frame(8, wire.close_payload(1001)))
        start = time.monotonic()
        assert raw.read_until_eof(wire.UNIT) == b""  # well before the 2-unit close timeout
        assert time.monotonic() - start < wire.UNIT
    finally:
        stopper.join(5 * wire.UNIT)
    assert not host.running


# -- handshake rows -----------------------------------------------------------------------------------


def http_row(raw, request):
    raw.send(request)
    answer = raw.read_http()
    rest = raw.read_until_eof()
    return answer, rest


@pytest.mark.parametrize(
    "kwargs, statuses",
    [
        (dict(method="POST"), {405}),
        (dict(version="HTTP/1.0"), {400, 505}),
        (dict(host=False), {400}),
        (dict(key=None), {400}),
        (dict(key="not a key"), {400}),
        (dict(key="AAAA"), {400}),  # base64, but of 3 bytes instead of 16
        (dict(key=["dGhlIHNhbXBsZSBub25jZQ==", "dGhlIHNhbXBsZSBub25jZQ=="]), {400}),
        (dict(ws_version="8"), {426}),
        (dict(ws_version="14"), {426}),
    ],
    ids=["post", "http10", "no-host", "no-key", "invalid-key", "short-key", "duplicate-key", "version-8", "version-14"],
)
def test_bad_handshake_gets_an_http_error(echo_host, raw_client, wire, kwargs, statuses):
    host = echo_host
    with alongside(host, wire):
        raw = raw_client(host.bound_port)
        answer, rest = http_row(raw, wire.upgrade_request(host.bound_port, **kwargs))
        assert answer.status in statuses, answer
        assert answer.status_line.startswith(f"HTTP/1.1 {answer.status} ")
        if answer.status == 405:
            assert answer.header("Allow") == "GET"
        if answer.status == 426:
            assert answer.header("Sec-WebSocket-Version") == "13"
        assert answer.header("Sec-WebSocket-Accept") is None
        assert rest == b""  # and nothing after the answer: the connection was closed
        wait_connections(host, 1, wire.UNIT)


def test_plain_get_without_upgrade_gets_426(echo_host, raw_client, wire):
    host = echo_host
    with alongside(host, wire):
        raw = raw_client(host.bound_port)
        answer, rest = http_row(raw, wire.upgrade_request(host.bound_port, upgrade=False, key=None))
        assert answer.status == 426, answer
        assert rest == b""


def test_plain_get_gets_the_client_page_in_development(hosts, raw_client, wire):
    host = hosts(build_example("echo", "functional"), development=True)
    with alongside(host, wire):
        raw = raw_client(host.bound_port)
        answer, rest = http_row(raw, wire.upgrade_request(host.bound_port, upgrade=False, key=None))
        assert answer.status == 200, answer
        assert answer.header("Content-Type").startswith("text/html")
        assert b"<html" in answer.body.lower() and b"WebSocket" in answer.body
        assert rest == b""


def test_permessage_deflate_offer_is_declined_by_an_endpoint_without_compression(hosts, raw_client, wire):
    host = hosts(echo_endpoint().compression(None))
    with alongside(host, wire):
        raw = raw_client(host.bound_port)
        request = wire.upgrade_request(
            host.bound_port, extra=[("Sec-WebSocket-Extensions", "permessage-deflate; client_max_window_bits")]
        )
        answer = raw.handshake(request)
        assert answer.status_line.startswith("HTTP/1.1 101 ")
        assert answer.header("Sec-WebSocket-Extensions") is None
        # And the connection works uncompressed (a compressed frame would set RSV1).
        raw.send(wire.mask_frame(1, b"plain text"))
        frame = raw.read_frame()
        assert (frame.opcode, frame.rsv, frame.payload) == (1, 0, b"plain text")
        raw.send(wire.mask_frame(8, wire.close_payload(1000)))
        assert raw.read_close()[0] == 1000
        assert raw.read_until_eof() == b""


def test_accept_header_is_computed_from_the_key(echo_host, raw_client, wire):
    """RFC 6455 4.2.2's example key; the sanity check behind every row above."""
    raw = raw_client(echo_host.bound_port)
    answer = raw.handshake(wire.upgrade_request(echo_host.bound_port, key="dGhlIHNhbXBsZSBub25jZQ=="))
    assert answer.header("Sec-WebSocket-Accept") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
    assert answer.header("Upgrade").lower() == "websocket"
