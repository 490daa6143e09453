"""The suite's own wire, checked on its own: frames built by hand (RFC 6455 5.7's examples among them),
read back whole, one byte at a time and with bytes left over; its permessage-deflate; a judged 101."""

from __future__ import annotations

import os
import zlib

import pytest

from wsplay.check.compress import Agreement, Deflater, Inflater, bomb, parse_extensions
from wsplay.check.report import select
from wsplay.check.server_cases import CASES
from wsplay.check.server_suite import check_101
from wsplay.check.wire import HttpHead, accept_key, frame, mask, parse

KEY = bytes.fromhex("37fa213d")
FRAMES = [  # (frame() arguments, the bytes): the first five are RFC 6455 5.7's
    ((1, b"Hello"), {}, "810548656c6c6f"),
    ((1, b"Hello"), {"key": KEY}, "818537fa213d7f9f4d5158"),
    ((1, b"Hel"), {"fin": False}, "010348656c"),
    ((0, b"lo"), {}, "80026c6f"),
    ((10, b"Hello"), {"key": KEY}, "8a8537fa213d7f9f4d5158"),
    ((2, bytes(256)), {}, "827e0100" + "00" * 256),
    ((2, bytes(65536)), {}, "827f0000000000010000" + "00" * 65536),
    ((1, b"hi"), {"rsv": 5}, "d1026869"),
    ((1, b"short"), {"form": 16}, "817e000573686f7274"),
    ((1, b"short"), {"form": 64}, "817f000000000000000573686f7274"),
    ((2, b"12345"), {"length": (1 << 63) | 5, "form": 64}, "827f80000000000000053132333435"),
    ((9, b""), {"key": b"\0\0\0\0"}, "898000000000"),
]


@pytest.mark.parametrize("args, options, wire", FRAMES, ids=[f"{a[0]}-{len(a[1])}-{sorted(o)}" for a, o, _ in FRAMES])
def test_frames_are_built_as_asked_and_read_back_every_way(args, options, wire) -> None:  # type: ignore[no-untyped-def]
    out = frame(*args, **options)
    assert out.wire.hex() == wire
    assert out.payload == args[1] and out.wire.startswith(out.header)
    if "length" in options:  # a lying length never completes: what a peer that believes it would see too
        assert parse(out.wire) is None
        return
    whole = parse(out.wire)
    assert whole is not None and whole[1] == len(out.wire)
    read = whole[0]
    assert (read.opcode, read.payload, read.fin, read.rsv, read.key) == (args[0], args[1], options.get("fin", True), options.get("rsv", 0), options.get("key"))
    assert read.minimal_length is ("form" not in options)
    buf = bytearray()
    for i, byte in enumerate(out.wire):  # one byte at a time: nothing until the last one
        buf.append(byte)
        assert (parse(buf) is None) is (i < len(out.wire) - 1)
    trailing = parse(out.wire + b"\x81\x05Hel")
    assert trailing is not None and trailing[1] == len(out.wire) and trailing[0].payload == args[1]


def test_mask_is_its_own_inverse_and_close_frames_read_by_hand() -> None:
    assert mask(b"Hello", KEY).hex() == "7f9f4d5158" and mask(mask(b"Hello", KEY), KEY) == b"Hello" and mask(b"", KEY) == b""
    read = parse(frame(8, b"\x03\xe8bye").wire)
    assert read is not None and read[0].close() == (1000, b"bye") and read[0].describe() == "CLOSE 1000 'bye'"
    read = parse(frame(8, b"\x03").wire)
    assert read is not None and read[0].close() == (None, b"") and "1-byte" in read[0].describe()
    assert accept_key("dGhlIHNhbXBsZSBub25jZQ==") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="  # RFC 6455 1.3


def test_permessage_deflate_both_ways() -> None:
    d, i = Deflater(), Inflater()
    text = b"Hello, Hello, Hello " * 20
    first, second = d.message(text), d.message(text)
    assert len(second) < len(first)  # context takeover: the second message points back at the first
    assert i.message(first) == text and i.message(second) == text
    with pytest.raises(ValueError, match="does not inflate"):
        Inflater(reset=True).message(second)  # without the first message's context it cannot be read
    reset = Deflater(reset=True)
    a, b = reset.message(text), reset.message(text)
    assert a == b and Inflater(reset=True).message(b) == text
    far = os.urandom(1500) * 2  # a match 1500 bytes back: beyond a 10-bit (1 KiB) window
    assert Inflater(bits=10).message(Deflater(bits=10).message(far)) == far
    with pytest.raises(ValueError, match="too far back"):  # how a peer that broke its window shows up
        Inflater(bits=10).message(Deflater(bits=15).message(far))
    with pytest.raises(ValueError, match="inflates past"):
        Inflater(limit=1000).message(bomb(1 << 20))
    assert len(bomb(32 << 20)) < 64 * 1024 and zlib.decompressobj(-15).decompress(bomb(1 << 20) + b"\x00\x00\xff\xff") == bytes(1 << 20)


def test_extension_headers_and_answers() -> None:
    assert parse_extensions(['permessage-deflate; client_max_window_bits; server_max_window_bits="10", x-foo']) == [
        ("permessage-deflate", [("client_max_window_bits", None), ("server_max_window_bits", "10")]),
        ("x-foo", []),
    ]
    assert Agreement.from_params([("server_no_context_takeover", None), ("client_max_window_bits", "9")]) == Agreement(True, False, None, 9)
    for bad in ([("x", None)], [("server_max_window_bits", "7")], [("client_max_window_bits", None)], [("server_no_context_takeover", "1")],
                [("server_no_context_takeover", None), ("server_no_context_takeover", None)]):  # fmt: skip
        with pytest.raises(ValueError):
            Agreement.from_params(bad)


def head(*lines: str) -> HttpHead:
    return HttpHead.parse("\r\n".join(lines).encode())


def test_a_101_is_judged_as_a_strict_client_must() -> None:
    key = "dGhlIHNhbXBsZSBub25jZQ=="
    good = ["HTTP/1.1 101 Switching Protocols", "Upgrade: WebSocket", "Connection: keep-alive, upgrade", f"Sec-WebSocket-Accept: {accept_key(key)}"]
    assert check_101(head(*good), key) is None
    assert check_101(head(*good, "Sec-WebSocket-Extensions: permessage-deflate"), key, "permessage-deflate; client_max_window_bits") == Agreement()
    wrong = {
        "not 101": check_101(head("HTTP/1.1 200 OK"), key),
        "accept": check_101(head(*good[:3], "Sec-WebSocket-Accept: xyz"), key),
        "upgrade": check_101(head(good[0], good[2], good[3]), key),
        "protocol": check_101(head(*good, "Sec-WebSocket-Protocol: chat"), key),
        "extension": check_101(head(*good, "Sec-WebSocket-Extensions: permessage-deflate"), key),
        "client bits": check_101(head(*good, "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits=10"), key, "permessage-deflate"),
        "no context": check_101(head(*good, "Sec-WebSocket-Extensions: permessage-deflate"), key, "permessage-deflate; server_no_context_takeover"),
        "window": check_101(head(*good, "Sec-WebSocket-Extensions: permessage-deflate"), key, "permessage-deflate; server_max_window_bits=10"),
    }
    for what, judged in wrong.items():
        assert isinstance(judged, tuple) and judged[1].startswith("RFC"), what


def test_cases_are_chosen_by_pattern() -> None:
    ids = lambda p: [c.id for c in select(CASES, p)]  # noqa: E731
    assert ids("2.*") == ["2.1", "2.2", "2.3", "2.4", "2.5", "2.6", "2.7"]
    assert ids("2") == ids("2.*") and ids("7.3.1") == ["7.3.1"] and ids("7.3.1,1.1.1") == ["1.1.1", "7.3.1"]
    assert ids("*")[:2] == ["1.1.1", "1.1.2"] and ids("5.*")[-1] == "5.11"  # numeric order: 5.10 and 5.11 after 5.9
    with pytest.raises(ValueError, match="the sections are 1 Framing"):
        select(CASES, "8.*")
