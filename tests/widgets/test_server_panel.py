"""ServerPanel against a real host: connections, the rows a view gets, the inspector, buttons, send and close.

No browser: a dummy comm keeps every message the panel sends, and `browser(panel)` rebuilds what a
view would hold from them (tests/widgets/conftest.py). Clicks are the messages the front end sends.
"""

from __future__ import annotations

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from wsplay.widgets import ServerPanel


def _in_frames(host, **match):
    return [r for r in host.frames if r.direction == "in" and all(getattr(r, k) == v for k, v in match.items())]


def _connection(panel, cid):
    return next(c for c in panel.connections if c["id"] == cid)


def _inspect(panel, view, index):
    """Select a frame as a click in the table does; return the details and payload the views got."""
    panel.selected = index
    content, buffers = view.custom("frame")[-1]
    assert content["index"] == index
    return content, buffers[0] if buffers else b""


def test_table_rows_and_inspector_show_what_a_client_did(comms, hosts, kit, browser) -> None:
    host = hosts()
    panel = ServerPanel(host)
    view = browser(panel)
    with connect(host.url, compression=None) as ws:
        ws.send("hello")
        assert ws.recv(timeout=2 * kit.UNIT) == "hello"
        ws.send(b"\x01\x02\xff")
        assert ws.recv(timeout=2 * kit.UNIT) == b"\x01\x02\xff"
        ws.send(["frag", "ment"])  # TEXT "frag" fin=0, CONTINUE "ment" fin=0, an empty CONTINUE fin=1
        assert ws.recv(timeout=2 * kit.UNIT) == "fragment"
        ws.ping(b"are you there").wait(2 * kit.UNIT)
        ws.send("x" * 300)  # a 16-bit extended length
        assert ws.recv(timeout=2 * kit.UNIT) == "x" * 300
        cid = host.connections[0].id
        counts = host.recorder.counters(cid)
        assert (counts.frames_in, counts.frames_out) == (7, 5)
        kit.wait_for(lambda: any(c["id"] == cid and c["frames_in"] == 7 for c in panel.connections), what="the connection row")
        row = _connection(panel, cid)
        assert row["path"] == "/" and row["state"] == "open" and row["close"] is None
        assert (row["frames_in"], row["bytes_in"], row["frames_out"], row["bytes_out"]) == (7, counts.bytes_in, 5, counts.bytes_out)
        assert row["remote"].startswith("127.0.0.1:")
        hs = panel.handshakes[str(cid)]
        assert hs["request_line"] == "GET / HTTP/1.1" and hs["status_line"] == "HTTP/1.1 101 Switching Protocols"
        assert ("Upgrade", "websocket") in map(tuple, hs["request_headers"]) and any(k == "Sec-WebSocket-Accept" for k, _ in hs["response_headers"])

    kit.wait_for(lambda: (_connection(panel, cid)["close"] or {}).get("code") == 1000, what="the close in the table")
    assert _connection(panel, cid)["close"]["name"] == "normal closure"
    kit.wait_for(lambda: any(" CLOSE " in label for label in view.labels()), what="the close frame row")
    labels = view.labels()
    assert any(" in TEXT " in label and "hello" in label for label in labels)
    assert any(" in BINARY " in label and "01 02 ff" in label for label in labels)
    assert any(" in PING " in label and "are you there" in label for label in labels)
    assert any(" out PONG " in label for label in labels)
    first_fragment = _in_frames(host, type_name="TEXT", fin=False)[0]
    label = next(lb for lb in labels if lb.startswith(f"{first_fragment.index} "))
    assert " in TEXT ----M " in label and "frag" in label  # FIN clear, no RSV bits, masked
    assert view.rows[-1][0] == host.frames[-1].index  # oldest first, the newest at the end
    assert [r[0] for r in view.rows] == [r.index for r in host.frames]  # every frame, once, in order

    # The inspector: every header field of a client's (masked) text frame, and its payload.
    hello = _in_frames(host, type_name="TEXT", fin=True)[0]
    shown, payload = _inspect(panel, view, hello.index)
    assert shown["fin"] is True and shown["rsv"] == [False, False, False]
    assert (shown["opcode"], shown["type"]) == (1, "TEXT")
    assert shown["masked"] is True and shown["mask_key"] == hello.mask_key.hex()
    assert (shown["length"], shown["length_form"]) == (5, 7)
    assert shown["header"] == hello.header_bytes.hex() and hello.header_bytes[0] == 0x81
    assert payload == b"hello" and shown["text"] and not shown["cut"]

    long = _in_frames(host, type_name="TEXT", length=300)[0]
    shown, payload = _inspect(panel, view, long.index)
    assert shown["length_form"] == 16 and shown["length_form_name"] == "16-bit extended"
    assert shown["header"].startswith("81fe012c") and payload == b"x" * 300

    binary = _in_frames(host, type_name="BINARY")[0]
    kit.message(panel, kind="inspect", index=binary.index)  # a click on the row already selected
    shown, payload = view.custom("frame")[-1][0], view.custom("frame")[-1][1][0]
    assert shown["type"] == "BINARY" and payload == b"\x01\x02\xff" and not shown["text"]

    close = _in_frames(host, type_name="CLOSE")[0]
    shown, _ = _inspect(panel, view, close.index)
    assert shown["close"] == {"code": 1000, "name": "normal closure", "reason": ""}


def test_filters_search_pause_and_clear(comms, hosts, kit, browser) -> None:
    host = hosts()
    panel = ServerPanel(host)
    view = browser(panel)
    with connect(host.url, compression=None) as a, connect(host.url, compression=None) as b:
        a.send("from a")
        b.send("from b")
        a.recv(timeout=2 * kit.UNIT), b.recv(timeout=2 * kit.UNIT)
        ida, idb = sorted(c.id for c in host.connections)
        kit.wait_for(lambda: len(view.rows) == 4, what="four rows")
        assert sorted(c["id"] for c in panel.connections) == [ida, idb]
        panel.filters = {"connection": idb, "direction": None, "type": None}
        panel.refresh()
        assert len(view.rows) == 2 and all(f" c{idb} " in label for label in view.labels())
        assert panel.table["matching"] == 2 and panel.table["recorded"] == 4
        panel.filters = {"connection": idb, "direction": "out", "type": None}
        panel.refresh()
        assert len(view.rows) == 1 and " out " in view.labels()[0]
        panel.filters = {"connection": None, "direction": None, "type": "PING"}
        panel.refresh()
        assert view.rows == []
        panel.filters = {"connection": None, "direction": None, "type": None}

        # The search: plain text (any case) or a regex, over the decoded payload.
        panel.search = {"query": "FROM B", "regex": False}
        panel.refresh()
        assert len(view.rows) == 2 and all("from b" in label for label in view.labels())
        panel.search = {"query": r"^from [ab]$", "regex": True}
        panel.refresh()
        assert len(view.rows) == 4
        panel.search = {"query": "from (", "regex": True}
        panel.refresh()
        assert "not a regular expression" in panel.search_error and len(view.rows) == 4  # a bad pattern filters nothing
        panel.search = {"query": "", "regex": False}
        panel.refresh()
        assert panel.search_error == ""

        panel.paused = True
        a.send("while paused")
        a.recv(timeout=2 * kit.UNIT)
        panel.refresh()
        assert len(view.rows) == 0 and panel.table["paused"]  # a paused view is frozen (and shown as such)
        panel.paused = False
        panel.refresh()
        assert len(view.rows) == 6

        kit.message(panel, kind="clear")
        panel.refresh()
        assert view.rows == []
        assert len(host.frames) == 6  # Clear hides; the recorder keeps everything
        b.send("after clear")
        b.recv(timeout=2 * kit.UNIT)
        kit.wait_for(lambda: len(view.rows) == 2, what="the rows after Clear")


def test_buttons_start_stop_restart_send_and_close(comms, hosts, kit) -> None:
    host = hosts()
    panel = ServerPanel(host)
    assert panel.status["running"] is True and panel.status["url"] == host.url

    kit.click(panel, "send", text="hi")  # nobody is connected: the error shows in the panel, nothing is raised
    assert "no open connection" in panel.error

    with connect(host.url, compression=None) as ws:
        kit.wait_for(lambda: panel.status["open"] == 1, what="the open connection")
        target = host.connections[0].id
        kit.click(panel, "send", text="from the panel", target=target)
        assert panel.error == ""
        assert ws.recv(timeout=2 * kit.UNIT) == "from the panel"

        kit.click(panel, "close", code=4000, reason="bye from the panel", target=target)
        with pytest.raises(ConnectionClosed) as caught:
            ws.recv(timeout=2 * kit.UNIT)
        assert caught.value.rcvd is not None
        assert (caught.value.rcvd.code, caught.value.rcvd.reason) == (4000, "bye from the panel")
    kit.wait_for(lambda: (_connection(panel, target)["close"] or {}).get("code") == 4000, what="the close code in the table")
    close = _connection(panel, target)["close"]
    assert close["name"] == "private use" and close["reason"] == "bye from the panel" and close["by"] == "server"

    with connect(host.url, compression=None) as ws:
        kit.wait_for(lambda: panel.status["open"] == 1, what="the open connection")
        kit.click(panel, "stop")
        assert not host.running
        with pytest.raises(ConnectionClosed) as caught:
            ws.recv(timeout=2 * kit.UNIT)
        assert caught.value.rcvd is not None and caught.value.rcvd.code == 1001
    # The final push after the host stopped: status, and the 1001 close in the table.
    kit.wait_for(
        lambda: not panel.status["running"] and any((c["close"] or {}).get("code") == 1001 for c in panel.connections),
        what="the final push",
    )
    assert next(c for c in panel.connections if (c["close"] or {}).get("code") == 1001)["close"]["name"] == "going away"

    kit.click(panel, "start")
    assert host.running and panel.error == ""
    kit.wait_for(lambda: panel.status["running"] and panel.status["url"] == host.url, what="the restart")
    port = host.bound_port
    kit.click(panel, "restart")
    assert host.running and host.bound_port == port
    with connect(host.url, compression=None) as ws:
        ws.send("still serving")
        assert ws.recv(timeout=2 * kit.UNIT) == "still serving"
    kit.click(panel, "no such button")
    assert "unknown action" in panel.error


def test_a_start_error_is_shown_not_raised(comms) -> None:
    from wsplay import Host

    empty = Host.create().port(0)  # nothing to serve: start() raises HostError
    panel = ServerPanel(empty)
    panel._on_custom(panel, {"kind": "action", "name": "start", "args": {}}, [])
    assert "HostError" in panel.error and "nothing to serve" in panel.error
    assert not empty.running and panel.status["running"] is False


def test_close_stops_the_refresher_and_closes_the_widget(comms, hosts, kit) -> None:
    host = hosts()
    panel = ServerPanel(host)
    refresher = panel.refresher
    assert refresher is not None
    kit.wait_for(lambda: refresher.running, what="the refresher thread")
    panel.close()
    assert not refresher.running
    assert panel.comm is None
    panel.close()  # idempotent


def test_for_host_reuses_an_open_panel(comms, hosts) -> None:
    host = hosts(start=False)
    panel = ServerPanel.for_host(host)
    assert ServerPanel.for_host(host) is panel
    panel.close()
    again = ServerPanel.for_host(host)
    assert again is not panel and again.comm is not None


def test_a_second_view_gets_the_whole_table(comms, hosts, kit, browser) -> None:
    host = hosts()
    panel = ServerPanel(host)
    view = browser(panel)
    with connect(host.url, compression=None) as ws:
        for i in range(3):
            ws.send(f"m{i}")
            ws.recv(timeout=2 * kit.UNIT)
    kit.wait_for(lambda: len(view.rows) >= 6, what="the rows")
    before = len(view.feeds())
    kit.message(panel, kind="hello")  # a view rendered later (the panel shown again, a page reload)
    kit.wait_for(lambda: any(f.get("reset") for f in view.feeds()[before:]), what="the reset for the new view")
    reset = next(f for f in view.feeds()[before:] if f.get("reset"))
    assert [r[0] for r in reset["rows"]] == [r.index for r in host.frames]


def test_a_stopped_hosts_panel_keeps_its_record(comms, hosts, kit, browser) -> None:
    host = hosts()
    panel = ServerPanel(host)
    with connect(host.url, compression=None) as ws:
        ws.send("kept")
        ws.recv(timeout=2 * kit.UNIT)
    host.stop()
    kit.wait_for(lambda: not panel.status["running"], what="the stopped status")
    kit.message(panel, kind="hello")
    view = browser(panel)
    kit.wait_for(lambda: any("kept" in label for label in view.labels()), what="the rows after the stop")
    assert "stopped" in repr(panel) and "frame(s) recorded" in repr(panel)


def test_warnings_show_each_pitfall_with_its_fix_and_notebook(comms, hosts, kit) -> None:
    import time

    from wsplay.observe import HandlerErrorRecord, InterleavedWrite, LoopBlocked, PumpStall

    host = hosts(start=False)
    panel = ServerPanel(host)
    assert panel.warnings == []
    rec = host.recorder
    stall = rec.event(PumpStall(time.time(), 3, "on_message", 1.5, 4, True, ongoing=True))
    rec.event(InterleavedWrite(time.time(), 3, "a writer added a continuation frame to another writer's message"))
    rec.event(LoopBlocked(time.time(), 0, 2.0))
    rec.event(HandlerErrorRecord(time.time(), 4, "on_message", "ValueError: nope", "Traceback ...\nValueError: nope"))
    kit.wait_for(lambda: any("ValueError: nope" in w["summary"] for w in panel.warnings), what="the warnings")
    shown = panel.warnings
    for event in (PumpStall, InterleavedWrite, LoopBlocked):
        assert any(w["fix"] == event.fix and w["notebook"] == event.notebook for w in shown), event
    assert any("held the message pump for at least 1.5 s while 4 frame(s) waited, a ping among them" in w["summary"] for w in shown)
    assert shown[0]["kind"] == "error" and shown[0]["traceback"] == "Traceback ...\nValueError: nope"  # newest first
    assert [w["kind"] for w in shown] == ["error", "blocked", "interleave", "stall"]
    stall.seconds, stall.ongoing = 3.0, False
    rec.touch()  # the stall ended: the row is updated in place
    kit.wait_for(lambda: any("held the message pump for 3.0 s" in w["summary"] for w in panel.warnings), what="the updated stall")
