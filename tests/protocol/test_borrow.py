"""Borrowing: payloads as views into the receive buffer, released when the next frame is read."""

from __future__ import annotations

import random

import pytest

from wsplay.protocol.connection import Connection, Side
from wsplay.protocol.frames import encode_frame

KEY = bytes.fromhex("a1b2c3d4")
MIB = 1 << 20


def cf(opcode: int, payload: bytes = b"", fin: bool = True) -> bytes:
    return encode_frame(opcode, payload, fin, mask_key=KEY)


def test_payload_is_a_view_released_at_the_next_read() -> None:
    conn = Connection(Side.SERVER, borrow=True)
    conn.receive_data(cf(2, b"first") + cf(1, b"second"))
    first = conn.next_frame()
    assert isinstance(first.payload, memoryview)
    assert first.payload == b"first"
    second = conn.next_frame()
    with pytest.raises(ValueError):
        bytes(first.payload)
    assert bytes(second.payload) == b"second" and second.text == "second"
    assert conn.next_frame() is None  # even a call that finds nothing releases the previous view
    with pytest.raises(ValueError):
        second.payload[0]


def test_copy_mode_payloads_are_bytes_that_outlive_the_buffer() -> None:
    conn = Connection(Side.SERVER)
    conn.receive_data(cf(2, b"first") + cf(2, b"second"))
    first = conn.next_frame()
    conn.next_frame()
    conn.receive_data(cf(2, b"x" * 200_000))
    conn.next_frame()
    assert first.payload == b"first" and isinstance(first.payload, bytes)


def test_retain_fragments_keeps_views_until_the_message_completes() -> None:
    conn = Connection(Side.SERVER, borrow=True, retain_fragments=True)
    views = []
    for opcode, part, fin in [(1, b"a" * 100, False), (9, b"ping", True), (0, b"b" * 100, False), (0, b"c" * 3, True)]:
        # Bytes arrive in small pieces, forcing the buffer to be reused or replaced while views are out.
        frame = cf(opcode, part, fin)
        for i in range(0, len(frame), 7):
            conn.receive_data(frame[i : i + 7])
            incoming = conn.next_frame()
        views.append((incoming.payload, part))
        assert [bytes(v) for v, _ in views] == [p for _, p in views]
    assert conn.next_frame() is None
    for view, _ in views:
        with pytest.raises(ValueError):
            bytes(view)


def test_retain_fragments_survives_buffer_growth() -> None:
    conn = Connection(Side.SERVER, borrow=True, retain_fragments=True, buffer_size=1024)
    parts = [bytes([i]) * 5000 for i in range(1, 6)]
    views = []
    for i, part in enumerate(parts):
        conn.receive_data(cf(2 if i == 0 else 0, part, fin=i == len(parts) - 1))
        views.append(conn.next_frame().payload)
    assert [bytes(v) for v in views] == parts


def test_without_retain_fragment_views_die_at_the_next_read() -> None:
    conn = Connection(Side.SERVER, borrow=True)
    conn.receive_data(cf(1, b"ab", fin=False) + cf(0, b"cd"))
    first = conn.next_frame()
    conn.next_frame()
    with pytest.raises(ValueError):
        bytes(first.payload)


@pytest.mark.parametrize("borrow", [False, True], ids=["copy", "borrow"])
@pytest.mark.parametrize("opcode", [1, 2], ids=["text", "binary"])
def test_one_mebibyte_frame_in_random_chunks(opcode: int, borrow: bool, push) -> None:
    rnd = random.Random(f"{opcode}{borrow}")
    if opcode == 1:
        payload = ("wsplay €𝄞 " * (MIB // 16))[: MIB // 2].encode()
    else:
        payload = rnd.randbytes(MIB)
    wire = cf(opcode, payload) + cf(2, b"tail")
    conn = Connection(Side.SERVER, borrow=borrow)
    got = []
    pos = 0
    while pos < len(wire):
        n = rnd.choice([1, 3, 100, 4096, 65536, 300_000])
        push(conn, wire[pos : pos + n])
        pos += n
        while (incoming := conn.next_frame()) is not None:
            got.append((bytes(incoming.payload), incoming.text))
    assert got[0][0] == payload
    assert got[0][1] == (payload.decode() if opcode == 1 else None)
    assert got[1] == (b"tail", None)
    assert conn.buffered == 0


@pytest.mark.parametrize("borrow", [False, True], ids=["copy", "borrow"])
def test_large_fragmented_message_in_random_chunks(borrow: bool, push) -> None:
    rnd = random.Random(7)
    parts = [rnd.randbytes(rnd.randint(0, 300_000)) for _ in range(6)]
    wire = b"".join(cf(2 if i == 0 else 0, p, fin=i == 5) + cf(9, b"hb") for i, p in enumerate(parts))
    conn = Connection(Side.SERVER, borrow=borrow, retain_fragments=borrow)
    data = []
    pings = 0
    done = False
    for i in range(0, len(wire), 50_000):
        push(conn, wire[i : i + 50_000])
        while (incoming := conn.next_frame()) is not None:
            if incoming.header.opcode == 9:
                pings += 1
                continue
            data.append(incoming.payload)
            if incoming.header.fin:  # with retain_fragments every view of the message is still valid here
                assert [bytes(d) for d in data] == parts
                done = True
    assert pings == 6 and done


@pytest.mark.parametrize("borrow", [False, True], ids=["copy", "borrow"])
def test_buffer_shrinks_back_after_a_large_message(borrow: bool, push) -> None:
    conn = Connection(Side.SERVER, borrow=borrow)
    assert len(conn._buf) == 0  # nothing is allocated before the first read
    initial = conn._initial_size
    push(conn, cf(2, bytes(2 * MIB)))
    assert len(conn.next_frame().payload) == 2 * MIB
    assert len(conn._buf) >= 2 * MIB
    # Small traffic afterwards: the big buffer is given back once the large frame has been let go.
    for _ in range(3):
        push(conn, cf(1, b"small"))
        assert conn.next_frame().text == "small"
    assert conn.next_frame() is None
    assert len(conn._buf) <= 4 * initial


def test_buffer_never_grows_past_what_arrived() -> None:
    conn = Connection(Side.SERVER, max_message_size=None, buffer_size=1024)
    conn.receive_data(encode_frame(2, b"", mask_key=KEY)[:2].replace(b"\x80", b"\xff") + (2**50).to_bytes(8, "big") + KEY)
    assert conn.next_frame() is None
    for _ in range(10):
        conn.receive_data(b"x" * 1000)
        assert conn.next_frame() is None
    assert len(conn._buf) <= 4 * (14 + 10_000)


def test_an_idle_connection_gives_its_buffer_back(push) -> None:
    conn = Connection(Side.SERVER)
    push(conn, cf(1, b"hello"))
    assert conn.next_frame().text == "hello" and len(conn._buf) > 0
    assert conn.trim() and len(conn._buf) == 0
    push(conn, cf(1, b"again"))  # and takes one again when bytes arrive
    assert conn.next_frame().text == "again"


def test_trim_keeps_a_partial_frame_and_lent_views(push) -> None:
    conn = Connection(Side.SERVER, borrow=True)
    frame = cf(1, b"partial frame")
    push(conn, frame[:5])
    assert conn.next_frame() is None and not conn.trim()
    push(conn, frame[5:])
    incoming = conn.next_frame()
    assert not conn.trim()  # the frame's view is still lent out
    assert bytes(incoming.payload) == b"partial frame"


def test_a_size_hint_does_not_size_the_buffer() -> None:
    # uvloop asks every read for 64 KiB; following it would give each idle connection 64 KiB.
    conn = Connection(Side.SERVER)
    assert len(conn.get_buffer(64 * 1024)) <= conn._initial_size
    assert len(conn._buf) <= conn._initial_size


def test_a_fragmented_message_keeps_the_buffer_it_needs() -> None:
    # A 1 MiB message in 16 KiB fragments read whole at once (uvloop reads until the socket is empty):
    # the buffer it grew is kept for the next such message, not given back after every fragment's
    # message and grown again (which cost W4 on uvloop two thirds of its speed).
    conn = Connection(Side.SERVER)
    message = b"".join(cf(2 if i == 0 else 0, bytes(16 * 1024), fin=i == 63) for i in range(64))
    conn.receive_data(message)
    while conn.next_frame() is not None:
        pass
    grown = conn._buf
    assert len(grown) >= MIB
    conn.receive_data(message)
    while conn.next_frame() is not None:
        pass
    assert conn._buf is grown
