"""The frame log (one Select of the newest rows, with filters) and the frame inspector (one HTML).

Both are shared by the server and the client panel, and both are redrawn only by their panel's
refresher or by the user's own clicks, always under the panel's lock.
"""

from __future__ import annotations

import threading
from typing import Any

import ipywidgets as widgets
from traitlets import Bool, Int, link, observe

from wsplay.observe import FrameRecord, Recorder
from wsplay.protocol.frames import FrameType, close_code_name
from wsplay.widgets.html import esc, fmt_time, hexdump, preview, table
from wsplay.widgets.refresh import assign, select_value

__all__ = ["FrameInspector", "FrameLog", "row_label"]

_LENGTH_FORMS = {
    7: "7-bit (in the second header byte)",
    16: "16-bit extended (126 in the second byte, then 2 bytes)",
    64: "64-bit extended (127 in the second byte, then 8 bytes)",
}
_DIRECTIONS = {"in": "in (received)", "out": "out (sent)"}
_TYPES = [
    ("all types", None),
    ("TEXT", "TEXT"),
    ("BINARY", "BINARY"),
    ("CONTINUE", "CONTINUE"),
    ("CLOSE", "CLOSE"),
    ("PING", "PING"),
    ("PONG", "PONG"),
    ("data frames", "data"),
    ("control frames", "control"),
    ("reserved opcodes", "reserved"),
]
COLUMNS = f"{'#':>6} {'time':<12} {'conn':<5} {'dir':<3} {'type':<9} {'F123M':<5} {'length':>7}  payload"


def row_label(r: FrameRecord) -> str:
    """One frame log row as plain text (a Select renders it with textContent, never as HTML)."""
    flags = ("F" if r.fin else "-") + "".join("1" if b else "-" for b in r.rsv) + ("M" if r.masked else "-")
    return (
        f"{r.index:>6} {fmt_time(r.time)} c{r.connection:<4} {r.direction:<3} {r.type_name:<9} "
        f"{flags} {r.length:>7}  {preview(r.opcode, r.preview)}"
    )


def _matches(r: FrameRecord, conn: int | None, direction: str | None, kind: str | None) -> bool:
    if conn is not None and r.connection != conn:
        return False
    if direction is not None and r.direction != direction:
        return False
    if kind is None:
        return True
    if kind == "data":
        return r.opcode in (0, 1, 2)
    if kind == "control":
        return r.opcode in (8, 9, 10)
    if kind == "reserved":
        return r.header.type is None
    return r.type_name == kind


class FrameInspector(widgets.VBox):
    """Every header field of one frame, its header bytes in hex, and its payload as text or hex dump."""

    def __init__(self, lock: threading.RLock | None = None, **kwargs: Any) -> None:
        self._lock = lock or threading.RLock()
        self.record: FrameRecord | None = None
        self._view = widgets.ToggleButtons(
            options=[("auto", "auto"), ("text", "text"), ("hex", "hex")],
            value="auto",
            tooltips=["text for text frames, hex dump otherwise", "payload as UTF-8 text", "payload as a hex dump"],
            style={"button_width": "52px"},
        )
        self._html = widgets.HTML(self._render(None))
        super().__init__(children=[self._html, self._view], **kwargs)
        self._view.observe(self._on_view, "value")

    def show(self, record: FrameRecord | None) -> int:
        """Show `record` (None: nothing); return 1 when the widget changed."""
        with self._lock:
            self.record = record
            return assign(self._html, value=self._render(record))

    def _on_view(self, change: Any) -> None:
        self.show(self.record)

    def _render(self, r: FrameRecord | None) -> str:
        if r is None:
            return '<span class="wsplay-muted">select a frame in the log to inspect it</span>'
        kind = r.header.type
        opcode = f"{r.opcode:#x} {kind.name}" if kind is not None else f'{r.opcode:#x} <span class="wsplay-warn">reserved opcode</span>'
        rsv = " ".join(str(int(b)) for b in r.rsv)
        if any(r.rsv):
            rsv += ' <span class="wsplay-warn">(set: only an extension may use these)</span>'
        rows = [
            ("frame", f"#{r.index} · connection {r.connection} · {_DIRECTIONS.get(r.direction, esc(r.direction))} · {fmt_time(r.time)}"),
            ("FIN", "1 (final frame of its message)" if r.fin else "0 (more fragments follow)"),
            ("RSV1 RSV2 RSV3", rsv),
            ("opcode", opcode),
            ("MASK", "1" if r.masked else "0"),
            ("mask key", r.mask_key.hex(" ") if r.mask_key else "—"),
            ("payload length", f"{r.length} bytes · {_LENGTH_FORMS.get(r.length_form, str(r.length_form))}"),
            ("header bytes", f'<span class="wsplay-mono">{r.header_bytes.hex(" ")}</span>'),
        ]
        info = r.close_info()
        if info is not None:
            code, reason = info
            rows.append(("close code", f"{code} ({esc(close_code_name(code))})"))
            rows.append(("close reason", esc(reason) if reason else "—"))
        elif r.opcode == FrameType.CLOSE:
            rows.append(("close code", "none in the frame (reported as 1005, no status received)"))
        out = table(["field", "value"], rows)
        view = self._view.value
        if view == "auto":
            view = "text" if r.opcode in (FrameType.TEXT, FrameType.CONTINUE) else "hex"
        if not r.preview:
            body = '<span class="wsplay-muted">(empty payload)</span>'
        elif view == "text":
            body = f"<pre>{esc(r.preview.decode('utf-8', 'replace'))}</pre>"
        else:
            body = f"<pre>{esc(hexdump(r.preview))}</pre>"
        note = f" (the first {len(r.preview)} of {r.length} bytes were kept)" if r.truncated else ""
        return f"{out}<div><b>payload</b>{note}</div>{body}"


class FrameLog(widgets.VBox):
    """The newest frames of a recorder, newest first, filtered by connection, direction and type.

    Selecting a row shows the frame in `inspector`. The log shows at most `max_rows` rows and a
    counter of everything recorded; `paused` freezes it, the Clear button hides what came before.
    """

    selected = Int(None, allow_none=True, help="Recorder index of the frame shown in the inspector (None: none).")
    paused = Bool(False, help="True freezes the rows shown (recording goes on).")

    def __init__(
        self,
        recorder: Recorder | None = None,
        lock: threading.RLock | None = None,
        max_rows: int = 200,
        show_connection: bool = True,
        **kwargs: Any,
    ) -> None:
        self._lock = lock or threading.RLock()
        self.recorder = recorder
        self.max_rows = max_rows
        self._after = -1  # rows with an index up to this one were cleared away
        self._drawn: Any = None
        self._visible: dict[int, FrameRecord] = {}
        self._updating = False
        small = widgets.Layout(width="auto")
        self._conn = widgets.Dropdown(options=[("all connections", None)], index=0, layout=small)
        self._conn.layout.display = None if show_connection else "none"
        self._dir = widgets.Dropdown(options=[("both directions", None), ("in: received", "in"), ("out: sent", "out")], index=0, layout=small)
        self._type = widgets.Dropdown(options=_TYPES, index=0, layout=small)
        self._pause = widgets.ToggleButton(description="Pause", icon="pause", tooltip="freeze the log (recording goes on)", layout=small)
        self._clear = widgets.Button(description="Clear", icon="eraser", tooltip="hide the frames logged so far", layout=small)
        self._head = widgets.HTML()
        self._rows = widgets.Select(options=[], rows=14, layout=widgets.Layout(width="100%"))
        self._rows.add_class("wsplay-log")
        self.inspector = FrameInspector(self._lock, layout=widgets.Layout(flex="1 1 360px", min_width="300px"))
        log_box = widgets.VBox([self._head, self._rows], layout=widgets.Layout(flex="1 1 560px", min_width="360px"))
        super().__init__(
            children=[
                widgets.HBox([self._conn, self._dir, self._type, self._pause, self._clear]),
                widgets.HBox([log_box, self.inspector], layout=widgets.Layout(flex_flow="row wrap", width="100%")),
            ],
            **kwargs,
        )
        link((self._pause, "value"), (self, "paused"))
        for control in (self._conn, self._dir, self._type):
            control.observe(self._on_filter, "value")
        self._rows.observe(self._on_row, "value")
        self._clear.on_click(lambda _: self.clear())
        self.redraw()

    # -- user actions (kernel main thread) ----------------------------------------------------------

    def clear(self) -> None:
        """Hide the frames logged so far (the recorder keeps them: `host.frames` still has them)."""
        with self._lock:
            rec = self.recorder
            frames = rec.frames() if rec is not None else []
            self._after = frames[-1].index if frames else self._after
            self.selected = None
            self.redraw()

    def select(self, index: int | None) -> None:
        """Show the frame with this recorder index in the inspector."""
        with self._lock:
            self.selected = index

    @observe("selected")
    def _on_selected(self, change: Any) -> None:
        with self._lock:
            index = change["new"]
            record = None
            if index is not None:
                record = self._visible.get(index)
                if record is None and self.recorder is not None:
                    record = next((r for r in self.recorder.frames() if r.index == index), None)
            self.inspector.show(record)
            if not self._updating and self._rows.value != (index if index in self._visible else None):
                self._updating = True
                try:
                    self._rows.value = index if index in self._visible else None
                finally:
                    self._updating = False

    @observe("paused")
    def _on_paused(self, change: Any) -> None:
        with self._lock:
            self.redraw()

    def _on_filter(self, change: Any) -> None:
        if not self._updating:
            with self._lock:
                self.redraw()

    def _on_row(self, change: Any) -> None:
        if not self._updating and change["new"] is not None:
            with self._lock:
                self.selected = change["new"]

    # -- redrawing (the panel's refresher, under the lock) -----------------------------------------

    def set_connections(self, ids: list[int]) -> int:
        """Offer these connections in the filter; return 1 when the dropdown changed."""
        options = [("all connections", None)] + [(f"connection {i}", i) for i in ids]
        if list(self._conn.options) == options:
            return 0
        value = self._conn.value if self._conn.value in ids else None
        self._updating = True
        try:
            with self._conn.hold_sync():
                self._conn.options = options
                select_value(self._conn, value)
        finally:
            self._updating = False
        return 1

    def redraw(self) -> int:
        """Redraw from the recorder when it or a filter changed; return the widgets changed."""
        rec = self.recorder
        if rec is None:
            self._drawn = None
            return assign(self._head, value='<span class="wsplay-muted">no recorder yet (not connected)</span>')
        if self.paused:
            return assign(self._head, value=self._head.value.replace(" · live", " · paused"))
        conn, direction, kind = self._conn.value, self._dir.value, self._type.value
        key = (id(rec), rec.version, conn, direction, kind, self._after)
        if key == self._drawn:
            return 0
        self._drawn = key
        frames = rec.frames()
        total = frames[-1].index - self._after if frames else 0  # indexes count every frame recorded
        matching = [r for r in frames if r.index > self._after and _matches(r, conn, direction, kind)]
        shown = matching[-self.max_rows :][::-1]
        self._visible = {r.index: r for r in shown}
        sent = assign(self._head, value=self._header(rec, len(shown), len(matching), total))
        options = [(row_label(r), r.index) for r in shown]
        if options != list(self._rows.options):
            keep = self.selected if self.selected in self._visible else None
            self._updating = True
            try:
                with self._rows.hold_sync():
                    self._rows.index = None  # so that new options do not select the first row
                    self._rows.options = options
                    self._rows.value = keep
            finally:
                self._updating = False
            sent += 1
        return sent

    def _header(self, rec: Recorder, shown: int, matching: int, total: int) -> str:
        if not rec.enabled:
            return '<span class="wsplay-muted">recording is off for this host (.record(False))</span>'
        since = "since Clear" if self._after >= 0 else "recorded"
        parts = [f"{shown} shown (newest first) of {matching:,} matching", f"{total:,} {since}"]
        if rec.dropped:
            parts.append(f"the log keeps the last {rec.max_frames:,}")
        counter = " · ".join(parts) + " · live"
        return f'<div class="wsplay-muted">{counter}</div><pre class="wsplay-mono" style="margin:0">{COLUMNS}</pre>'
