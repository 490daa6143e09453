"""The opening handshake: reading the request head, accepting it, and the HTTP errors (RFC 6455 4.2)."""

from __future__ import annotations

import pytest

from wsplay.errors import HandshakeError
from wsplay.protocol.handshake import RequestReader, accept, error_response, http_response, is_upgrade, parse_headers

RFC_KEY = "dGhlIHNhbXBsZSBub25jZQ=="  # RFC 6455 1.3's sample nonce ...
RFC_ACCEPT = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="  # ... and the accept value it gives

BASE = [
    ("Host", "server.example.com"),
    ("Upgrade", "websocket"),
    ("Connection", "Upgrade"),
    ("Sec-WebSocket-Key", RFC_KEY),
    ("Origin", "http://example.com"),
    ("Sec-WebSocket-Version", "13"),
]


def head(headers=BASE, request_line: str = "GET /chat HTTP/1.1") -> bytes:
    return (request_line + "\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers) + "\r\n").encode()


def without(name: str) -> list[tuple[str, str]]:
    return [(k, v) for k, v in BASE if k != name]


def replaced(name: str, value: str) -> list[tuple[str, str]]:
    return [(k, value if k == name else v) for k, v in BASE]


def read(data: bytes):
    reader = RequestReader()
    request = reader.feed(data)
    assert request is not None
    return request


def response_headers(raw: bytes) -> tuple[str, dict[str, str]]:
    status, *lines = raw.split(b"\r\n\r\n", 1)[0].decode().split("\r\n")
    return status, {k.lower(): v for k, v in (line.split(": ", 1) for line in lines)}


# -- RequestReader ----------------------------------------------------------------------------------


def test_reader_whole() -> None:
    request = read(head())
    assert request.path == "/chat"
    assert request.headers["Host"] == "server.example.com"
    assert request.headers["Sec-WebSocket-Key"] == RFC_KEY


def test_reader_byte_by_byte() -> None:
    data = head()
    reader = RequestReader()
    for i in range(len(data) - 1):
        assert reader.feed(data[i : i + 1]) is None
    request = reader.feed(data[-1:])
    assert request is not None and request.path == "/chat"
    assert reader.leftover() == b""


@pytest.mark.parametrize("cut", [1, 10, 40])
def test_reader_keeps_leftover_bytes(cut: int) -> None:
    frame = bytes.fromhex("818537fa213d7f9f4d5158")
    data = head() + frame
    reader = RequestReader()
    assert reader.feed(data[:cut]) is None
    assert reader.feed(data[cut:]) is not None
    assert reader.leftover() == frame


@pytest.mark.parametrize("cut", [1, 10, 40, 200])
def test_the_kept_head_parses_to_the_headers_websockets_parsed(cut: int) -> None:
    # A connection keeps the head's bytes and parses request.headers only when a handler reads them:
    # it must read exactly what websockets' parser read (repeated names, stripped values, obs-text).
    extra = b"X-Twice: one\r\nx-twice:  two \t\r\nX-Latin: caf\xe9\r\nX-Empty:\r\n"
    data = head().replace(b"\r\n\r\n", b"\r\n" + extra + b"\r\n") + bytes.fromhex("818537fa213d7f9f4d5158")
    reader = RequestReader()
    request = reader.feed(data[:cut]) or reader.feed(data[cut:])
    assert request is not None
    assert reader.head() == data[: data.index(b"\r\n\r\n") + 4]
    parsed = parse_headers(reader.head())
    assert list(parsed.raw_items()) == list(request.headers.raw_items())
    assert parsed.get_all("X-TWICE") == ["one", "two"] and parsed["X-Latin"] == "café" and parsed["X-Empty"] == ""


GARBAGE = {
    "no spaces": b"hello\r\n\r\n",
    "bad protocol": b"GET / HTTP/2.0\r\nHost: x\r\n\r\n",
    "bad header line": b"GET / HTTP/1.1\r\nno colon here\r\n\r\n",
    "non-ASCII path": "GET /é HTTP/1.1\r\nHost: x\r\n\r\n".encode(),
}


@pytest.mark.parametrize("data", GARBAGE.values(), ids=GARBAGE.keys())
def test_reader_garbage_is_400(data: bytes) -> None:
    with pytest.raises(HandshakeError) as info:
        RequestReader().feed(data)
    assert info.value.status == 400


HUGE = {
    "one huge header line": head([*BASE, ("X-Big", "x" * 9000)]),
    "too many headers": head([*BASE, *[(f"X-{i}", "y") for i in range(200)]]),
    "head over the size limit": head([*BASE, *[(f"X-{i}", "y" * 150) for i in range(120)]]),
}


@pytest.mark.parametrize("data", HUGE.values(), ids=HUGE.keys())
@pytest.mark.parametrize("step", [None, 1000], ids=["whole", "chunked"])
def test_reader_huge_head_is_431(data: bytes, step: int | None) -> None:
    reader = RequestReader()
    with pytest.raises(HandshakeError) as info:
        for i in range(0, len(data), step or len(data)):
            reader.feed(data[i : i + (step or len(data))])
    assert info.value.status == 431


def test_reader_unterminated_head_over_the_limit_is_431() -> None:
    reader = RequestReader(max_size=1000)
    reader.feed(b"GET / HTTP/1.1\r\n")
    with pytest.raises(HandshakeError) as info:
        for _ in range(100):
            reader.feed(b"X-Header: " + b"v" * 50 + b"\r\n")
    assert info.value.status == 431


# -- accept() ---------------------------------------------------------------------------------------


def test_accept_rfc_sample_key() -> None:
    raw, subprotocol, _, _ = accept(read(head()))
    status, headers = response_headers(raw)
    assert status == "HTTP/1.1 101 Switching Protocols"
    assert headers["sec-websocket-accept"] == RFC_ACCEPT
    assert headers["upgrade"].lower() == "websocket"
    assert headers["connection"].lower() == "upgrade"
    assert subprotocol is None
    assert raw.endswith(b"\r\n\r\n")


def test_permessage_deflate_offer_is_declined() -> None:
    offer = [*BASE, ("Sec-WebSocket-Extensions", "permessage-deflate; client_max_window_bits")]
    raw, _, _, _ = accept(read(head(offer)))
    status, headers = response_headers(raw)
    assert status.startswith("HTTP/1.1 101 ")
    assert "sec-websocket-extensions" not in headers


def test_subprotocol_is_negotiated() -> None:
    raw, subprotocol, _, _ = accept(read(head([*BASE, ("Sec-WebSocket-Protocol", "superchat, chat")])), ["chat"])
    assert subprotocol == "chat"
    assert response_headers(raw)[1]["sec-websocket-protocol"] == "chat"


@pytest.mark.parametrize(
    ("offer", "ours"),
    [(None, []), ("superchat, chat", ["chat"]), ("a, b", ["b", "a"]), ("chat", [])],
)
def test_101_is_what_websockets_own_accept_writes(offer: str | None, ours: list[str]) -> None:
    # accept() writes its 101 from a template after websockets' checks: it must say, byte for byte,
    # what websockets' ServerProtocol.accept() would have said (with the same Date).
    from websockets.server import ServerProtocol
    from websockets.typing import Subprotocol

    headers = [*BASE, ("Sec-WebSocket-Protocol", offer)] if offer else BASE
    request = read(head(headers))
    expected = ServerProtocol(subprotocols=[Subprotocol(p) for p in ours] or None).accept(request)
    date = expected.headers["Date"]
    raw, subprotocol, _, _ = accept(request, ours, date)
    assert raw == expected.serialize()
    assert subprotocol == expected.headers.get("Sec-WebSocket-Protocol")


# (id, request head, status, headers the error must carry)
REFUSALS = [
    ("missing Host", head(without("Host")), 400, {}),
    ("duplicate Host", head([*BASE, ("Host", "other.example.com")]), 400, {}),
    ("missing key", head(without("Sec-WebSocket-Key")), 400, {}),
    ("duplicate key", head([*BASE, ("Sec-WebSocket-Key", RFC_KEY)]), 400, {}),
    ("key not base64", head(replaced("Sec-WebSocket-Key", "abc")), 400, {}),
    ("key of 15 bytes", head(replaced("Sec-WebSocket-Key", "AAAAAAAAAAAAAAAAAAAA")), 400, {}),
    ("version 8", head(replaced("Sec-WebSocket-Version", "8")), 426, {"Sec-WebSocket-Version": "13"}),
    ("version 14", head(replaced("Sec-WebSocket-Version", "14")), 426, {"Sec-WebSocket-Version": "13"}),
    ("missing version", head(without("Sec-WebSocket-Version")), 400, {}),
    ("POST", head(request_line="POST /chat HTTP/1.1"), 405, {"Allow": "GET"}),
    ("HTTP/1.0", head(request_line="GET /chat HTTP/1.0"), 505, {}),
    ("no Upgrade header", head(without("Upgrade")), 426, {"Upgrade": "websocket"}),
    ("no Connection header", head(without("Connection")), 426, {"Upgrade": "websocket"}),
    ("Upgrade is not websocket", head(replaced("Upgrade", "h2c")), 426, {"Upgrade": "websocket"}),
]


@pytest.mark.parametrize(("name", "data", "status", "headers"), REFUSALS, ids=[r[0] for r in REFUSALS])
def test_accept_refusals(name: str, data: bytes, status: int, headers: dict[str, str]) -> None:
    with pytest.raises(HandshakeError) as info:
        accept(read(data))
    exc = info.value
    assert exc.status == status
    for key, value in headers.items():
        assert exc.headers[key] == value
    raw = error_response(exc)
    line, got = response_headers(raw)
    assert line.startswith(f"HTTP/1.1 {status} ")
    for key, value in headers.items():
        assert got[key.lower()] == value
    assert got["connection"] == "close"
    body = raw.split(b"\r\n\r\n", 1)[1]
    assert int(got["content-length"]) == len(body)
    assert body.startswith(b"Failed to open a WebSocket connection: ")


def test_error_response_status_lines() -> None:
    assert error_response(HandshakeError("nope", 403)).startswith(b"HTTP/1.1 403 Forbidden\r\n")
    assert error_response(HandshakeError("bad", 400)).startswith(b"HTTP/1.1 400 Bad Request\r\n")
    raw = error_response(HandshakeError("old", 426, {"Sec-WebSocket-Version": "13"}))
    assert raw.startswith(b"HTTP/1.1 426 Upgrade Required\r\n")
    assert b"\r\nSec-WebSocket-Version: 13\r\n" in raw


def test_http_response_body() -> None:
    raw = http_response(200, "<p>hi</p>", content_type="text/html")
    assert raw.startswith(b"HTTP/1.1 200 OK\r\n")
    assert raw.endswith(b"\r\n\r\n<p>hi</p>")
    assert b"Content-Length: 9\r\n" in raw


@pytest.mark.parametrize(
    ("headers", "upgrade"),
    [
        (BASE, True),
        (without("Upgrade"), True),  # a key alone still says "this was meant as a WebSocket"
        ([("Host", "x"), ("Upgrade", "websocket")], True),
        ([("Host", "x"), ("Accept", "text/html")], False),
        ([("Host", "x")], False),
    ],
    ids=["full", "key only", "Upgrade only", "browser GET", "bare GET"],
)
def test_is_upgrade(headers, upgrade: bool) -> None:
    assert is_upgrade(read(head(headers, "GET / HTTP/1.1"))) is upgrade


def test_size_limit_counts_the_head_not_the_bytes_behind_it() -> None:
    frame = bytes.fromhex("82ff0000000000010000") + b"k" * 4 + bytes(65536)
    reader = RequestReader(max_size=1000)
    assert reader.feed(head() + frame) is not None
    assert reader.leftover() == frame
