"""`CheckPanel`: a check run's results: a summary by section and verdict, and each case frame by frame.

The result is finished when the panel is made, so there is no refresher: the summary and the case
list are sent once, and a case's conversation (its notes and its frames, as rows of the panels'
frame table) when it is selected; a frame's details (the bit diagram and the payload views) when
one is clicked, like the server panel's inspector. Peer bytes reach the page only as text.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import anywidget
from traitlets import Dict, List, Unicode, observe

from wsplay.widgets.assets import CSS, STATIC, link
from wsplay.widgets.frames import detail, encode_row

if TYPE_CHECKING:
    from wsplay.check.report import CaseResult, Result

__all__ = ["CheckPanel"]

log = logging.getLogger("wsplay")

_MODULES = ("util.js", "tree.js", "bits.js", "table.js", "inspector.js", "check.js")
ESM = link({name: (STATIC / name).read_text(encoding="utf-8") for name in _MODULES}, entry="check.js")
CHECK_CSS = (STATIC / "check.css").read_text(encoding="utf-8")


class CheckPanel(anywidget.AnyWidget):
    """The results of `wsplay.check.server()` or `wsplay.check.client()`.

    Example:
        result = wsplay.check.server(host.url)
        CheckPanel(result)  # what `result` as a cell's last expression shows
    """

    _esm = ESM
    _css = CSS + CHECK_CSS

    headline = Unicode("", help="One line: what was checked, how many cases, how many of each verdict.").tag(sync=True)
    kind = Unicode("server", help="'server' (the suite played the client) or 'client' (it played the server).").tag(sync=True)
    sections: List[Any] = List(help="Per section: {section, OK, NON-STRICT, INFORMATIONAL, FAILED}.").tag(sync=True)
    cases: List[Any] = List(help="Per case: id, section, title, rfc, verdict, expected, actual, note, duration.").tag(sync=True)
    selected = Unicode("", help="The id of the case whose conversation is shown.").tag(sync=True)
    conversation = Dict(help="The selected case: its notes and frames in order, and its frame table rows.").tag(sync=True)

    def __init__(self, result: Result, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.result = result
        with self.hold_sync():
            self.headline = result.headline()
            self.kind = result.kind
            self.sections = [{"section": name, **row} for name, row in result.sections.items()]
            self.cases = [c.as_dict(frames=False) for c in result.cases]
            first = next((c for c in result.cases if c.verdict.value != "OK"), result.cases[0] if result.cases else None)
            if first is not None:
                self.selected = first.id
        if first is not None and not self.conversation:
            self._on_selected({"new": first.id})
        self.on_msg(self._on_custom)

    def __repr__(self) -> str:
        # What nbconvert, a terminal or a notebook without the widget's JavaScript shows.
        return self.result.table()

    # -- the selected case --------------------------------------------------------------------------

    def _case(self, case_id: str) -> CaseResult | None:
        try:
            return self.result[case_id]
        except KeyError:
            return None

    @observe("selected")
    def _on_selected(self, change: dict[str, Any]) -> None:
        case = self._case(change["new"])
        if case is None:
            self.conversation = {}
            return
        records = case.records()
        rows: list[list[Any]] = []
        last: dict[int, float] = {}
        for r in records:
            previous = last.get(r.connection)
            rows.append(encode_row(r, None if previous is None else r.time - previous))
            last[r.connection] = r.time
        entries, frame = [], 0
        for e in case.trace.entries:
            item: dict[str, Any] = {"t": round(e.time, 6), "dir": e.direction, "text": e.text, "connection": e.connection}
            if e.frame is not None:
                item["frame"] = frame
                frame += 1
            entries.append(item)
        self.conversation = {"id": case.id, "entries": entries, "rows": rows, **case.as_dict(frames=False)}

    def select(self, case_id: str) -> dict[str, Any]:
        """Show this case's conversation (as clicking it does); returns what the view is sent."""
        if self._case(case_id) is None:
            raise KeyError(f"no case {case_id!r} in this result")
        self.selected = case_id
        return dict(self.conversation)

    def inspect(self, case_id: str, index: int) -> dict[str, Any]:
        """The inspector's view of one frame of a case (the bit diagram's input and the payload)."""
        case = self._case(case_id)
        records = case.records() if case is not None else []
        if not 0 <= index < len(records):
            return {"kind": "frame", "index": index, "missing": True}
        info, _ = detail(records[index])
        return {"kind": "frame", "case": case_id, **info}

    def _on_custom(self, widget: Any, content: Any, buffers: Any) -> None:
        try:
            if isinstance(content, dict) and content.get("kind") == "inspect":
                case = self._case(str(content.get("case")))
                index = int(content.get("index", -1))
                records = case.records() if case is not None else []
                if 0 <= index < len(records):
                    info, buffers = detail(records[index])  # the payload, and a compressed frame's wire bytes
                    self.send({"kind": "frame", "case": case.id, **info}, buffers)  # type: ignore[union-attr]
                else:
                    self.send({"kind": "frame", "index": index, "missing": True})
        except Exception:  # a message from the page must never raise in the kernel
            log.exception("wsplay check panel: a message from the page failed")
