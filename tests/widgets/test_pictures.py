"""wsplay.widgets.pictures: SVG pictures of recorded data (and their text twins), built from records.

No kernel and no browser: the SVG is parsed as XML (so a stray `<` from a payload would break the
test), the drawn bits are read back, and the text twins are what nbconvert and a terminal show.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from IPython.core.formatters import DisplayFormatter

from wsplay.observe import ConnectionClosedRecord, ConnectionOpened, FrameRecord
from wsplay.protocol.frames import Header
from wsplay.widgets import pictures

NS = "{http://www.w3.org/2000/svg}"
RFC_HELLO = bytes.fromhex("818537fa213d")  # RFC 6455 5.7: a masked text frame "Hello"


def record(index: int, direction: str, header: bytes, payload: bytes, time: float | None = None) -> FrameRecord:
    return FrameRecord(index, 1000.0 + index * 0.01 if time is None else time, 1, direction, Header.parse(header), payload)


def frame(opcode: int, payload: bytes, fin: bool = True, masked: bool = False) -> bytes:
    """The header of an unmasked (or masked with RFC 5.7's key) frame with a short payload."""
    b1 = (0x80 if masked else 0) | len(payload)
    return bytes([(0x80 if fin else 0) | opcode, b1]) + (bytes.fromhex("37fa213d") if masked else b"")


def texts(picture: pictures.Picture) -> list[str]:
    root = ET.fromstring(picture.svg)
    return [t.text or "" for t in root.iter(f"{NS}text")]


def test_frame_bits_draws_every_bit_of_the_rfc_example() -> None:
    pic = pictures.frame_bits(record(0, "out", RFC_HELLO, b"Hello"), title="Hello")
    root = ET.fromstring(pic.svg)  # well-formed
    assert root.tag == f"{NS}svg" and int(root.get("width")) > 700
    bits = [t.text for t in root.iter(f"{NS}text") if t.get("font-size") == "13"]  # the bit digits
    assert "".join(bits) == "".join(format(b, "08b") for b in RFC_HELLO)  # 48 bits, in wire order
    drawn = " ".join(texts(pic))
    for expected in ("FIN = 1", "opcode = 0x1 TEXT", "payload len = 5", "masking key = 37 fa 21 3d", "7f 9f 4d 51 58", "'Hello'"):
        assert expected in drawn, expected
    assert "opcode" in pic.text and "37 fa 21 3d" in pic.text and "7f 9f 4d 51 58" in pic.text


def test_frame_bits_shows_the_extended_lengths() -> None:
    for n, field in ((300, "extended payload length (16 bits) = 300"), (70_000, "extended payload length (64 bits) = 70000")):
        header = bytes([0x82, 126]) + n.to_bytes(2, "big") if n < 65536 else bytes([0x82, 127]) + n.to_bytes(8, "big")
        pic = pictures.frame_bits(record(0, "in", header, bytes(256)))
        name, value = field.split(" = ")
        assert any(line.startswith(name) and f"= {value}" in line for line in pic.text.splitlines()), pic.text


def test_handshake_checks_the_accept_value() -> None:
    key = "dGhlIHNhbXBsZSBub25jZQ=="  # RFC 6455 1.3's example
    request = [("Host", "x"), ("Upgrade", "websocket"), ("Connection", "Upgrade"), ("Sec-WebSocket-Key", key), ("Sec-WebSocket-Version", "13")]

    def opened(accept: str) -> ConnectionOpened:
        response = (b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                    b"Sec-WebSocket-Accept: " + accept.encode() + b"\r\n\r\n")  # fmt: skip
        return ConnectionOpened(0.0, 1, request_line="GET / HTTP/1.1", request_head=request, response_head=response)

    good = pictures.handshake(opened("s3pPLMBiTxaQ9kYGzzhZRbK+xOo="))
    assert "✓ matches" in good.text and "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" in " ".join(texts(good))
    assert "HTTP/1.1 101 Switching Protocols" in texts(good)
    bad = pictures.handshake(opened("forged="))
    assert "✗" in bad.text


def test_handshake_wraps_a_long_header_instead_of_cutting_it() -> None:
    offer = "permessage-deflate; client_max_window_bits; server_no_context_takeover, permessage-deflate"
    opened = ConnectionOpened(0.0, 1, request_line="GET / HTTP/1.1", request_head=[("Sec-WebSocket-Extensions", offer)],
                              response_head=b"HTTP/1.1 101 Switching Protocols\r\n\r\n")
    drawn = [t.strip() for t in texts(pictures.handshake(opened, width=600))]
    pieces = drawn[drawn.index("Sec-WebSocket-Extensions:") + 1 : drawn.index("HTTP/1.1 101 Switching Protocols")]
    assert " ".join(pieces).split() == offer.split()  # every word of the offer, in order, none cut
    assert not any("…" in t for t in drawn)


def test_sequence_marks_what_breaks_the_fragmentation_rules_and_escapes_payloads() -> None:
    rows = [
        record(0, "out", frame(1, b"a0 ", fin=False), b"a0 "),
        record(1, "out", frame(1, b"b0 ", fin=False), b"b0 "),  # a new message while a0's is open
        record(2, "out", frame(0, b"a1", fin=True), b"a1"),
        record(3, "out", frame(0, b"x", fin=True), b"x"),  # a continuation with nothing open
        record(4, "in", frame(1, b"<script>"), b"<script>", time=1002.0),  # after a pause: a gap
    ]
    pic = pictures.sequence(rows, side="server", names=("writer", "peer"))
    drawn = texts(pic)
    assert sum("✗" in t for t in drawn) == 2
    assert any("new message while a fragmented one is open" in t for t in drawn)
    assert any("continuation with no message open" in t for t in drawn)
    assert any("⋯" in t for t in drawn)  # the pause
    assert "<script>" not in pic.svg and "&lt;script&gt;" in pic.svg  # peer bytes are text, never markup
    # side="server": "out" is from the server, so these arrows point at the client (the left lifeline)
    assert "◀──TEXT fin=0 3 B 'a0 '──" in pic.text


def test_sequence_draws_the_close_event() -> None:
    closed = ConnectionClosedRecord(2000.0, 1, code=1002, reason="bad", by="client")
    pic = pictures.sequence([record(0, "in", frame(1, b"hi"), b"hi")], events=[closed])
    assert any("closed by the client: 1002" in t for t in texts(pic))


def test_ping_timeline_pairs_pings_with_pongs_and_marks_the_missing() -> None:
    rows = [
        record(0, "out", frame(9, b"1", masked=True), b"1", time=10.0),
        record(1, "in", frame(10, b"1"), b"1", time=10.05),
        record(2, "out", frame(9, b"2", masked=True), b"2", time=11.0),  # never answered
        record(3, "out", frame(1, b"start", masked=True), b"start", time=10.5),
    ]
    closed = ConnectionClosedRecord(11.5, 1, code=1011, reason="keepalive ping timeout", by="client")
    pic = pictures.ping_timeline(rows, busy=[(10.5, 12.0, "busy")], events=[closed], start=10.0, seconds=3)
    assert "1 ping(s) answered, 1 unanswered" in pic.text
    drawn = texts(pic)
    assert "✗" in drawn and any("1011" in t for t in drawn) and "busy" in drawn
    assert ["0 s", "0.5 s", "1 s", "1.5 s", "2 s", "2.5 s", "3 s"] == [t for t in drawn if t.endswith(" s")]


def test_bars_stack_row_and_display() -> None:
    chart = pictures.bars(["owned", "borrowed"], {"bytes": [16384.0, 300.0]}, title="per frame", unit="B", fmt="{:,.0f}")
    assert "16,384 B" in texts(chart) and "300 B" in texts(chart)
    both = pictures.row(chart, pictures.stack(chart, chart))
    ET.fromstring(both.svg)
    assert both.width > 2 * chart.width and both.height >= 2 * chart.height
    data, _ = DisplayFormatter().format(both)  # what a notebook saves in the output
    assert set(data) >= {"image/svg+xml", "text/plain"} and data["text/plain"] == both.text
