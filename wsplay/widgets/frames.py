"""The frame table's Python half: which rows the browser gets, in bounded batches, and a frame's details.

The browser keeps the rows it was sent and draws only the visible ones; this side decides what it
is sent. Filters (connection, direction, type) and the search (plain text or a Python regex over the
decoded payload) are applied here, so a view shows exactly the frames that match, and any change
of them starts the table afresh (a reset). Each push sends at most `cap` rows: under heavy traffic
the newest rows go first and the ones skipped wait in a backlog that later pushes send as room
allows, so the table ends complete (for what the recorder still holds) while the bytes per second
stay bounded.

A row is a list (compact JSON): [index, time, connection, direction (0 in, 1 out), opcode, flags,
wire bytes (header and payload as they went over the wire), payload bytes (inflated, for a compressed
frame), seconds since the connection's previous frame or None, preview text (of the inflated payload)].
Flags: FIN 1, RSV1 2, RSV2 4, RSV3 8, MASK 16, CUT 32 (only part of the payload was kept),
DEFLATE 64 (a frame of a permessage-deflate compressed message; RSV1 is set on its first frame only).
"""

from __future__ import annotations

import re
from typing import Any

from wsplay.observe import FrameRecord, Recorder
from wsplay.protocol.frames import FrameType, close_code_name
from wsplay.widgets.html import preview

__all__ = ["FIN", "CUT", "DEFLATE", "MASK", "FrameFeed", "ROWS_PER_PUSH", "detail", "encode_row", "searchable"]

ROWS_PER_PUSH = 500  # rows in one push at most: ~100 bytes each, 10 pushes a second
INSPECT_BYTES = 256 * 1024  # payload bytes the inspector gets at most
FIN, RSV1, RSV2, RSV3, MASK, CUT, DEFLATE = 1, 2, 4, 8, 16, 32, 64
TYPES = ("TEXT", "BINARY", "CONTINUE", "CLOSE", "PING", "PONG", "data", "control", "reserved")
_LENGTH_FORMS = {7: "7-bit", 16: "16-bit extended", 64: "64-bit extended"}
_NAMES = {0: "CONTINUE", 1: "TEXT", 2: "BINARY", 8: "CLOSE", 9: "PING", 10: "PONG"}


def flags_of(r: FrameRecord) -> int:
    h = r.header
    return (FIN if h.fin else 0) | (RSV1 if h.rsv1 else 0) | (RSV2 if h.rsv2 else 0) | (RSV3 if h.rsv3 else 0) | (MASK if h.masked else 0) | (CUT if r.cut else 0) | (DEFLATE if r.compressed else 0)


def encode_row(r: FrameRecord, delta: float | None) -> list[Any]:
    """One table row (see the module docstring)."""
    return [
        r.index,
        round(r.time, 6),
        r.connection,
        0 if r.direction == "in" else 1,
        r.opcode,
        flags_of(r),
        len(r.header_bytes) + r.length,  # the header's length is the payload's on the wire
        r.payload_length,
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
    """Decides the rows each push sends to the browser (see the module docstring).

    It works on the recorder's raw records and builds a FrameRecord only for the rows it sends (and,
    while a search is active, for the frames it searches), so a push costs about the same however
    many frames arrived since the last one: under a flood the skipped frames are remembered as index
    ranges, not built.
    """

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
        self.matching = 0  # rows sent since the last reset
        self._pattern: re.Pattern[str] | None = None
        self._sent = -1  # the newest index looked at
        self._gaps: list[list[int]] = []  # [lo, hi] index ranges skipped in a burst, oldest first
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
        newest = rec.raw_records()[-1:] if rec is not None else []
        if newest:
            self.after = newest[-1][0]
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
        """Frames skipped in a burst and not sent yet (an upper bound when filters are on)."""
        return sum(hi - lo + 1 for lo, hi in self._gaps)

    # -- matching -----------------------------------------------------------------------------------

    def _searching(self) -> bool:
        return bool(self.query) and not self.error

    def matches(self, r: FrameRecord) -> bool:
        """Whether a frame passes the filters and the search (what the table shows)."""
        return self._matches_raw((r.index, r.time, r.connection, r.direction, r.header, None), r)

    def _matches_raw(self, t: tuple[Any, ...], record: FrameRecord | None = None) -> bool:
        if t[0] <= self.after:
            return False
        if self.connection is not None and t[2] != self.connection:
            return False
        if self.direction is not None and t[3] != self.direction:
            return False
        kind = self.type
        if kind is not None:
            header = t[4]
            opcode = header[0] & 0x0F if isinstance(header, (bytes, bytearray)) else header.opcode
            if kind == "data":
                if opcode not in (0, 1, 2):
                    return False
            elif kind == "control":
                if opcode not in (8, 9, 10):
                    return False
            elif kind == "reserved":
                if opcode in (0, 1, 2, 8, 9, 10):
                    return False
            elif _NAMES.get(opcode) != kind:
                return False
        if self._searching():
            if record is None:
                assert self.recorder is not None
                record = self.recorder.frames_of([t])[0]
            text = searchable(record)
            if self._pattern is not None:
                return self._pattern.search(text) is not None
            return self.query.lower() in text.lower()
        return True

    def _take(self, raw: list[tuple[Any, ...]], lo: int, hi: int, limit: int) -> tuple[list[int], int | None]:
        """Positions in `raw` of the newest (up to `limit`) matching frames with indexes lo..hi, oldest
        first, and the index below which the range was not looked at (None: all of it was)."""
        first = raw[0][0]
        found: list[int] = []
        match = self._matches_raw
        for pos in range(hi - first, lo - first - 1, -1):
            if len(found) == limit:
                return found[::-1], raw[pos][0] + 1
            if match(raw[pos]):
                found.append(pos)
        return found[::-1], None

    def _encode(self, raw: list[tuple[Any, ...]], positions: list[int]) -> list[list[Any]]:
        assert self.recorder is not None
        records = self.recorder.frames_of([raw[p] for p in positions])
        rows = []
        for pos, r in zip(positions, records):
            conn, t = raw[pos][2], raw[pos][1]
            delta = None
            for j in range(pos - 1, max(-1, pos - 2000), -1):  # the connection's previous frame, if near
                if raw[j][2] == conn:
                    delta = t - raw[j][1]
                    break
            rows.append(encode_row(r, delta))
        self.matching += len(rows)
        return rows

    # -- pushing (the refresher's thread, under the panel's lock) -----------------------------------

    def push(self) -> dict[str, Any] | None:
        """The next batch: {"reset": bool, "rows": [...newer...], "back": [...older, to merge...]}, or None."""
        rec = self.recorder
        reset = self._reset
        if reset:
            self._reset = False
            self._gaps = []
            self.matching = 0
            self._sent = -1
            if rec is None or self.paused:
                if rec is not None:
                    self._sent = rec.recorded - 1  # unpausing starts afresh anyway
                return {"reset": True, "rows": [], "back": []}
        if rec is None or self.paused:
            return None
        raw = rec.raw_records()
        if not raw:
            return {"reset": True, "rows": [], "back": []} if reset else None
        first, newest = raw[0][0], raw[-1][0]
        rows: list[list[Any]] = []
        if newest > self._sent:
            start = max(self._sent + 1, first)
            self._sent = newest
            positions, stopped = self._take(raw, start, newest, self.cap)
            if stopped is not None:
                self._gaps.append([start, stopped - 1])
            rows = self._encode(raw, positions)
        back: list[list[Any]] = []
        room = self.cap - len(rows)
        while room > 0 and self._gaps:
            lo, hi = self._gaps[-1]
            lo = max(lo, first)  # what the recorder has dropped cannot be sent any more
            if hi < lo:
                self._gaps.pop()
                continue
            positions, stopped = self._take(raw, lo, hi, room)
            if stopped is None:
                self._gaps.pop()
            else:
                self._gaps[-1] = [lo, stopped - 1]
            back = self._encode(raw, positions) + back
            room -= len(positions)
        self._gaps = [[max(lo, first), hi] for lo, hi in self._gaps if hi >= first]
        if not rows and not back and not reset:
            return None
        back.sort(key=lambda row: row[0])
        return {"reset": reset, "rows": rows, "back": back}


def detail(r: FrameRecord) -> tuple[dict[str, Any], list[bytes]]:
    """What the inspector shows of one frame (JSON) and the buffers sent with it: the payload as kept
    (inflated, for a compressed frame) and, for a compressed frame, its payload as it was on the wire
    (unmasked: the deflate data)."""
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
        "length": r.length,  # the payload's length on the wire, as the header says it
        "length_form": r.length_form,
        "length_form_name": _LENGTH_FORMS.get(r.length_form, str(r.length_form)),
        "header": r.header_bytes.hex(),
        "payload_length": r.payload_length,  # as the application sees it: inflated if compressed
        "kept": len(r.payload),
        "sent": len(payload),
        "cut": r.cut,
        "text": r.opcode in (FrameType.TEXT, FrameType.CONTINUE),
        "close": None,
        "compressed": r.compressed,
        "ratio": None if r.ratio is None else round(r.ratio, 4),
    }
    buffers = [bytes(payload)]
    if r.wire is not None:
        wire = r.wire[:INSPECT_BYTES]
        out.update(wire_kept=len(r.wire), wire_sent=len(wire))
        buffers.append(bytes(wire))
    info = r.close_info()
    if info is not None:
        code, reason = info
        out["close"] = {"code": code, "name": close_code_name(code), "reason": reason}
    elif r.opcode == FrameType.CLOSE:
        out["close"] = {"code": None, "name": "no status code in the frame (reported as 1005)", "reason": ""}
    return out, buffers
