"""The client's opening handshake, Sans-I/O: responses built by hand, fed whole, byte by byte, and with frames behind them."""

from __future__ import annotations

import base64
import hashlib

import pytest

from wsplay.errors import HandshakeError
from wsplay.protocol.handshake import ClientHandshake

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
FRAME = b"\x81\x05hello"  # what a server may send right behind its 101


def accept_for(hs: ClientHandshake) -> str:
    key = hs.request.headers["Sec-WebSocket-Key"].encode()
    return base64.b64encode(hashlib.sha1(key + GUID).digest()).decode()


def answer(hs: ClientHandshake, *extra: str, accept: str | None = None) -> bytes:
    lines = [
        "HTTP/1.1 101 Switching Protocols",
        "Upgrade: websocket",
        "Connection: Upgrade",
        f"Sec-WebSocket-Accept: {accept if accept is not None else accept_for(hs)}",
        *extra,
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def feed(hs: ClientHandshake, data: bytes, how: str):
    """Feed `data` whole or one byte at a time; return what the last call returned."""
    if how == "whole":
        return hs.feed(data)
    result = None
    for i in range(len(data)):
        assert result is None, "the response completed before its last byte"
        result = hs.feed(data[i : i + 1])
    return result


def test_request_offers_no_extension_and_carries_extras() -> None:
    hs = ClientHandshake("ws://example.test:8080/chat?x=1", origin="http://o.test", subprotocols=["a", "b"], headers=[("X-Try", "1")])
    head = hs.request_bytes().decode()
    assert head.startswith("GET /chat?x=1 HTTP/1.1\r\n")
    for line in ("Host: example.test:8080", "Origin: http://o.test", "Sec-WebSocket-Version: 13", "Sec-WebSocket-Protocol: a, b", "X-Try: 1"):
        assert line + "\r\n" in head
    assert "Extensions" not in head
    assert ClientHandshake("ws://h/").request.headers["Sec-WebSocket-Key"] != hs.request.headers["Sec-WebSocket-Key"]


@pytest.mark.parametrize(("how", "trailing"), [("whole", b""), ("bytewise", b""), ("whole", FRAME)], ids=["whole", "bytewise", "frame-behind"])
def test_a_good_101(how: str, trailing: bytes) -> None:
    hs = ClientHandshake("ws://h/", subprotocols=["chat"])
    response = feed(hs, answer(hs, "Sec-WebSocket-Protocol: chat") + trailing, how)
    assert response is not None and response.status_code == 101
    assert hs.subprotocol == "chat"
    assert hs.leftover() == trailing  # the frame stays with the caller, for the codec


@pytest.mark.parametrize(
    ("extra", "accept", "message"),
    [
        ((), "d3Jvbmc=", "Sec-WebSocket-Accept"),
        (("Sec-WebSocket-Extensions: permessage-deflate",), None, "did not offer"),
        (("Sec-WebSocket-Protocol: other",), None, "other"),
    ],
    ids=["wrong-accept", "extension-forced", "subprotocol-not-offered"],
)
def test_a_bad_101(extra: tuple[str, ...], accept: str | None, message: str) -> None:
    hs = ClientHandshake("ws://h/", subprotocols=["chat"])
    with pytest.raises(HandshakeError, match=message) as info:
        hs.feed(answer(hs, *extra, accept=accept))
    assert info.value.status == 101


@pytest.mark.parametrize("how", ["whole", "bytewise"])
def test_a_refusal_carries_status_and_body(how: str) -> None:
    hs = ClientHandshake("ws://h/")
    body = b"Failed to open a WebSocket connection: unsupported version.\n"
    data = b"HTTP/1.1 426 Upgrade Required\r\nSec-WebSocket-Version: 13\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)
    with pytest.raises(HandshakeError) as info:
        feed(hs, data, how)
    assert str(info.value) == "server answered 426: Failed to open a WebSocket connection: unsupported version."
    assert info.value.status == 426 and info.value.headers["Sec-WebSocket-Version"] == "13"


def test_a_refusal_whose_body_ends_at_eof() -> None:
    hs = ClientHandshake("ws://h/")
    assert hs.feed(b"HTTP/1.1 403 Forbidden\r\n\r\nno thanks") is None
    with pytest.raises(HandshakeError, match="server answered 403: no thanks"):
        hs.feed_eof()


@pytest.mark.parametrize("data", [b"SSH-2.0-OpenSSH_9.6\r\n\r\n", b"HTTP/1.1 abc Nope\r\n\r\n"])
def test_not_http(data: bytes) -> None:
    with pytest.raises(HandshakeError, match="not valid HTTP") as info:
        ClientHandshake("ws://h/").feed(data)
    assert info.value.status == 0


def test_eof_before_any_answer() -> None:
    with pytest.raises(HandshakeError, match="closed the connection before answering"):
        ClientHandshake("ws://h/").feed_eof()


def test_bad_urls() -> None:
    for url in ("http://h/", "ws:///nohost", "ws://h/#frag"):
        with pytest.raises(ValueError, match="isn't a valid URI"):
            ClientHandshake(url)
