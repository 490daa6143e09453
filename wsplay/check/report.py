"""Verdicts, cases and results: what a check run gives back, as text, JSON, a DataFrame or a widget.

Verdicts, as Autobahn|Testsuite gives them:

    OK             the peer did what the RFC asks
    NON-STRICT     allowed, not preferred: a SHOULD not followed, a different close code than the one
                   the RFC names, a connection dropped without the close frame it should have sent
    INFORMATIONAL  the RFC leaves it open (an optional extension declined, a limit below a size)
    FAILED         a MUST broken (bad data accepted, a malformed frame sent), or no answer in time
"""

from __future__ import annotations

import base64
import enum
import fnmatch
import json
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from wsplay.check.wire import Trace
from wsplay.observe import FrameRecord
from wsplay.protocol.frames import Header

__all__ = ["SECTIONS", "Case", "CaseResult", "Outcome", "Result", "Verdict", "select"]


class Verdict(str, enum.Enum):
    """A case's verdict (the value is how it is printed)."""

    OK = "OK"
    NON_STRICT = "NON-STRICT"
    INFORMATIONAL = "INFORMATIONAL"
    FAILED = "FAILED"

    def __str__(self) -> str:
        return self.value


VERDICTS = tuple(Verdict)

# Autobahn|Testsuite's section numbers where there is one; 11 (unused there) is the opening handshake.
SECTIONS = {
    "1": "Framing",
    "2": "Pings and pongs",
    "3": "Reserved bits",
    "4": "Opcodes",
    "5": "Fragmentation",
    "6": "UTF-8",
    "7": "Close",
    "9": "Limits",
    "11": "Opening handshake",
    "12": "permessage-deflate: messages",
    "13": "permessage-deflate: negotiation",
}


@dataclass(frozen=True)
class Outcome:
    """What a case found: the verdict, what the RFC expects, what the peer did, and why that verdict."""

    verdict: Verdict
    expected: str
    actual: str
    note: str = ""


def ok(expected: str, actual: str, note: str = "") -> Outcome:
    return Outcome(Verdict.OK, expected, actual, note)


def non_strict(expected: str, actual: str, note: str) -> Outcome:
    return Outcome(Verdict.NON_STRICT, expected, actual, note)


def informational(expected: str, actual: str, note: str = "") -> Outcome:
    return Outcome(Verdict.INFORMATIONAL, expected, actual, note)


def failed(expected: str, actual: str, note: str = "") -> Outcome:
    return Outcome(Verdict.FAILED, expected, actual, note)


@dataclass(frozen=True)
class Case:
    """One case: its id ("6.4.1"), a title, the RFC section it is about, and the coroutine that runs it."""

    id: str
    title: str
    rfc: str
    run: Callable[[Any], Awaitable[Outcome]]

    @property
    def section(self) -> str:
        return self.id.split(".", 1)[0]

    @property
    def section_title(self) -> str:
        return f"{self.section} {SECTIONS.get(self.section, '')}".strip()


def _key(case_id: str) -> tuple[int, ...]:
    return tuple(int(p) if p.isdigit() else 0 for p in case_id.split("."))


def select(cases: Sequence[Case], patterns: str | Iterable[str] = "*") -> list[Case]:
    """The cases whose id matches any pattern: "*", "5.*", "6.4.1", "7" (a whole section), "1.*,2.1".

    Raises:
        ValueError: a pattern matches no case (the message lists the sections).
    """
    if isinstance(patterns, str):
        patterns = [p for p in patterns.split(",")]
    wanted = [p.strip() for p in patterns if p.strip()] or ["*"]
    chosen: list[Case] = []
    for pattern in wanted:
        found = [c for c in cases if fnmatch.fnmatchcase(c.id, pattern) or fnmatch.fnmatchcase(c.id, pattern + ".*")]
        if not found:
            sections = ", ".join(f"{n} {t}" for n, t in SECTIONS.items())
            raise ValueError(f"no case matches {pattern!r}; the sections are {sections} (e.g. --cases '6.*')")
        chosen += [c for c in found if c not in chosen]
    return sorted(chosen, key=lambda c: _key(c.id))


@dataclass
class CaseResult:
    """One case as it ran: its verdict and the whole conversation (`trace`)."""

    id: str
    title: str
    rfc: str
    verdict: Verdict
    expected: str
    actual: str
    note: str
    duration: float
    trace: Trace = field(default_factory=Trace)
    started: float = 0.0  # wall-clock time the case started

    @property
    def section(self) -> str:
        return self.id.split(".", 1)[0]

    @property
    def section_title(self) -> str:
        return f"{self.section} {SECTIONS.get(self.section, '')}".strip()

    def records(self) -> list[FrameRecord]:
        """The frames of the case as the panels' frame table and inspector take them ("out": sent by the suite)."""
        out = []
        for i, entry in enumerate(self.trace.frames):
            wf = entry.frame
            assert wf is not None
            header = Header(wf.fin, wf.opcode, wf.length, wf.key, wf.header)
            out.append(FrameRecord(i, self.started + entry.time, entry.connection, entry.direction, header, wf.payload))
        return out

    def as_dict(self, frames: bool = True, payload_bytes: int = 4096) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": self.id,
            "section": self.section_title,
            "title": self.title,
            "rfc": self.rfc,
            "verdict": self.verdict.value,
            "expected": self.expected,
            "actual": self.actual,
            "note": self.note,
            "duration": round(self.duration, 4),
        }
        if frames:
            entries = []
            for e in self.trace.entries:
                item: dict[str, Any] = {"t": round(e.time, 6), "dir": e.direction, "connection": e.connection, "text": e.text}
                wf = e.frame
                if wf is not None:
                    item["frame"] = {
                        "fin": wf.fin,
                        "rsv": wf.rsv,
                        "opcode": wf.opcode,
                        "masked": wf.masked,
                        "mask_key": wf.key.hex() if wf.key else None,
                        "length": wf.length,
                        "header": wf.header.hex(),
                        "payload": base64.b64encode(wf.payload[:payload_bytes]).decode("ascii"),
                        "payload_cut": len(wf.payload[:payload_bytes]) < wf.length,
                    }
                entries.append(item)
            data["trace"] = entries
        return data

    def describe(self) -> str:
        """A few lines: the verdict, what was expected and what happened, and why."""
        lines = [f"{self.id}  {self.verdict.value:<13} {self.title} ({self.rfc})", f"    expected: {self.expected}", f"    got:      {self.actual}"]
        if self.note:
            lines.append(f"    why:      {self.note}")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return f"<CaseResult {self.id} {self.verdict.value}: {self.title}>"


class Result:
    """A check run: every case's verdict and conversation, summaries, and exports.

    In a notebook, a Result as the last expression of a cell shows the results widget (a summary by
    section and verdict; each case's frames in the panels' table and bit diagram).

    Example:
        result = wsplay.check.server(host.url)
        result.counts, result.failed; result.to_dataframe(); result.save("check.json")
    """

    # The widget (wsplay.widgets.check), plugged in by wsplay's top-level package like Host's panel.
    widget_factory: ClassVar[Callable[[Result], object] | None] = None

    def __init__(self, kind: str, target: str, cases: list[CaseResult], started: float, duration: float) -> None:
        self.kind = kind  # "server" (the suite was the client) or "client"
        self.target = target
        self.cases = cases
        self.started = started
        self.duration = duration

    # -- reading ---------------------------------------------------------------------------------

    @property
    def counts(self) -> dict[str, int]:
        """How many cases got each verdict, in the order OK, NON-STRICT, INFORMATIONAL, FAILED."""
        return {v.value: sum(1 for c in self.cases if c.verdict is v) for v in VERDICTS}

    @property
    def sections(self) -> dict[str, dict[str, int]]:
        """Per section ("7 Close"), how many cases got each verdict."""
        out: dict[str, dict[str, int]] = {}
        for c in self.cases:
            row = out.setdefault(c.section_title, {v.value: 0 for v in VERDICTS})
            row[c.verdict.value] += 1
        return out

    @property
    def failed(self) -> list[CaseResult]:
        return [c for c in self.cases if c.verdict is Verdict.FAILED]

    @property
    def passed(self) -> bool:
        """True when no case FAILED."""
        return not self.failed

    def verdicts(self) -> dict[str, str]:
        """{case id: verdict}."""
        return {c.id: c.verdict.value for c in self.cases}

    def select(self, verdict: str | Verdict | None = None, section: str | None = None) -> list[CaseResult]:
        """The cases with this verdict ("NON-STRICT") and/or in this section ("7")."""
        want = Verdict(verdict) if verdict is not None else None
        return [c for c in self.cases if (want is None or c.verdict is want) and (section is None or c.section == str(section))]

    def __getitem__(self, case_id: str) -> CaseResult:
        for c in self.cases:
            if c.id == case_id:
                return c
        raise KeyError(f"no case {case_id!r} in this result")

    def __iter__(self) -> Iterator[CaseResult]:
        return iter(self.cases)

    def __len__(self) -> int:
        return len(self.cases)

    # -- text ------------------------------------------------------------------------------------

    def headline(self) -> str:
        counts = ", ".join(f"{n} {v}" for v, n in self.counts.items())
        took = f"{self.duration * 1000:.0f} ms" if self.duration < 1 else f"{self.duration:.1f} s"
        return f"wsplay check {self.kind} {self.target}: {len(self.cases)} cases in {took}: {counts}"

    def table(self, every_case: bool = False) -> str:
        """The summary by section and verdict, then every case that is not OK (every case, if asked)."""
        names = [v.value for v in VERDICTS]
        width = max([len(s) for s in self.sections] + [7])
        lines = [self.headline(), "", f"{'section':<{width}}  " + "  ".join(f"{n:>13}" for n in names)]
        for section, row in self.sections.items():
            lines.append(f"{section:<{width}}  " + "  ".join(f"{row[n]:>13}" for n in names))
        shown = self.cases if every_case else [c for c in self.cases if c.verdict is not Verdict.OK]
        if shown:
            lines += ["", "every case:" if every_case else "cases that are not OK:"]
            lines += [c.describe() for c in shown]
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.table()

    def __repr__(self) -> str:
        return f"<Result {self.headline()}>"

    def assert_passed(self, allow: Iterable[str | Verdict] = ("OK", "NON-STRICT", "INFORMATIONAL")) -> Result:
        """Raise AssertionError, listing the cases, when a case has a verdict not in `allow`.

        Example:
            wsplay.check.server(url).assert_passed()                 # no FAILED case
            wsplay.check.server(url, cases="6.*").assert_passed(allow=["OK"])
        """
        allowed = {Verdict(a) for a in allow}
        wrong = [c for c in self.cases if c.verdict not in allowed]
        if wrong:
            shown = "\n".join(c.describe() for c in wrong)
            raise AssertionError(f"{len(wrong)} of {len(self.cases)} cases are {'/'.join(sorted({c.verdict.value for c in wrong}))} ({self.kind} {self.target}):\n{shown}")
        return self

    # -- exports ---------------------------------------------------------------------------------

    def as_dict(self, frames: bool = True) -> dict[str, Any]:
        return {
            "suite": "wsplay.check",
            "format": 1,
            "kind": self.kind,
            "target": self.target,
            "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.started)),
            "duration": round(self.duration, 3),
            "counts": self.counts,
            "sections": self.sections,
            "cases": [c.as_dict(frames) for c in self.cases],
        }

    def to_json(self, frames: bool = True, indent: int | None = 1) -> str:
        """The result as JSON: the summary, and every case with its trace (payloads in base64, the first 4 KiB)."""
        return json.dumps(self.as_dict(frames), indent=indent, ensure_ascii=False)

    def save(self, path: str | Path, frames: bool = True) -> Path:
        """Write `to_json()` to a file; returns its path."""
        target = Path(path)
        target.write_text(self.to_json(frames), encoding="utf-8")
        return target

    def to_dataframe(self) -> Any:
        """One row per case: id, section, title, rfc, verdict, expected, actual, note, duration (needs pandas)."""
        try:
            import pandas as pd
        except ImportError:
            raise ImportError("to_dataframe() needs pandas: pip install pandas (or wsplay[notebook])") from None
        rows = [c.as_dict(frames=False) for c in self.cases]
        columns = ["id", "section", "title", "rfc", "verdict", "expected", "actual", "note", "duration"]
        return pd.DataFrame(rows, columns=columns).set_index("id")

    # -- notebook --------------------------------------------------------------------------------

    def widget(self) -> object:
        """The results widget: summary by section and verdict, and each case's frames (needs anywidget)."""
        if Result.widget_factory is None:
            raise ImportError("the results widget comes with the wsplay package: import wsplay")
        return Result.widget_factory(self)

    def _ipython_display_(self) -> None:
        from IPython.display import Pretty, display

        try:
            shown = self.widget()
        except ImportError:  # no anywidget: the text table
            shown = Pretty(self.table())
        display(shown)
