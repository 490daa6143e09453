"""ServerPanel against a real host: connection table, frame log, inspector, buttons, send and close."""

from __future__ import annotations

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from wsplay.widgets import ServerPanel


def _in_frames(host, **match):
    return [r for r in host.frames if r.direction == "in" and all(getattr(r, k) == v for k, v in match.items())]


def test_table_log_and_inspector_show_what_a_client_did(comms, hosts, kit) -> None:
    host = hosts()
    panel = ServerPanel(host)
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
        kit.wait_for(lambda: f"<td>{cid}</td>" in panel._conns.value and "<td>7 / " in panel._conns.value, what="the connection row")
        row = panel._conns.value.split(f"<td>{cid}</td>", 1)[1].split("</tr>", 1)[0]
        assert "<td>/</td>" in row and "<td>open</td>" in row
        assert f"<td>7 / {counts.bytes_in} B</td>" in row and f"<td>5 / {counts.bytes_out} B</td>" in row
        assert "127.0.0.1:" in row

    kit.wait_for(lambda: "1000 normal closure" in panel._conns.value, what="the close in the table")
    kit.wait_for(lambda: any("CLOSE" in label for label in panel.frame_log._rows._options_labels), what="the close frame row")
    labels = panel.frame_log._rows._options_labels
    assert any(" in  TEXT " in label and "hello" in label for label in labels)
    assert any(" in  BINARY " in label and "01 02 ff" in label for label in labels)
    assert any(" in  PING " in label and "are you there" in label for label in labels)
    assert any(" out PONG " in label for label in labels)
    first_fragment = _in_frames(host, type_name="TEXT", fin=False)[0]
    label = next(lb for lb in labels if lb.lstrip().startswith(f"{first_fragment.index} "))
    assert " -" in label and "frag" in label  # FIN clear
    assert labels[0].lstrip().startswith(str(host.frames[-1].index))  # newest first

    # The inspector: every header field of a client's (masked) text frame.
    hello = _in_frames(host, type_name="TEXT", fin=True)[0]
    panel.frame_log.select(hello.index)
    shown = panel.frame_log.inspector._html.value
    assert f"#{hello.index}" in shown
    assert "1 (final frame of its message)" in shown
    assert "<td>RSV1 RSV2 RSV3</td><td>0 0 0</td>" in shown
    assert "0x1 TEXT" in shown
    assert "<td>MASK</td><td>1</td>" in shown
    assert hello.mask_key is not None and hello.mask_key.hex(" ") in shown
    assert "5 bytes · 7-bit" in shown
    assert hello.header_bytes.hex(" ") in shown and hello.header_bytes[0] == 0x81
    assert "<pre>hello</pre>" in shown
    panel.frame_log.inspector._view.value = "hex"
    assert "68 65 6c 6c 6f" in panel.frame_log.inspector._html.value  # the payload as a hex dump
    panel.frame_log.inspector._view.value = "auto"
    assert panel.frame_log._rows.value == hello.index

    long = _in_frames(host, type_name="TEXT", length=300)[0]
    panel.frame_log.select(long.index)
    assert "300 bytes · 16-bit extended" in panel.frame_log.inspector._html.value
    assert long.header_bytes.hex(" ").startswith("81 fe 01 2c")

    panel.frame_log._rows.value = _in_frames(host, type_name="BINARY")[0].index  # a click in the browser
    assert "0x2 BINARY" in panel.frame_log.inspector._html.value
    assert "01 02 ff" in panel.frame_log.inspector._html.value  # hex dump by default for binary

    close = _in_frames(host, type_name="CLOSE")[0]
    panel.frame_log.select(close.index)
    assert "<td>close code</td><td>1000 (normal closure)</td>" in panel.frame_log.inspector._html.value


def test_filters_pause_and_clear(comms, hosts, kit) -> None:
    host = hosts()
    panel = ServerPanel(host)
    with connect(host.url, compression=None) as a, connect(host.url, compression=None) as b:
        a.send("from a")
        b.send("from b")
        a.recv(timeout=2 * kit.UNIT), b.recv(timeout=2 * kit.UNIT)
        ida, idb = sorted(c.id for c in host.connections)
        kit.wait_for(lambda: len(panel.frame_log._rows.options) == 4, what="four rows")
        assert [o[1] for o in panel.frame_log._conn.options] == [None, ida, idb]
        panel.frame_log._conn.value = idb
        assert all(f" c{idb} " in label for label in panel.frame_log._rows._options_labels)
        assert "2 shown (newest first) of 2 matching · 4 recorded" in panel.frame_log._head.value
        panel.frame_log._dir.value = "out"
        assert len(panel.frame_log._rows.options) == 1 and " out " in panel.frame_log._rows._options_labels[0]
        panel.frame_log._conn.value = None
        panel.frame_log._dir.value = None
        panel.frame_log._type.value = "PING"
        assert panel.frame_log._rows.options == ()
        panel.frame_log._type.value = None

        panel.frame_log._pause.value = True
        a.send("while paused")
        a.recv(timeout=2 * kit.UNIT)
        panel.refresh()
        assert len(panel.frame_log._rows.options) == 4 and "paused" in panel.frame_log._head.value
        panel.frame_log._pause.value = False
        assert len(panel.frame_log._rows.options) == 6

        panel.frame_log._clear.click()
        assert panel.frame_log._rows.options == ()
        assert "0 since Clear" in panel.frame_log._head.value
        assert len(host.frames) == 6  # Clear hides; the recorder keeps everything
        b.send("after clear")
        b.recv(timeout=2 * kit.UNIT)
        kit.wait_for(lambda: len(panel.frame_log._rows.options) == 2, what="the rows after Clear")


def test_buttons_start_stop_restart_send_and_close(comms, hosts, kit) -> None:
    host = hosts()
    panel = ServerPanel(host)
    assert panel._start.disabled and not panel._stop.disabled

    panel._send_button.click()  # nobody is connected: the error shows in the panel, nothing is raised
    assert "no open connection" in panel.error
    assert "no open connection" in panel._error_html.value and panel._error_html.layout.display is None

    with connect(host.url, compression=None) as ws:
        kit.wait_for(lambda: len(panel._target.options) == 2, what="the connection in the send box")
        panel._target.value = host.connections[0].id
        panel._text.value = "from the panel"
        panel._send_button.click()
        assert panel.error == "" and panel._error_html.layout.display == "none"
        assert ws.recv(timeout=2 * kit.UNIT) == "from the panel"

        panel._code.value = 4000
        panel._reason.value = "bye from the panel"
        panel._close.click()
        with pytest.raises(ConnectionClosed) as caught:
            ws.recv(timeout=2 * kit.UNIT)
        assert caught.value.rcvd is not None
        assert (caught.value.rcvd.code, caught.value.rcvd.reason) == (4000, "bye from the panel")
    kit.wait_for(lambda: "4000 private use" in panel._conns.value, what="the close code in the table")
    assert "bye from the panel" in panel._conns.value and "by server" in panel._conns.value

    with connect(host.url, compression=None) as ws:
        kit.wait_for(lambda: "1 open connection" in panel._status.value, what="the open connection")
        panel._stop.click()
        assert not host.running
        with pytest.raises(ConnectionClosed) as caught:
            ws.recv(timeout=2 * kit.UNIT)
        assert caught.value.rcvd is not None and caught.value.rcvd.code == 1001
    # The final push after the host stopped: status, buttons, and the 1001 close in the table.
    kit.wait_for(lambda: "stopped" in panel._status.value and "1001 going away" in panel._conns.value, what="the final push")
    assert panel._stop.disabled and not panel._start.disabled

    panel._start.click()
    assert host.running and panel.error == ""
    kit.wait_for(lambda: "running at" in panel._status.value and host.url in panel._status.value, what="the restart")
    port = host.bound_port
    panel._restart.click()
    assert host.running and host.bound_port == port
    with connect(host.url, compression=None) as ws:
        ws.send("still serving")
        assert ws.recv(timeout=2 * kit.UNIT) == "still serving"


def test_a_start_error_is_shown_not_raised(comms) -> None:
    from wsplay import Host

    empty = Host.create().port(0)  # nothing to serve: start() raises HostError
    panel = ServerPanel(empty)
    panel._start.click()
    assert "HostError" in panel.error and "nothing to serve" in panel.error
    assert "nothing to serve" in panel._error_html.value
    assert not empty.running


def test_close_stops_the_refresher_and_closes_the_widgets(comms, hosts, kit) -> None:
    host = hosts()
    panel = ServerPanel(host)
    refresher = panel.refresher
    assert refresher is not None
    kit.wait_for(lambda: refresher.running, what="the refresher thread")
    inner = panel.frame_log.inspector._html
    panel.close()
    assert not refresher.running
    assert panel.comm is None and inner.comm is None
    panel.close()  # idempotent


def test_for_host_reuses_an_open_panel(comms, hosts) -> None:
    host = hosts(start=False)
    panel = ServerPanel.for_host(host)
    assert ServerPanel.for_host(host) is panel
    panel.close()
    again = ServerPanel.for_host(host)
    assert again is not panel and again.comm is not None


def test_warnings_show_each_pitfall_with_its_fix_and_notebook(comms, hosts, kit) -> None:
    import time

    from wsplay.observe import HandlerErrorRecord, InterleavedWrite, LoopBlocked, PumpStall

    host = hosts(start=False)
    panel = ServerPanel(host)
    assert "no warnings" in panel._warnings.value
    rec = host.recorder
    stall = rec.event(PumpStall(time.time(), 3, "on_message", 1.5, 4, True, ongoing=True))
    rec.event(InterleavedWrite(time.time(), 3, "a writer added a continuation frame to another writer's message"))
    rec.event(LoopBlocked(time.time(), 0, 2.0))
    rec.event(HandlerErrorRecord(time.time(), 4, "on_message", "ValueError: nope", "Traceback ...\nValueError: nope"))
    kit.wait_for(lambda: "ValueError: nope" in panel._warnings.value, what="the warnings")
    shown = panel._warnings.value
    for event in (PumpStall, InterleavedWrite, LoopBlocked):
        assert event.fix in shown and event.notebook in shown
    assert "held the message pump for at least 1.5 s while 4 frame(s) waited, a ping among them" in shown
    assert "<details><summary>traceback</summary><pre>Traceback ...\nValueError: nope</pre></details>" in shown
    assert shown.index("ValueError: nope") < shown.index("held the message pump")  # newest first
    stall.seconds, stall.ongoing = 3.0, False
    rec.touch()  # the stall ended: the row is updated in place
    kit.wait_for(lambda: "held the message pump for 3.0 s" in panel._warnings.value, what="the updated stall")


def _dropdowns(widget):
    import ipywidgets

    if isinstance(widget, ipywidgets.Dropdown):
        yield widget
    for child in getattr(widget, "children", ()):
        yield from _dropdowns(child)


def test_every_dropdown_shows_a_choice(comms, hosts, kit) -> None:
    # ipywidgets 8 shows an empty box for value=None: the "all ..." choices must be selected by index.
    from wsplay.widgets import ClientPanel

    host = hosts()
    panel = ServerPanel(host)
    with connect(host.url, compression=None) as ws:
        ws.send("hello")
        ws.recv(timeout=2 * kit.UNIT)
        panel.refresh()
        for panel_ in (panel, ClientPanel(host.url)):
            found = list(_dropdowns(panel_))
            assert len(found) >= 3
            for dropdown in found:
                assert dropdown.index is not None and dropdown.label, dropdown.options
        panel.frame_log.set_connections([1, 2])
        assert all(d.label for d in _dropdowns(panel))
