"""The client is exactly as strict as the server: the strictness table of the README, mirrored.

A scripted server (tests/rawws.py) answers the handshake by hand and sends bytes made with `struct`,
never with wsplay's encoder: first a good text frame (so the connection demonstrably worked), then the
frame under test. The client must fail the connection with the code RFC 6455 gives, send that code in
its close frame, and report it; a second client, talking to a healthy echo host meanwhile, must not
notice anything.
"""

from __future__ import annotations

import struct

import pytest

from wsplay import FrameType

from rawws import close_payload, server_frame
from testenv import UNIT, wait_for

GOOD = server_frame(1, b"fine")


def frames(*parts: bytes) -> bytes:
    return b"".join(parts)


CASES: list[tuple[str, bytes, int, dict]] = [
    ("masked server frame", server_frame(1, b"hi", mask=b"abcd"), 1002, {}),
    ("RSV1 without an extension", server_frame(1, b"hi", rsv=4), 1002, {}),
    ("RSV2", server_frame(2, b"hi", rsv=2), 1002, {}),
    ("RSV3 on a ping", server_frame(9, b"hi", rsv=1), 1002, {}),
    *[(f"reserved data opcode {op:#x}", server_frame(op, b"x"), 1002, {}) for op in (3, 4, 5, 6, 7)],
    *[(f"reserved control opcode {op:#x}", server_frame(op, b"x"), 1002, {}) for op in (0xB, 0xC, 0xD, 0xE, 0xF)],
    ("fragmented ping", server_frame(9, b"p", fin=False), 1002, {}),
    ("ping of 126 bytes", server_frame(9, b"p" * 126), 1002, {}),
    ("continuation with no message open", server_frame(0, b"orphan"), 1002, {}),
    ("new TEXT while a message is open", frames(server_frame(1, b"a", fin=False), server_frame(1, b"b")), 1002, {}),
    ("64-bit length with its top bit set", b"\x82\x7f" + struct.pack("!Q", 1 << 63), 1002, {}),
    ("close payload of 1 byte", server_frame(8, b"\x03"), 1002, {}),
    *[(f"close code {code}", server_frame(8, close_payload(code)), 1002, {}) for code in (0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000)],
    ("invalid UTF-8 in a text frame", server_frame(1, b"ok \xc3\x28"), 1007, {}),
    ("invalid UTF-8 split across fragments", frames(server_frame(1, "é".encode()[:1], fin=False), server_frame(0, b"\x28")), 1007, {}),
    ("invalid UTF-8 in a close reason", server_frame(8, struct.pack("!H", 1000) + b"\xff"), 1007, {}),
    ("a message over max_message_size", server_frame(2, bytes(11)), 1009, {"max_message_size": 10}),
    ("fragments adding up over max_message_size", frames(server_frame(2, bytes(6), fin=False), server_frame(0, bytes(6))), 1009, {"max_message_size": 10}),
    ("a frame over max_frame_size", server_frame(2, bytes(11)), 1009, {"max_frame_size": 10}),
    ("a declared length over the limit, its payload never sent", b"\x82\x7f" + struct.pack("!Q", 1 << 40), 1009, {}),
]


@pytest.mark.parametrize(("case", "bad", "code", "options"), CASES, ids=[c[0] for c in CASES])
def test_a_bad_server_frame_fails_the_client_with_the_right_code(case, bad, code, options, raw_servers, clients, echo_host):
    healthy = clients(echo_host.url)
    server = raw_servers(after_101=GOOD + bad)
    client = clients(server.url, close_timeout=0.5 * UNIT, **options)

    first = client.receive(timeout=2 * UNIT)
    assert first.type is FrameType.TEXT and first.data == b"fine"
    while True:  # any valid frames the bad input starts with come first
        frame = client.receive(timeout=2 * UNIT)
        if frame.type is FrameType.ERROR:
            break
    assert frame.error.code == code, (case, frame.error)
    assert (client.close_code, client.closed_by) == (code, "client")

    # The client said so on the wire: a masked close frame carrying the code (RFC 6455 7.1.7).
    wait_for(lambda: any(b0 == 0x88 for b0, _, _ in server.frames()), 2 * UNIT, "the client's close frame")
    ((key, payload),) = [(k, p) for b0, k, p in server.frames() if b0 == 0x88]
    assert key is not None and struct.unpack("!H", payload[:2])[0] == code

    # Another connection of the same process carries on.
    healthy.send("still here")
    assert healthy.receive_text(timeout=2 * UNIT) == "still here"


def test_after_failing_the_client_sends_nothing_more(raw_servers, clients):
    server = raw_servers(after_101=GOOD + server_frame(3, b"x"))
    client = clients(server.url, close_timeout=0.5 * UNIT)
    client.receive(timeout=2 * UNIT)
    assert client.receive(timeout=2 * UNIT).type is FrameType.ERROR
    with pytest.raises(Exception) as info:
        client.send("after failing")
    assert info.type.__name__ == "ConnectionClosed"  # wsplay failed it, not the user's close()
    wait_for(lambda: client.state == "closed", 2 * UNIT, "the close timeout to drop TCP")
    assert server.eof.wait(2 * UNIT), "the server never saw the end of the stream"  # so it has read every byte
    assert [b0 for b0, _, _ in server.frames()] == [0x88]
