"""What a result gives back: the text table, JSON (with every frame), a DataFrame, an assertion."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from wsplay import check
from wsplay.check import Result, Verdict

from testenv import UNIT


@pytest.fixture(scope="module")
def result(sloppy_url: str) -> Iterator[Result]:
    yield check.server(sloppy_url, cases="1.1.1,1.4.1,3.1,6.2.1,12.1.1", timeout=3 * UNIT, quiet=0.3 * UNIT)


def test_counts_sections_and_selection(result: Result) -> None:
    assert result.counts == {"OK": 1, "NON-STRICT": 1, "INFORMATIONAL": 1, "FAILED": 2}
    assert result.sections["1 Framing"] == {"OK": 1, "NON-STRICT": 0, "INFORMATIONAL": 0, "FAILED": 1}
    assert [c.id for c in result.failed] == ["1.4.1", "6.2.1"] and not result.passed
    assert [c.id for c in result.select("NON-STRICT")] == ["3.1"] and [c.id for c in result.select(section="1")] == ["1.1.1", "1.4.1"]
    assert result.verdicts()["12.1.1"] == "INFORMATIONAL" and len(result) == 5
    with pytest.raises(KeyError):
        result["9.9"]


def test_the_text_table(result: Result) -> None:
    text = result.table()
    assert text.splitlines()[0].startswith(f"wsplay check server {result.target}: 5 cases in ")
    assert "1 FAILED" not in text.splitlines()[0] and "2 FAILED" in text.splitlines()[0]
    assert "1.4.1  FAILED" in text and "1.1.1  OK" not in text  # only what is not OK, unless every case is asked for
    assert "1.1.1  OK" in result.table(every_case=True)
    assert "expected: close 1002" in text and "got:      TEXT 10 bytes 'not masked'" in text


def test_json_has_every_frame(result: Result, tmp_path: Path) -> None:
    path = result.save(tmp_path / "check.json")
    data = json.loads(path.read_text())
    assert data["suite"] == "wsplay.check" and data["kind"] == "server" and data["counts"] == result.counts
    case = next(c for c in data["cases"] if c["id"] == "1.4.1")
    assert case["verdict"] == "FAILED" and case["rfc"] == "RFC 6455 5.1"
    frames = [e for e in case["trace"] if "frame" in e]
    sent = frames[0]
    assert sent["dir"] == "out" and sent["frame"]["masked"] is False and base64.b64decode(sent["frame"]["payload"]) == b"not masked"
    assert frames[1]["dir"] == "in" and base64.b64decode(frames[1]["frame"]["payload"]) == b"not masked"  # the echo it should not have sent
    assert any(e["text"].startswith("HTTP request:\nGET / HTTP/1.1\nHost: ") for e in case["trace"])
    assert "trace" not in json.loads(result.to_json(frames=False))["cases"][0]


def test_dataframe(result: Result) -> None:
    pytest.importorskip("pandas")
    df = result.to_dataframe()
    assert list(df.index) == ["1.1.1", "1.4.1", "3.1", "6.2.1", "12.1.1"]
    assert list(df.columns) == ["section", "title", "rfc", "verdict", "expected", "actual", "note", "duration"]
    assert (df.verdict == "FAILED").sum() == 2


def test_assert_passed(result: Result) -> None:
    with pytest.raises(AssertionError) as failure:
        result.assert_passed()
    assert "2 of 5 cases are FAILED" in str(failure.value) and "1.4.1" in str(failure.value) and "3.1" not in str(failure.value)
    with pytest.raises(AssertionError, match="3 of 5 cases are FAILED/NON-STRICT"):
        result.assert_passed(allow=["OK", "INFORMATIONAL"])
    ok = check.server(result.target, cases="1.1.1", timeout=3 * UNIT)
    assert ok.assert_passed(allow=[Verdict.OK]) is ok


def test_frame_records_for_the_panels(result: Result) -> None:
    records = result["1.4.1"].records()
    assert [r.direction for r in records][:2] == ["out", "in"]
    assert records[0].masked is False and records[0].payload == b"not masked" and records[0].index == 0
    assert records[0].time >= result["1.4.1"].started
