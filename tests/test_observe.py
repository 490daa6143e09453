"""The recorder and the pitfall reports, fed by a real host and the websockets client."""

from __future__ import annotations

import asyncio
import pathlib
import threading
import time

import pytest

from websockets.sync.client import connect

from wsplay import FrameType, Websocket
from wsplay.examples import echo
from wsplay.observe import FrameRecord, PumpStall, Recorder
from wsplay.protocol.frames import Header, encode_header

from testenv import UNIT, wait_for

# -- the recorder on its own ------------------------------------------------------------------------


def test_recorder_is_bounded_and_counts_everything() -> None:
    rec = Recorder(max_frames=5)
    head = encode_header(FrameType.TEXT, 3)
    for i in range(12):
        rec.frame(1, "out", head, b"abc")
    frames = rec.frames()
    assert [f.index for f in frames] == [7, 8, 9, 10, 11]
    assert rec.dropped == 7
    assert rec.counters(1).frames_out == 12 and rec.counters(1).bytes_out == 36
    assert isinstance(frames[0].header, Header) and frames[0].type_name == "TEXT"


def test_bytes_are_kept_whole_within_the_budget_and_a_borrowed_view_as_a_copied_preview() -> None:
    rec = Recorder(payload_bytes=1500)
    head = encode_header(FrameType.BINARY, 1000)
    payload = b"w" * 1000
    rec.frame(1, "in", head, payload)  # fits the budget: kept whole, the same object
    rec.frame(1, "in", head, b"v" * 1000)  # 2000 > 1500: only a preview
    buf = bytearray(b"x" * 1000)
    view = memoryview(buf)
    rec.frame(1, "in", head, view)  # borrowed: a copy of its first PREVIEW bytes, whatever the budget
    view.release()
    buf[:] = b"y" * 1000
    whole, cut, borrowed = rec.frames()
    assert whole.preview is payload and not whole.cut and whole.payload is whole.preview
    assert cut.preview == b"v" * 256 and cut.cut and cut.truncated and cut.length == 1000
    assert borrowed.preview == b"x" * 256 and borrowed.cut
    assert rec.kept_bytes == 1000


def test_the_payload_budget_frees_what_left_the_log() -> None:
    rec = Recorder(max_frames=3, payload_bytes=1000)
    big = b"z" * 600
    head = encode_header(FrameType.BINARY, 600)
    rec.frame(1, "out", head, big)
    rec.frame(1, "out", head, big)  # over budget while the first is in the log
    assert [r.cut for r in rec.frames()] == [False, True] and rec.kept_bytes == 600
    for _ in range(3):  # the first big one falls off the log: its bytes are free again
        rec.frame(1, "out", encode_header(FrameType.TEXT, 1), b"a")
    rec.frame(1, "out", head, big)
    assert rec.frames()[-1].payload == big and rec.kept_bytes == 600
    rec.clear()
    assert rec.kept_bytes == 0
    # A whole wire frame recorded on the engine's send path keeps its payload whole too.
    rec.frame_out_wire(rec.counters_of(2), 2, encode_header(FrameType.BINARY, 600) + big, 600, 0.0)
    assert rec.frames()[-1].payload == big and not rec.frames()[-1].cut


def test_disabled_recorder_records_nothing_through_the_host(hosts) -> None:
    host = hosts(echo(), configure=lambda h: h.record(False))
    with connect(host.url) as ws:
        ws.send("hi")
        assert ws.recv(timeout=2 * UNIT) == "hi"
    assert host.frames == [] and host.events == []


def test_snapshots_are_safe_while_the_loop_records(hosts) -> None:
    host = hosts(echo(), configure=lambda h: h.record(50))
    stop = threading.Event()
    snapshots = [0]

    def read() -> None:
        while not stop.is_set():
            host.frames  # noqa: B018 - snapshot while the loop thread appends
            host.events  # noqa: B018
            snapshots[0] += 1

    reader = threading.Thread(target=read)
    reader.start()
    try:
        with connect(host.url) as ws:
            for i in range(2000):
                ws.send(f"m{i}")
                ws.recv(timeout=2 * UNIT)
    finally:
        stop.set()
        reader.join(5)
    assert snapshots[0] > 10
    assert len(host.frames) == 50


# -- what a real connection records --------------------------------------------------------------


def test_frames_both_ways_with_their_wire_headers(hosts) -> None:
    host = hosts(echo())
    with connect(host.url, compression=None) as ws:  # the wire headers of uncompressed frames
        ws.send("hello")
        assert ws.recv(timeout=2 * UNIT) == "hello"
        ws.send(b"\x00\x01" * 100)
        ws.recv(timeout=2 * UNIT)
        ws.send(["ab", "cd", "ef"])  # fragmented
        assert ws.recv(timeout=2 * UNIT) == "abcdef"
        ws.ping(b"ping!").wait(2 * UNIT)
    wait_for(lambda: any(e.kind == "close" for e in host.events), what="the close event")
    frames = host.frames
    ins = [f for f in frames if f.direction == "in"]
    outs = [f for f in frames if f.direction == "out"]
    # websockets ends a message sent from an iterable with an empty final fragment.
    assert [f.type_name for f in ins] == ["TEXT", "BINARY", "TEXT", "CONTINUE", "CONTINUE", "CONTINUE", "PING", "CLOSE"]
    first: FrameRecord = ins[0]
    assert first.masked and first.mask_key is not None and len(first.mask_key) == 4
    assert first.preview == b"hello" and first.length == 5 and first.length_form == 7 and first.fin
    assert first.header_bytes[0] == 0x81 and first.header_bytes[1] == 0x85
    assert ins[1].length == 200 and ins[1].length_form == 16
    assert [f.fin for f in ins[2:6]] == [False, False, False, True]
    assert [f.type_name for f in outs] == ["TEXT", "BINARY", "TEXT", "PONG", "CLOSE"]
    assert not outs[0].masked and outs[0].header_bytes == b"\x81\x05"
    assert outs[3].preview == b"ping!"
    kinds = [e.kind for e in host.events]
    assert kinds[0] == "open" and kinds[-1] == "close"
    closed = host.events[-1]
    assert closed.code == 1000 and closed.by == "client" and closed.clean
    counts = host.recorder.counters(ins[0].connection)
    assert counts.frames_in == 8 and counts.frames_out == 5


def test_a_protocol_error_is_recorded_as_a_close_with_its_code(hosts) -> None:
    host = hosts(Websocket.functional().max_message_size(100))
    with connect(host.url, max_size=None) as ws:
        ws.send("x" * 200)
        with pytest.raises(Exception):
            ws.recv(timeout=2 * UNIT)
    wait_for(lambda: any(e.kind == "close" for e in host.events), what="the close event")
    limit = [e for e in host.events if e.kind == "limit"]
    assert limit and limit[0].value == 100
    closed = [e for e in host.events if e.kind == "close"][0]
    assert closed.code == 1009 and closed.by == "server"


def test_handler_errors_are_recorded_with_their_traceback(hosts) -> None:
    async def on_message(connection, frame):
        raise ValueError("boom")

    host = hosts(Websocket.functional().on_message(on_message))
    with connect(host.url) as ws:
        ws.send("x")
        with pytest.raises(Exception):
            ws.recv(timeout=2 * UNIT)
    wait_for(lambda: any(e.kind == "error" for e in host.events), what="the error event")
    (error,) = [e for e in host.events if e.kind == "error"]
    assert "ValueError: boom" in error.error and "raise ValueError" in error.traceback


# -- the pitfalls (development mode) ---------------------------------------------------------------


def test_a_slow_handler_is_reported_as_a_stall_with_the_waiting_ping(hosts) -> None:
    async def slow(connection, frame):
        await asyncio.sleep(1.0 * UNIT)
        await connection.write(frame.data_as_string())

    host = hosts(Websocket.functional().on_message(slow), development=True, configure=lambda h: h.stall_threshold(0.3 * UNIT))
    with connect(host.url) as ws:
        ws.send("a")
        time.sleep(0.1 * UNIT)
        ws.ping(b"anyone?")
        ws.send("b")
        wait_for(lambda: host.recorder.events("stall"), what="the live stall report")
        live = host.recorder.events("stall")[0]
        assert isinstance(live, PumpStall) and live.ongoing
        assert ws.recv(timeout=3 * UNIT) == "a"
        assert ws.recv(timeout=3 * UNIT) == "b"
    stall = host.recorder.events("stall")[0]
    assert not stall.ongoing and stall.seconds >= 0.9 * UNIT
    assert stall.ping_waiting and stall.frames_waiting >= 2
    assert "slow" in stall.handler and "connection.spawn(" in stall.fix
    assert "04-long-running-tasks" in stall.notebook


def test_a_fast_handler_is_not_reported(hosts) -> None:
    host = hosts(echo(), development=True, configure=lambda h: h.stall_threshold(0.2 * UNIT))
    with connect(host.url) as ws:
        for i in range(200):
            ws.send(str(i))
            ws.recv(timeout=2 * UNIT)
        time.sleep(0.3 * UNIT)
    assert host.recorder.events("stall") == []


def test_time_sleep_in_a_handler_is_reported_as_a_blocked_loop(hosts) -> None:
    async def blocking(connection, frame):
        time.sleep(0.6 * UNIT)  # the pitfall: blocks every connection, not just this one
        await connection.write("done")

    host = hosts(Websocket.functional().on_message(blocking), development=True, configure=lambda h: h.stall_threshold(0.3 * UNIT))
    with connect(host.url) as ws:
        ws.send("go")
        ws.send("more")
        assert ws.recv(timeout=3 * UNIT) == "done"
        assert ws.recv(timeout=3 * UNIT) == "done"
    wait_for(lambda: host.recorder.events("blocked"), what="the blocked-loop report")
    assert host.recorder.events("blocked")[0].seconds >= 0.4 * UNIT
    # No per-connection stall here: while the loop is blocked nothing is even read off the socket.


def test_interleaved_fragmented_writes_are_reported_and_still_sent(hosts) -> None:
    async def on_message(connection, frame):
        async def writer(tag: str) -> None:
            await connection.write(f"{tag}1", FrameType.TEXT, fin=False)
            await asyncio.sleep(0.01)
            await connection.write(f"{tag}2", FrameType.CONTINUE, fin=True)

        await asyncio.gather(writer("a"), writer("b"))

    host = hosts(Websocket.functional().on_message(on_message), development=True, configure=lambda h: h.stall_threshold(0.3 * UNIT))
    with connect(host.url) as ws:
        ws.send("go")
        with pytest.raises(Exception) as info:  # the client sees the broken stream
            ws.recv(timeout=2 * UNIT)
    assert "1002" in str(info.value) or "protocol" in str(info.value).lower()
    reports = host.recorder.events("interleave")
    assert reports and "another writer" in reports[0].detail
    assert "write_lock" in reports[0].fix


def test_locked_fragmented_writes_are_not_reported(hosts) -> None:
    async def on_message(connection, frame):
        async def writer(tag: str) -> None:
            async with connection.write_lock:
                await connection.write(f"{tag}1", FrameType.TEXT, fin=False)
                await asyncio.sleep(0.01)
                await connection.write(f"{tag}2", FrameType.CONTINUE, fin=True)

        await asyncio.gather(writer("a"), writer("b"))

    host = hosts(Websocket.functional().on_message(on_message), development=True, configure=lambda h: h.stall_threshold(0.3 * UNIT))
    with connect(host.url) as ws:
        ws.send("go")
        assert sorted([ws.recv(timeout=2 * UNIT), ws.recv(timeout=2 * UNIT)]) == ["a1a2", "b1b2"]
    assert host.recorder.events("interleave") == []


def test_fragments_from_one_thread_are_not_reported(hosts) -> None:
    host = hosts(Websocket.functional(), development=True, configure=lambda h: h.stall_threshold(0.3 * UNIT))
    with connect(host.url) as ws:
        wait_for(lambda: host.connections, what="the connection")
        conn = host.connections[0]
        conn.write("x", FrameType.TEXT, fin=False)
        conn.write("y", FrameType.CONTINUE, fin=False)
        conn.write("z", FrameType.CONTINUE, fin=True)
        assert ws.recv(timeout=2 * UNIT) == "xyz"
    assert host.recorder.events("interleave") == []


def test_to_dataframe(hosts) -> None:
    pd = pytest.importorskip("pandas")
    host = hosts(echo())
    with connect(host.url) as ws:
        ws.send("hi")
        ws.recv(timeout=2 * UNIT)
    frames = host.recorder.to_dataframe()
    assert isinstance(frames, pd.DataFrame) and {"direction", "type", "mask_key", "length_form"} <= set(frames.columns)
    assert set(host.recorder.to_dataframe("events")["kind"]) >= {"open"}


def test_every_pitfall_names_a_notebook_that_exists_and_teaches_its_fix() -> None:
    """The panel links each pitfall to a notebook; renumbering the notebooks must not break the link."""
    import nbformat

    from wsplay.observe import InterleavedWrite, LoopBlocked

    repo = pathlib.Path(__file__).resolve().parents[1]
    for event in (PumpStall, InterleavedWrite, LoopBlocked):
        path = repo / event.notebook
        assert path.exists(), f"{event.__name__}.notebook points at {event.notebook}, which does not exist"
        source = "\n".join(cell.source for cell in nbformat.read(path, as_version=4).cells)
        fix = {"PumpStall": "connection.spawn(", "InterleavedWrite": "connection.write_lock", "LoopBlocked": "asyncio.to_thread("}[event.__name__]
        assert fix in event.fix and fix in source, (event.__name__, fix)
