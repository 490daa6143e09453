"""Allocation modes: owned frames by default, borrowed views with do_not_allocate_frame_data().

Measured numbers are printed (run with `pytest -s` to see them).
"""

from __future__ import annotations

import gc
import os
import queue
import statistics
import threading
import tracemalloc

from wsplay import InvalidState, Websocket
from wsplay.protocol.connection import Connection

FRAME = 32 * 1024


def push_buffered(conn: Connection, data: bytes) -> None:
    """Write through get_buffer/buffer_updated, as asyncio.BufferedProtocol does."""
    view = memoryview(data)
    while view:
        buf = conn.get_buffer(-1)
        n = min(len(buf), len(view))
        buf[:n] = view[:n]
        buf.release()
        conn.buffer_updated(n)
        view = view[n:]


# -- default: frames are owned ------------------------------------------------------------------------


def test_default_frames_keep_their_data_after_later_reads(hosts, raw_client, wire):
    kept = []
    done: queue.Queue[object] = queue.Queue()

    async def on_message(connection, frame):
        kept.append((frame, frame.raw.memory))
        if frame.data == b"check":
            done.put("ok")

    on_binary = on_message
    host = hosts(Websocket.functional().on_message(on_message).on_binary(on_binary))
    messages = [os.urandom(n) for n in (1, 125, 126, 5000, 70000, 3)]
    raw = raw_client(host.bound_port)
    raw.handshake()
    for i, payload in enumerate(messages):
        raw.send(wire.mask_frame(2, payload, mask=bytes([i, i + 1, 0xAA, 0x55])))
    raw.send(wire.mask_frame(2, b"frag", fin=False) + wire.mask_frame(0, b"mented"))
    raw.send(wire.mask_frame(1, b"check"))
    assert done.get(timeout=3 * wire.UNIT) == "ok"
    expected = [*messages, b"fragmented", b"check"]
    assert len(kept) == len(expected)
    for (frame, memory), payload in zip(kept, expected):
        assert frame.data == payload
        assert bytes(memory) == payload
        assert bytes(frame.raw.memory) == payload
        assert isinstance(frame.data, bytes)


# -- no-allocate: frames borrow the receive buffer -------------------------------------------------------


def test_borrowed_view_fails_loudly_after_the_next_read(hosts, raw_client, wire):
    """The view of a borrowed frame is released once the next frame is read; touched data survives."""
    report: queue.Queue[object] = queue.Queue()
    state: dict[str, object] = {}

    async def on_message(connection, frame):
        text = bytes(frame.raw.memory)
        if text == b"first":
            state["frame"] = frame
            state["view"] = frame.raw.memory
            state["segments"] = frame.raw.segments
            state["untouched"] = frame
        elif text == b"second":
            state["kept"] = frame.data  # touched in time
            state["kept_frame"] = frame
        elif text == b"check":
            results = {}
            for name, access in [
                ("view", lambda: bytes(state["view"])),
                ("view-index", lambda: state["view"][0]),
                ("segment", lambda: bytes(state["segments"][0])),
                ("raw.memory", lambda: state["frame"].raw.memory),
                ("raw.segments", lambda: state["frame"].raw.segments),
                ("data-untouched", lambda: state["untouched"].data),
                ("data-kept", lambda: state["kept"]),
                ("frame-data-kept", lambda: state["kept_frame"].data),
            ]:
                try:
                    results[name] = ("value", access())
                except (ValueError, InvalidState) as exc:
                    results[name] = ("error", type(exc))
            report.put(results)

    host = hosts(Websocket.functional().on_message(on_message).do_not_allocate_frame_data())
    raw = raw_client(host.bound_port)
    raw.handshake()
    raw.send(wire.mask_frame(1, b"first"))
    raw.send(wire.mask_frame(1, b"second"))
    raw.send(wire.mask_frame(1, b"check"))
    results = report.get(timeout=3 * wire.UNIT)
    print("\nlate access in no-allocate mode:", {k: v[1] if v[0] == "error" else "ok" for k, v in results.items()})
    assert results["view"] == ("error", ValueError), results["view"]  # Python's released-memoryview error
    assert results["view-index"] == ("error", ValueError), results["view-index"]
    assert results["segment"] == ("error", ValueError), results["segment"]
    assert results["raw.memory"] == ("error", InvalidState)
    assert results["raw.segments"] == ("error", InvalidState)
    assert results["data-untouched"] == ("error", InvalidState)
    assert results["data-kept"] == ("value", b"second")
    assert results["frame-data-kept"] == ("value", b"second")


def test_borrowed_fragments_stay_valid_until_the_message_is_complete(hosts, raw_client, wire):
    report: queue.Queue[object] = queue.Queue()

    async def on_message(connection, frame):
        report.put((frame.raw.is_segmented, [bytes(s) for s in frame.raw.segments], frame.data))

    host = hosts(Websocket.functional().on_message(on_message).do_not_allocate_frame_data())
    raw = raw_client(host.bound_port)
    raw.handshake()
    pieces = [bytes([65 + i]) * (3000 + i) for i in range(10)]
    for i, piece in enumerate(pieces):
        raw.send(wire.mask_frame(1 if i == 0 else 0, piece, fin=i == 9))
        if i == 4:
            raw.send(wire.mask_frame(9, b"mid-message ping"))
            assert raw.read_frame().payload == b"mid-message ping"
    segmented, segments, data = report.get(timeout=3 * wire.UNIT)
    assert segmented and segments == pieces and data == b"".join(pieces)


# -- how much is allocated ------------------------------------------------------------------------------


def sans_io_peaks(mask_frame, borrow: bool, frames: int = 24) -> tuple[int, int, int]:
    """Per 32 KiB frame, fed as the engine feeds it: (median peak inside next_frame, median bytes kept
    while the frame is alive, median peak over a whole read cycle)."""
    payload = os.urandom(FRAME - 1)
    data = mask_frame(2, payload, mask=b"\x9a\x3c\x01\xfe")
    conn = Connection(borrow=borrow)
    next_peaks, kept, cycles = [], [], []
    gc.collect()
    tracemalloc.start()
    try:
        for _ in range(frames):
            tracemalloc.reset_peak()
            cycle_base = tracemalloc.get_traced_memory()[0]
            push_buffered(conn, data)
            tracemalloc.reset_peak()
            base = tracemalloc.get_traced_memory()[0]
            incoming = conn.next_frame()
            current, peak = tracemalloc.get_traced_memory()
            next_peaks.append(peak - base)
            kept.append(current - base)
            assert incoming is not None and incoming.payload == payload  # frame alive until after measuring
            cycle_peak = tracemalloc.get_traced_memory()[1]
            cycles.append(cycle_peak - cycle_base)
            del incoming
            assert conn.next_frame() is None  # the engine reads on until the buffer is empty
    finally:
        tracemalloc.stop()
    warm = slice(2, None)  # the first frames grow buffers once
    return (
        int(statistics.median(next_peaks[warm])),
        int(statistics.median(kept[warm])),
        int(statistics.median(cycles[warm])),
    )


def test_borrowing_allocates_less_per_frame_sans_io(wire):
    copy_peak, copy_kept, copy_cycle = sans_io_peaks(wire.mask_frame, borrow=False)
    borrow_peak, borrow_kept, borrow_cycle = sans_io_peaks(wire.mask_frame, borrow=True)
    print(
        f"\nSans-I/O, per {FRAME // 1024} KiB frame: "
        f"copy: peak {copy_peak} B, kept {copy_kept} B, cycle peak {copy_cycle} B; "
        f"borrow: peak {borrow_peak} B, kept {borrow_kept} B, cycle peak {borrow_cycle} B"
    )
    assert copy_kept >= FRAME - 1  # the payload is a copy the frame owns
    assert borrow_kept < 4096  # a view and a header, no payload
    assert borrow_peak < 0.75 * copy_peak
    assert borrow_cycle < 0.75 * copy_cycle


def socket_peak(hosts, raw_client, wire, no_allocate: bool, frames: int = 40) -> int:
    """Traced memory in use while the handler holds each of `frames` 32 KiB frames (its highest), over a
    real socket. Recording is off: this measures what the frame path allocates, not what a recorder keeps."""
    done: queue.Queue[int] = queue.Queue()
    seen = [0]
    in_use: list[int] = []

    async def on_binary(connection, frame):
        seen[0] += len(frame)
        if tracemalloc.is_tracing():
            _ = frame.data if not no_allocate else frame.raw.memory  # what the handler reads, alive now
            in_use.append(tracemalloc.get_traced_memory()[0])
        if frame.raw.fin and len(frame) == 1:
            done.put(seen[0])

    builder = Websocket.functional().on_binary(on_binary)
    if no_allocate:
        builder.do_not_allocate_frame_data()
    host = hosts(builder, configure=lambda h: h.record(False))
    raw = raw_client(host.bound_port)
    raw.handshake()
    data = wire.mask_frame(2, os.urandom(FRAME), mask=b"\x11\x22\x33\x44")
    stream = data * frames + wire.mask_frame(2, b"!")
    # Warm up the connection (buffers grow once), then measure a steady stream.
    raw.send(stream)
    assert done.get(timeout=5 * wire.UNIT) == (frames * FRAME + 1)
    seen[0] = 0
    gc.collect()
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        sender = threading.Thread(target=raw.send, args=(stream,))
        sender.start()
        total = done.get(timeout=5 * wire.UNIT)
        sender.join(5 * wire.UNIT)
    finally:
        tracemalloc.stop()
    assert total == frames * FRAME + 1
    return max(in_use[:-1]) - base  # the 1-byte end marker aside


def test_borrowing_allocates_less_over_a_real_socket(hosts, raw_client, wire):
    copy_peak = socket_peak(hosts, raw_client, wire, no_allocate=False)
    borrow_peak = socket_peak(hosts, raw_client, wire, no_allocate=True)
    print(f"\nreal socket, 40 frames of {FRAME // 1024} KiB: traced memory in use in the handler, copy {copy_peak} B, borrow {borrow_peak} B")
    assert borrow_peak < copy_peak - FRAME // 2  # a copy holds the payload; a borrowed view does not
