"""The refresh discipline: a burst of frames costs a bounded number of comm messages, and nothing is lost."""

from __future__ import annotations

import json
import threading
import time
from types import SimpleNamespace

import pytest

from wsplay.observe import ConnectionOpened, Recorder
from wsplay.protocol.frames import encode_header
from wsplay.widgets import ClientPanel, ServerPanel
from wsplay.widgets.frames import ROWS_PER_PUSH
from wsplay.widgets.refresh import HEARTBEAT, Refresher

BURST = 10_000


def _burst(recorder: Recorder, connection: int) -> threading.Thread:
    """Record BURST frames from a thread over about a second (a short sleep every 100 frames)."""
    head_in = encode_header(1, 5, True, mask_key=b"\x01\x02\x03\x04")
    head_out = encode_header(1, 5, True)

    def run() -> None:
        for i in range(BURST):
            if i % 2:
                recorder.frame(connection, "out", head_out, b"hello")
            else:
                recorder.frame(connection, "in", head_in, b"hello")
            if i % 100 == 99:
                time.sleep(0.01)

    return threading.Thread(target=run, daemon=True)


def _fake_client(recorder: Recorder) -> SimpleNamespace:
    return SimpleNamespace(url="ws://127.0.0.1:9/", state="open", close_code=None, close_reason="", closed_by=None, recorder=recorder, frames=[], events=[])


@pytest.mark.parametrize("kind", ["server", "client"])
def test_a_burst_of_frames_costs_few_messages_and_ends_complete(comms, hosts, kit, browser, kind) -> None:
    if kind == "server":
        host = hosts(start=False).record(frames=BURST)  # the table can hold them all
        recorder = host.recorder
        panel = ServerPanel(host)
        connection = 1
        recorder.event(ConnectionOpened(time.time(), connection, "127.0.0.1:5555", "/burst"))
    else:
        recorder = Recorder(max_frames=BURST)
        panel = ClientPanel(_fake_client(recorder))
        connection = 7
    view = browser(panel)
    time.sleep(0.3)  # let the first redraw go out
    start = time.monotonic()
    burst = _burst(recorder, connection)
    burst.start()
    burst.join(5 * kit.UNIT)
    took = time.monotonic() - start
    assert 0.5 < took < 4, f"the burst took {took:.2f} s, not about one second"

    kit.wait_for(lambda: panel.table.get("recorded") == BURST and panel.table.get("backlog") == 0, what="the final counter")
    kit.wait_for(lambda: view.rows and view.rows[-1][0] == BURST - 1, what="the newest row")
    time.sleep(0.5)  # anything still pending would go out now
    end = time.monotonic()

    sent = comms.since(start)
    per_second = comms.max_per_second(start, end)
    rate = len(sent) / (end - start)
    size = sum(len(json.dumps(m)) for _, _, m in sent)
    assert per_second <= 11, f"{per_second} messages in one second ({len(sent)} in {end - start:.1f} s)"
    assert max(len(f.get("rows", [])) + len(f.get("back", [])) for f in view.feeds()) <= ROWS_PER_PUSH
    # Every frame reached the view, once and in order, although most pushes could not carry them all.
    assert [r[0] for r in view.rows] == list(range(BURST))
    assert panel.table["matching"] == BURST and panel.recording["max_frames"] == recorder.max_frames
    if kind == "server":
        counts = recorder.counters(connection)
        assert (counts.frames_in, counts.frames_out) == (BURST // 2, BURST // 2)
        row = next(c for c in panel.connections if c["id"] == connection)
        assert row["frames_in"] == BURST // 2 and row["path"] == "/burst"
    print(f"{kind}: {len(sent)} messages, {rate:.1f}/s on average, at most {per_second} in one second, {size / (end - start) / 1024:.0f} KiB/s")


def test_an_idle_panel_only_beats(comms, hosts, kit, browser) -> None:
    host = hosts()
    panel = ServerPanel(host)
    view = browser(panel)
    time.sleep(0.4)
    start = time.monotonic()
    time.sleep(2 * HEARTBEAT + 0.3)
    sent = comms.since(start)
    # One heartbeat every HEARTBEAT seconds (so a view can tell a dead kernel), carrying no rows.
    assert 1 <= len(sent) <= 3, sent
    for _, _, data in sent:
        assert set(data["state"]) <= {"_feed", "recording", "table"} and "rows" not in data["state"]["_feed"], data
    assert panel.refresher is not None and panel.refresher.running
    assert view.rows == []


def test_the_budget_spaces_pushes_by_the_messages_they_cost() -> None:
    lock = threading.RLock()
    version = [0]
    pushes: list[float] = []

    def redraw() -> int:
        pushes.append(time.monotonic())
        return 4  # four widgets changed: at 10 messages a second the next push waits 0.4 s

    refresher = Refresher(lambda: (True, version[0]), redraw, lock, interval=0.05, rate=10.0).start()
    try:
        end = time.monotonic() + 1.3
        while time.monotonic() < end:
            version[0] += 1
            time.sleep(0.005)
    finally:
        refresher.stop()
    assert 3 <= len(pushes) <= 4, pushes
    gaps = [b - a for a, b in zip(pushes, pushes[1:])]
    assert min(gaps) >= 0.38, gaps
    assert not refresher.running


def test_a_stop_is_pushed_at_once_whatever_the_budget() -> None:
    lock = threading.RLock()
    state = {"active": True, "version": 0}
    pushes: list[tuple[float, bool]] = []

    def redraw() -> int:
        pushes.append((time.monotonic(), state["active"]))
        return 20  # a costly push: the next one would wait 2 s

    refresher = Refresher(lambda: (state["active"], state["version"]), redraw, lock, interval=0.05).start()
    try:
        deadline = time.monotonic() + 2
        while not pushes and time.monotonic() < deadline:
            time.sleep(0.01)
        state["active"] = False
        refresher.poke()
        while len(pushes) < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        refresher.stop()
    assert [active for _, active in pushes] == [True, False]
    assert pushes[1][0] - pushes[0][0] < 0.5


def test_a_redraw_error_is_reported_and_the_refresher_goes_on() -> None:
    lock = threading.RLock()
    version = [0]
    errors: list[BaseException] = []
    calls = [0]

    def redraw() -> int:
        calls[0] += 1
        if calls[0] == 1:
            raise RuntimeError("boom")
        return 1

    refresher = Refresher(lambda: (True, version[0]), redraw, lock, on_error=errors.append, interval=0.02, rate=100).start()
    try:
        deadline = time.monotonic() + 2
        while calls[0] < 2 and time.monotonic() < deadline:
            version[0] += 1
            time.sleep(0.02)
    finally:
        refresher.stop()
    assert [str(e) for e in errors] == ["boom"] and calls[0] >= 2


def test_a_panel_never_uses_wsplays_loop(comms, hosts, kit, monkeypatch) -> None:
    import wsplay.runtime

    from_panels: list[str] = []
    real = wsplay.runtime.get_loop

    def spy():
        name = threading.current_thread().name
        if name.startswith("wsplay-panel-"):
            from_panels.append(name)
        return real()

    monkeypatch.setattr(wsplay.runtime, "get_loop", spy)
    host = hosts()
    panel = ServerPanel(host)
    host.stop()
    for i in range(50):
        host.recorder.frame(1, "in", encode_header(1, 2, True, mask_key=b"abcd"), b"hi")
        time.sleep(0.01)
    kit.wait_for(lambda: panel.table.get("recorded") == 50, what="the frames of a stopped host")
    assert from_panels == []
