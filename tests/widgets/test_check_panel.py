"""The check results widget without a kernel: what it sends, what a click on a case or a frame gets back."""

from __future__ import annotations

import time

import pytest

from wsplay.check.report import CaseResult, Result, Verdict
from wsplay.check.wire import Trace, frame, parse
from wsplay.widgets.check import ESM, CheckPanel

EVIL = "<img src=x onerror=alert(1)>"


def case(case_id: str, verdict: Verdict, reason: str = "") -> CaseResult:
    trace = Trace()
    trace.note("HTTP request:\nGET / HTTP/1.1\nHost: x", "out")
    trace.sent(frame(1, b"hello", key=b"\x01\x02\x03\x04"))
    found = parse(frame(8, b"\x03\xea" + reason.encode()).wire)
    assert found is not None
    trace.received(found[0])
    trace.note("the peer closed the TCP connection", "in")
    return CaseResult(case_id, f"title of {case_id}", "RFC 6455 5.1", verdict, "close 1002", f"close 1002 {reason}", "why" if verdict is Verdict.NON_STRICT else "", 0.01, trace, time.time())


@pytest.fixture
def result() -> Result:
    cases = [case("1.1.1", Verdict.OK), case("1.4.1", Verdict.FAILED, EVIL), case("7.2.1", Verdict.NON_STRICT)]
    return Result("server", "ws://127.0.0.1:1/", cases, time.time(), 0.03)


def test_summary_cases_and_the_first_case_that_is_not_ok(comms, result: Result) -> None:  # type: ignore[no-untyped-def]
    panel = CheckPanel(result)
    assert panel.headline == result.headline() and panel.kind == "server"
    assert panel.sections == [
        {"section": "1 Framing", "OK": 1, "NON-STRICT": 0, "INFORMATIONAL": 0, "FAILED": 1},
        {"section": "7 Close", "OK": 0, "NON-STRICT": 1, "INFORMATIONAL": 0, "FAILED": 0},
    ]
    assert [c["id"] for c in panel.cases] == ["1.1.1", "1.4.1", "7.2.1"]
    assert panel.selected == "1.4.1" and panel.conversation["id"] == "1.4.1"
    conv = panel.conversation
    assert [e["dir"] for e in conv["entries"]] == ["out", "out", "in", "in"]
    assert [e.get("frame") for e in conv["entries"]] == [None, 0, 1, None]
    out_row, in_row = conv["rows"]
    assert out_row[3] == 1 and out_row[4] == 1 and out_row[5] & 16  # sent by the suite, TEXT, masked
    assert in_row[3] == 0 and in_row[4] == 8 and EVIL in in_row[9]  # the peer's close reason, as text
    assert conv["actual"] == f"close 1002 {EVIL}"  # never escaped here: the front end inserts it as text
    assert repr(panel) == result.table()


def test_a_click_on_a_case_then_on_a_frame(comms, result: Result, browser, kit) -> None:  # type: ignore[no-untyped-def]
    panel = CheckPanel(result)
    view = browser(panel)
    shown = panel.select("7.2.1")
    assert shown["id"] == "7.2.1" and shown["note"] == "why"
    panel._on_custom(panel, {"kind": "inspect", "case": "1.4.1", "index": 1}, [])
    content, buffers = view.custom("frame")[-1]
    assert content["case"] == "1.4.1" and content["type"] == "CLOSE" and content["close"]["reason"] == EVIL
    assert buffers[0] == b"\x03\xea" + EVIL.encode()
    panel._on_custom(panel, {"kind": "inspect", "case": "1.4.1", "index": 7}, [])
    assert view.custom("frame")[-1][0]["missing"] is True
    assert panel.inspect("1.4.1", 0)["mask_key"] == "01020304"
    with pytest.raises(KeyError):
        panel.select("9.9")


def test_results_show_the_widget_through_the_facade(comms, result: Result) -> None:  # type: ignore[no-untyped-def]
    import wsplay  # noqa: F401 - plugs the widget into Result

    assert isinstance(result.widget(), CheckPanel)
    assert "// ---- check.js" in ESM and "// ---- table.js" in ESM and "// ---- inspector.js" in ESM
