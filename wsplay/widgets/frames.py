"""The frame table's Python half: which rows the browser gets, in bounded batches, and a frame's details.

The browser keeps the rows it was sent and draws only the visible ones; this side decides what it
is sent. Filters (connection, direction, type) and the search (plain text or a Python regex over the
decoded payload) are applied here, so a view shows exactly the frames that match, and any change
of them starts the table afresh (a reset). Each push sends at most `cap` rows: under heavy traffic
the newest rows go first and the ones skipped wait in a backlog that later pushes send as room
allows, so the table ends complete (for what the recorder still holds) while the bytes per second
stay bounded.

A row is a list (compact JSON): [index, time, connection, direction (0 in, 1 out), opcode, flags,
wire bytes, payload bytes, seconds since the connection's previous frame or None, preview text].
Flags: FIN 1, RSV1 2, RSV2 4, RSV3 8, MASK 16, CUT 32 (only part of the payload was kept).
"""

from __future__ import annotations

import collections
import re
from typing import Any

from wsplay.observe import FrameRecord, Recorder
from wsplay.protocol.frames import FrameType, close_code_name
from wsplay.widgets.html import preview

__all__ = ["FIN", "CUT", "MASK", "FrameFeed", "ROWS_PER_PUSH", "detail", "encode_row", "searchable"]

ROWS_PER_PUSH = 500  # rows in one push at most: ~100 bytes each, 10 pushes a second
INSPECT_BYTES = 256 * 1024  # payload bytes the inspector gets at most
FIN, RSV1, RSV2, RSV3, MASK, CUT = 1, 2, 4, 8, 16, 32
TYPES = ("TEXT", "BINARY", "CONTINUE", "CLOSE", "PING", "PONG", "data", "control", "reserved")
_LENGTH_FORMS = {7: "7-bit", 16: "16-bit extended", 64: "64-bit extended"}


def flags_of(r: FrameRecord) -> int:
    h = r.header
    return (FIN if h.fin else 0) | (RSV1 if h.rsv1 else 0) | (RSV2 if h.rsv2 else 0) | (RSV3 if h.rsv3 else 0) | (MASK if h.masked else 0) | (CUT if r.cut else 0)


def encode_row(r: FrameRecord, delta: float | None) -> list[Any]:
    """One table row (see the module docstring)."""
    return [
        r.index,
        round(r.time, 6),
        r.connection,
        0 if r.direction == "in" else 1,
        r.opcode,
        flags_of(r),
        len(r.header_bytes) + r.length,
        r.length,
        None if delta is None else round(delta, 6),
        preview(r.opcode, r.payload[:512]),
    ]


def searchable(r: FrameRecord) -> str:
    """What the search box looks through: the payload decoded as text (UTF-8, bad bytes replaced);
    for a close frame its code, the code's name and the reason; for binary payloads their hex too."""
    data = r.payload
    if r.opcode == FrameType.CLOSE and len(data) >= 2:
        code = int.from_bytes(data[:2], "big")
        return f"{code} {close_code_name(code)} {data[2:].decode('utf-8', 'replace')}"
    text = data.decode("utf-8", "replace")
    if r.opcode in (FrameType.TEXT, FrameType.CONTINUE):
        return text
    return f"{text} {data[:4096].hex(' ')}"


class FrameFeed:
    """Decides the rows each push sends to the browser (see the module docstring)."""

    def __init__(self, recorder: Recorder | None, cap: int = ROWS_PER_PUSH) -> None:
        self.recorder = recorder
        self.cap = cap
        self.connection: int | None = None
        self.direction: str | None = None
        self.type: str | None = None
        self.query = ""
        self.regex = False
        self.error = ""  # why the search pattern is not used ('' when it is)
        self.after = -1  # Clear: frames up to this index are not shown
        self.paused = False
        self.matching = 0  # rows that matched since the last reset
        self._pattern: re.Pattern[str] | None = None
        self._sent = -1  # the newest index looked at
        self._last: dict[int, float] = {}  # connection -> time of its newest frame seen (for deltas)
        self._backlog: collections.deque[list[Any]] = collections.deque()  # rows skipped, oldest first
        self._reset = True

    # -- settings (the kernel's main thread, under the panel's lock) --------------------------------

    def configure(self, connection: Any = None, direction: Any = None, type: Any = None, query: str = "", regex: bool = False) -> None:
        """Set the filters and the search; the table starts afresh."""
        self.connection = connection if isinstance(connection, int) else None
        self.direction = direction if direction in ("in", "out") else None
        self.type = type if type in TYPES else None
        self.query, self.regex, self.error, self._pattern = query or "", bool(regex), "", None
        if self.query and self.regex:
            try:
                self._pattern = re.compile(self.query)
            except re.error as exc:
                self.error = f"not a regular expression: {exc}"
        self.reset()

    def clear(self) -> None:
        """Hide the frames logged so far (the recorder keeps them)."""
        rec = self.recorder
        newest = rec.frames(last=1) if rec is not None else []
        if newest:
            self.after = newest[-1].index
        self.reset()

    def set_recorder(self, recorder: Recorder | None) -> None:
        self.recorder = recorder
        self.after = -1
        self.reset()

    def reset(self) -> None:
        """Send the table afresh at the next push (after a filter change, a new view, Clear)."""
        self._reset = True

    @property
    def backlog(self) -> int:
        return len(self._backlog)

    # -- matching -----------------------------------------------------------------------------------

    def matches(self, r: FrameRecord) -> bool:
        if r.index <= self.after:
            return False
        if self.connection is not None and r.connection != self.connection:
            return False
        if self.direction is not None and r.direction != self.direction:
            return False
        kind = self.type
        if kind is not None:
            if kind == "data":
                if r.opcode not in (0, 1, 2):
                    return False
            elif kind == "control":
                if r.opcode not in (8, 9, 10):
                    return False
            elif kind == "reserved":
                if r.header.type is not None:
                    return False
            elif r.type_name != kind:
                return False
        if self.query and not self.error:
            text = searchable(r)
            if self._pattern is not None:
                return self._pattern.search(text) is not None
            return self.query.lower() in text.lower()
        return True

    def _rows(self, frames: list[FrameRecord]) -> list[list[Any]]:
        """Rows of the matching frames, with each frame's delta to its connection's previous frame."""
        rows = []
        last = self._last
        for r in frames:
            before = last.get(r.connection)
            last[r.connection] = r.time
            if self.matches(r):
                rows.append(encode_row(r, None if before is None else r.time - before))
        self.matching += len(rows)
        return rows

    # -- pushing (the refresher's thread, under the panel's lock) -----------------------------------

    def push(self) -> dict[str, Any] | None:
        """The next batch: {"reset": bool, "rows": [...newer...], "back": [...older, to merge...]}, or None."""
        rec = self.recorder
        if self._reset:
            self._reset = False
            self._backlog.clear()
            self._last = {}
            self.matching = 0
            if rec is None:
                return {"reset": True, "rows": [], "back": []}
            frames = rec.frames()
            self._sent = frames[-1].index if frames else rec.first_index - 1
            if self.paused:
                self._sent = rec.first_index - 1  # unpausing starts afresh anyway
                return {"reset": True, "rows": [], "back": []}
            everything = self._rows(frames)
            self._backlog.extend(everything[: -self.cap])
            return {"reset": True, "rows": everything[-self.cap :], "back": []}
        if rec is None or self.paused:
            return None
        new = rec.frames(since=self._sent)
        rows: list[list[Any]] = []
        if new:
            self._sent = new[-1].index
            rows = self._rows(new)
            if len(rows) > self.cap:
                self._backlog.extend(rows[: -self.cap])
                rows = rows[-self.cap :]
        back: list[list[Any]] = []
        room = self.cap - len(rows)
        while room > 0 and self._backlog:
            back.append(self._backlog.pop())  # the newest skipped rows first
            room -= 1
        limit = rec.max_frames or 0
        while len(self._backlog) > limit:  # the browser keeps at most the recorder's number of rows
            self._backlog.popleft()
        if not rows and not back:
            return None
        back.reverse()
        return {"reset": False, "rows": rows, "back": back}


def detail(r: FrameRecord) -> tuple[dict[str, Any], bytes]:
    """What the inspector shows of one frame (JSON) and its payload as kept (the buffer sent with it)."""
    h = r.header
    payload = r.payload[:INSPECT_BYTES]
    out: dict[str, Any] = {
        "index": r.index,
        "time": r.time,
        "connection": r.connection,
        "direction": r.direction,
        "opcode": r.opcode,
        "type": r.type_name,
        "fin": h.fin,
        "rsv": [h.rsv1, h.rsv2, h.rsv3],
        "masked": h.masked,
        "mask_key": h.mask_key.hex() if h.mask_key else None,
        "length": r.length,
        "length_form": r.length_form,
        "length_form_name": _LENGTH_FORMS.get(r.length_form, str(r.length_form)),
        "header": r.header_bytes.hex(),
        "kept": len(r.payload),
        "sent": len(payload),
        "cut": r.cut,
        "text": r.opcode in (FrameType.TEXT, FrameType.CONTINUE),
        "close": None,
    }
    info = r.close_info()
    if info is not None:
        code, reason = info
        out["close"] = {"code": code, "name": close_code_name(code), "reason": reason}
    elif r.opcode == FrameType.CLOSE:
        out["close"] = {"code": None, "name": "no status code in the frame (reported as 1005)", "reason": ""}
    return out, bytes(payload)
