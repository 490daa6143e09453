"""What happened, for the panels and for you: connections, frames both ways, and pitfalls, in a bounded recorder.

The engine and the client record; widgets and notebook code read snapshots. Recording a frame is
one tuple appended to a bounded deque (records are built only when a snapshot asks), so it stays
cheap on the hot path; appends and snapshots are single C-level deque operations, safe across the
loop thread and a notebook cell.

Payloads: a frame of at most PREVIEW bytes is always kept whole. Larger payloads are kept whole while
the recorder's payload budget (`payload_bytes`, 1 MiB by default) has room, counting the large
payloads still in the log; beyond it only their first PREVIEW bytes are kept, and the record says so
(`FrameRecord.cut`). Keeping a payload whole copies nothing (the record holds the bytes object the
handler got); a payload that is not `bytes` (a borrowed view under do_not_allocate_frame_data(), a
bytearray written) keeps only its first PREVIEW bytes, since copying it whole would allocate what
borrowing saves. Export a session with `to_har()` / `to_jsonl()` (wsplay.observe.export).
"""

from __future__ import annotations

import collections
import dataclasses
import itertools
import time
from pathlib import Path
from typing import Any

from wsplay.observe.events import Event
from wsplay.observe.export import export, to_har, to_jsonl
from wsplay.observe.records import PREVIEW, Counters, Deflated, FrameRecord
from wsplay.protocol.frames import Header, apply_mask

__all__ = ["KEEP_CLOSED", "PAYLOAD_BUDGET", "Recorder"]

# Whole payloads kept per recorder, beyond PREVIEW bytes each: enough for the latest large message or
# two. Not more by default: every payload held is memory the allocator cannot hand out again while it
# is warm in the cache, and large traffic pays for that (W4, 1 MiB messages as 16 KiB fragments:
# 3-8% slower with 1 MiB kept, 11% with 4 MiB, 24% with 64 MiB; benchmarks/README.md).
PAYLOAD_BUDGET = 1024 * 1024
_monotonic = time.monotonic  # asyncio's loop.time(): records keep it, snapshots show wall-clock time
KEEP_CLOSED = 1000  # closed connections whose counters are kept (a long-running host forgets older ones)


class Recorder:
    """A bounded, thread-safe log of frames and events.

    Args:
        max_frames: frames kept (the oldest are dropped); 0 keeps none but still counts.
        max_events: events kept.
        enabled: False records nothing at all (the engine skips the calls).
        payload_bytes: bytes of whole payloads larger than PREVIEW kept in the log at once; beyond
            it such payloads keep their first PREVIEW bytes (the record's `cut` says so).
        side: "server" or "client": whose records these are (HAR export and replay need it).

    """

    def __init__(
        self,
        max_frames: int = 2000,
        max_events: int = 1000,
        enabled: bool = True,
        payload_bytes: int = PAYLOAD_BUDGET,
        side: str = "server",
    ) -> None:
        self.enabled = enabled
        self.max_frames = max_frames
        self.payload_bytes = payload_bytes
        self.side = side
        # Records keep the loop's monotonic clock; snapshots add this offset to show wall-clock time.
        # One offset per recorder, so every snapshot (and export) gives a frame the same time.
        self._offset = time.time() - time.monotonic()
        self._big: collections.deque[tuple[int, int]] = collections.deque()  # (index, size) of payloads > PREVIEW kept whole
        self._kept = 0  # their bytes
        self._frames: collections.deque[tuple[Any, ...]] = collections.deque(maxlen=max_frames)
        self._events: collections.deque[Event] = collections.deque(maxlen=max_events)
        self._counters: dict[int, Counters] = {}
        self._retired: collections.deque[int] = collections.deque()
        self._append = self._frames.append
        self._n = 0  # frames recorded so far (the index the next one gets)
        self._cleared = 0
        self._changes = 0  # events recorded or updated, clears

    # -- recording (loop thread) ----------------------------------------------------------------

    def frame(self, connection: int, direction: str, header: Header | bytes, payload: Any) -> None:
        """Record one frame; `header` is a Header or the raw header bytes (parsed only when read)."""
        record = self.frame_in if direction == "in" else self.frame_out
        record(self.counters_of(connection), connection, header, payload, _monotonic())

    # The two hot paths. The caller keeps its connection's Counters (counters_of) and passes the
    # loop's time it already has (time.monotonic()); a record is a tuple of plain values, which the
    # garbage collector stops visiting, and becomes a FrameRecord only when a snapshot asks.

    def frame_in(self, counters: Counters, connection: int, header: Header | bytes, payload: Any, when: float) -> None:
        n = len(payload)
        counters.frames_in += 1
        counters.bytes_in += n
        if self.max_frames:
            i = self._n
            self._n = i + 1
            # bytes are kept as they are (no copy: the very object the handler got), whole while the
            # payload budget has room. Anything else, a borrowed view above all, must be copied since
            # its buffer will be reused: only its first PREVIEW bytes are, so that recording never
            # allocates what do_not_allocate_frame_data() saves.
            if type(payload) is bytes:
                self._append((i, when, connection, "in", header, payload if n <= PREVIEW or self._room(i, n) else payload[:PREVIEW]))
            else:
                self._append((i, when, connection, "in", header, bytes(payload[:PREVIEW])))

    def frame_out(self, counters: Counters, connection: int, header: Header | bytes, payload: Any, when: float) -> None:
        n = len(payload)
        counters.frames_out += 1
        counters.bytes_out += n
        if self.max_frames:
            i = self._n
            self._n = i + 1
            if type(payload) is bytes:
                self._append((i, when, connection, "out", header, payload if n <= PREVIEW or self._room(i, n) else payload[:PREVIEW]))
            else:
                self._append((i, when, connection, "out", header, bytes(payload[:PREVIEW])))

    def frame_out_wire(self, counters: Counters, connection: int, wire: bytes, length: int, when: float) -> None:
        """Record a whole frame as sent (header and payload in one object; split, and unmasked, when read)."""
        counters.frames_out += 1
        counters.bytes_out += length
        if self.max_frames:
            i = self._n
            self._n = i + 1
            keep = wire if length <= PREVIEW or self._room(i, length) else wire[: PREVIEW + 14]
            self._append((i, when, connection, "out", keep, None))

    def frame_deflated(
        self, counters: Counters, connection: int, direction: str, header: Header | bytes, payload: Any, wire: Any, when: float
    ) -> None:
        """Record a frame of a compressed message: its payload inflated, and as it was on the wire (unmasked)."""
        n, w = len(payload), len(wire)
        if direction == "in":
            counters.frames_in += 1
            counters.bytes_in += n
            counters.deflated_in += w
            counters.inflated_in += n
        else:
            counters.frames_out += 1
            counters.bytes_out += n
            counters.deflated_out += w
            counters.inflated_out += n
        if self.max_frames:
            i = self._n
            self._n = i + 1
            whole = type(payload) is bytes and (n + w <= 2 * PREVIEW or self._room(i, n + w))
            kept = Deflated(payload if whole else bytes(payload[:PREVIEW]), bytes(wire) if whole else bytes(wire[:PREVIEW]), n)
            self._append((i, when, connection, direction, header, kept))

    def _room(self, index: int, size: int) -> bool:
        """Whether a payload of `size` (> PREVIEW) bytes fits the budget; if so it is counted in."""
        big = self._big
        gone = index - self.max_frames  # records at or below this index have left the bounded log
        while big and big[0][0] <= gone:
            self._kept -= big.popleft()[1]
        if self._kept + size > self.payload_bytes:
            return False
        big.append((index, size))
        self._kept += size
        return True

    @property
    def kept_bytes(self) -> int:
        """Bytes of whole payloads larger than PREVIEW in the log now (at most `payload_bytes`)."""
        return self._kept

    @property
    def version(self) -> int:
        """Grows with every record; a panel redraws only when it changed."""
        return self._n + self._changes

    def counters_of(self, connection: int) -> Counters:
        """The live counters of a connection (created on first use)."""
        counters = self._counters.get(connection)
        if counters is None:
            counters = self._counters[connection] = Counters()
        return counters

    @property
    def first_index(self) -> int:
        """The index of the oldest frame still in the log (the next index when the log is empty)."""
        return self._n - len(self._frames)

    @property
    def dropped(self) -> int:
        """Frames recorded that fell off the bounded log."""
        return self._n - self._cleared - len(self._frames)

    def event(self, event: Event) -> Event:
        """Record an event (and return it, so a live one can be updated later with `touch`)."""
        self._events.append(event)
        self._changes += 1
        return event

    def touch(self) -> None:
        """Say that a recorded event was updated in place (an ongoing stall that ended)."""
        self._changes += 1

    def clear(self) -> None:
        """Forget the logged frames and events (counters stay)."""
        self._cleared += len(self._frames)
        self._frames.clear()
        self._events.clear()
        self._big = collections.deque()
        self._kept = 0
        self._changes += 1

    def retire(self, connection: int) -> None:
        """Note that a connection closed: its counters stay for the latest KEEP_CLOSED closed ones."""
        retired = self._retired
        retired.append(connection)
        while len(retired) > KEEP_CLOSED:
            self._counters.pop(retired.popleft(), None)

    # -- reading (any thread) -------------------------------------------------------------------

    def frames(self, connection: int | None = None, last: int | None = None, since: int | None = None) -> list[FrameRecord]:
        """A snapshot of the logged frames, oldest first.

        Args:
            connection: only this connection's frames.
            last: only the `last` few frames (when no connection is given).
            since: only frames whose index is above this one (cheap: the older ones are not built).
        """
        rows: Any = self._frames.copy()
        if since is not None and rows:
            # Indexes in the log are consecutive, so the newer ones are the last (newest - since).
            newer = rows[-1][0] - since
            rows = itertools.islice(rows, max(0, len(rows) - max(0, newer)), None)
        elif last is not None and connection is None:
            rows = itertools.islice(rows, max(0, len(rows) - last), None)
        return self.frames_of(rows, connection)

    def frames_of(self, rows: Any, connection: int | None = None) -> list[FrameRecord]:
        """FrameRecords from raw records (tuples as the hot paths append them)."""
        out = []
        offset = self._offset
        for index, t, conn, direction, header, preview in rows:
            t += offset
            if connection is not None and conn != connection:
                continue
            if not isinstance(header, Header):
                wire = header
                header = Header.parse(wire)
                if preview is None:  # recorded whole (or cut) by frame_out_wire, as sent: a client's is masked
                    preview = wire[len(header.header_bytes) :]
                    if header.mask_key is not None:
                        preview = apply_mask(preview, header.mask_key)
            if type(preview) is Deflated:
                out.append(FrameRecord(index, t, conn, direction, header, preview.payload, preview.wire, preview.length))
            else:
                out.append(FrameRecord(index, t, conn, direction, header, preview))
        return out

    def raw_records(self) -> list[tuple[Any, ...]]:
        """The log as the hot paths keep it, oldest first: (index, monotonic time, connection,
        direction, header or whole-frame bytes, payload or None). Cheap (one copy of the deque);
        `frames_of()` turns the ones you need into FrameRecords. Indexes are consecutive."""
        return list(self._frames.copy())

    def find(self, index: int) -> FrameRecord | None:
        """The frame with this index, if the log still has it."""
        rows = self._frames.copy()
        if not rows:
            return None
        pos = index - rows[0][0]
        if not 0 <= pos < len(rows):
            return None
        out = self.frames_of(itertools.islice(rows, pos, pos + 1))
        return out[0] if out else None

    @property
    def recorded(self) -> int:
        """Frames recorded so far (also those the bounded log has dropped or Clear hid)."""
        return self._n

    def totals(self) -> Counters:
        """Counters summed over every connection still counted (the latest KEEP_CLOSED closed ones and the open ones)."""
        total = Counters()
        for _ in range(5):
            try:
                counters = list(self._counters.values())
                break
            except RuntimeError:  # the loop thread added a connection while we copied: again
                continue
        else:
            return total
        for c in counters:
            total.frames_in += c.frames_in
            total.frames_out += c.frames_out
            total.bytes_in += c.bytes_in
            total.bytes_out += c.bytes_out
        return total

    def events(self, kind: str | None = None) -> list[Event]:
        """A snapshot of the events, oldest first (only those of `kind`, e.g. "stall", when given)."""
        events = list(self._events.copy())
        return [e for e in events if e.kind == kind] if kind else events

    def counters(self, connection: int) -> Counters:
        counters = self._counters.get(connection)
        return dataclasses.replace(counters) if counters is not None else Counters()

    def to_dataframe(self, what: str = "frames") -> Any:
        """The frames (or events) as a pandas DataFrame; needs pandas."""
        try:
            import pandas as pd
        except ImportError:
            raise ImportError("to_dataframe() needs pandas: pip install pandas (or wsplay[notebook])") from None
        if what == "frames":
            return pd.DataFrame([r.as_dict() for r in self.frames()])
        if what == "events":
            return pd.DataFrame([{"kind": e.kind, "summary": e.summary(), **vars(e)} for e in self.events()])
        raise ValueError(f"to_dataframe() shows 'frames' or 'events', not {what!r}")

    # -- export (wsplay.observe.export) --------------------------------------------------------------

    def to_har(self) -> dict[str, Any]:
        """The session as HAR 1.2 with Chrome's `_webSocketMessages` (a dict; `json.dump` it)."""
        return to_har(self)

    def to_jsonl(self) -> str:
        """The session as JSON lines: one line per connection opened, frame and close."""
        return to_jsonl(self)

    def export(self, path: str | Path) -> Path:
        """Write the session to `path`: HAR for a name ending in .har, JSON lines otherwise; returns the path."""
        return export(self, path)
