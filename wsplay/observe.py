"""What happened, for the panels and for you: connections, frames both ways, and pitfalls, in a bounded recorder.

The engine and the client record; widgets and notebook code read snapshots. Recording a frame is
one tuple appended to a bounded deque (records are built only when a snapshot asks), so it stays
cheap on the hot path; appends and snapshots are single C-level deque operations, safe across the
loop thread and a notebook cell.

Payloads: a frame of at most PREVIEW bytes is always kept whole. Larger payloads are kept whole while
the recorder's payload budget (`payload_bytes`, 64 MiB by default) has room, counting the large
payloads still in the log; beyond it only their first PREVIEW bytes are kept, and the record says so
(`FrameRecord.cut`). Keeping a payload whole copies nothing (the record holds the bytes object the
handler got); a payload that is not `bytes` (a borrowed view under do_not_allocate_frame_data(), a
bytearray written) keeps only its first PREVIEW bytes, since copying it whole would allocate what
borrowing saves. Export a session with `to_har()` / `to_jsonl()` (see `wsplay.export`).
"""

from __future__ import annotations

import collections
import itertools
import time
from dataclasses import dataclass, field
from typing import Any

from wsplay.protocol.frames import FrameType, Header, close_code_name

__all__ = [
    "ConnectionClosedRecord",
    "ConnectionOpened",
    "Counters",
    "Event",
    "FrameRecord",
    "HandlerErrorRecord",
    "InterleavedWrite",
    "LimitHit",
    "LoopBlocked",
    "Notice",
    "PumpStall",
    "Recorder",
    "Refused",
]

PREVIEW = 256  # payload bytes always kept per frame record (the whole payload when the budget has room)
# Whole payloads kept per recorder, beyond PREVIEW bytes each. A 2 GB Binder pod runs the kernel,
# JupyterLab and the browser's tab too; 64 MiB lets a notebook run a host and a few clients that
# each fill their budget without coming near the pod's limit.
PAYLOAD_BUDGET = 64 * 1024 * 1024
_monotonic = time.monotonic  # asyncio's loop.time(): records keep it, snapshots show wall-clock time
KEEP_CLOSED = 1000  # closed connections whose counters are kept (a long-running host forgets older ones)


@dataclass
class Event:
    """Base of every non-frame record: when, and on which connection."""

    time: float
    connection: int

    kind = "event"

    def summary(self) -> str:
        return self.kind


@dataclass
class ConnectionOpened(Event):
    """A connection completed its opening handshake; the handshake itself when the side recorded it."""

    remote: str = ""
    path: str = "/"
    subprotocol: str | None = None
    url: str = ""  # ws://host/path as the client asked for it ('' when not known)
    request_line: str = ""  # 'GET /path HTTP/1.1'
    request_headers: list[tuple[str, str]] = field(default_factory=list)
    status_line: str = ""  # 'HTTP/1.1 101 Switching Protocols'
    response_headers: list[tuple[str, str]] = field(default_factory=list)
    extensions: str | None = None  # the negotiated Sec-WebSocket-Extensions, if any

    kind = "open"

    def summary(self) -> str:
        return f"connection {self.connection} opened from {self.remote} on {self.path}"


def parse_head(raw: bytes | str) -> tuple[str, list[tuple[str, str]]]:
    """Split an HTTP head (request or response) into its first line and its (name, value) headers."""
    text = raw.decode("latin-1") if isinstance(raw, (bytes, bytearray)) else raw
    lines = text.split("\r\n\r\n", 1)[0].split("\r\n")
    headers = []
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if sep:
            headers.append((name.strip(), value.strip()))
    return lines[0], headers


@dataclass
class ConnectionClosedRecord(Event):
    code: int = 1006
    reason: str = ""
    by: str = "peer"  # "peer", "server" or "client"
    clean: bool = False  # a close frame went each way before TCP closed

    kind = "close"

    @property
    def code_name(self) -> str:
        return close_code_name(self.code)

    def summary(self) -> str:
        reason = f" {self.reason!r}" if self.reason else ""
        how = "" if self.clean else " (no clean close handshake)"
        return f"connection {self.connection} closed by {self.by}: {self.code} {self.code_name}{reason}{how}"


@dataclass
class HandlerErrorRecord(Event):
    handler: str = ""
    error: str = ""
    traceback: str = ""

    kind = "error"

    def summary(self) -> str:
        return f"connection {self.connection}: {self.handler} raised {self.error}; closed with 1011"


@dataclass
class PumpStall(Event):
    """A handler held the message pump while frames waited: the seed's long-running-task pitfall."""

    handler: str = ""
    seconds: float = 0.0
    frames_waiting: int = 0
    ping_waiting: bool = False
    ongoing: bool = True

    kind = "stall"
    fix = "spawn a task for long work (asyncio.create_task) and return to the pump; cancel it in on_close"
    notebook = "notebooks/07-long-running-tasks.ipynb"

    def summary(self) -> str:
        ping = ", a ping among them" if self.ping_waiting else ""
        state = "for" if not self.ongoing else "for at least"
        return (
            f"connection {self.connection}: {self.handler} held the message pump {state} {self.seconds:.1f} s "
            f"while {self.frames_waiting} frame(s) waited{ping}"
        )


@dataclass
class InterleavedWrite(Event):
    """Two writers mixed their frames into one fragmented message: the seed's sync-write pitfall."""

    detail: str = ""

    kind = "interleave"
    fix = "hold connection.write_lock for the whole message: every frame of it inside async with connection.write_lock:"
    notebook = "notebooks/08-synchronized-writes.ipynb"

    def summary(self) -> str:
        return f"connection {self.connection}: interleaved write: {self.detail}"


@dataclass
class LoopBlocked(Event):
    """Something blocked the whole event loop (time.sleep, CPU-bound work): every connection stood still."""

    seconds: float = 0.0

    kind = "blocked"
    fix = "never block in a handler: await asyncio.sleep(), or run blocking work with asyncio.to_thread()"
    notebook = "notebooks/07-long-running-tasks.ipynb"

    def summary(self) -> str:
        return f"the event loop was blocked for {self.seconds:.1f} s: every connection stood still"


@dataclass
class LimitHit(Event):
    limit: str = ""
    value: int = 0
    code: int = 1009

    kind = "limit"

    def summary(self) -> str:
        return f"connection {self.connection}: {self.limit} limit of {self.value} hit; closed with {self.code}"


@dataclass
class Refused(Event):
    """A handshake refused before any connection existed (connection 0): a foreign origin, too many clients."""

    status: int = 403
    reason: str = ""
    remote: str = ""

    kind = "refused"

    def summary(self) -> str:
        return f"refused a handshake from {self.remote} with {self.status}: {self.reason}"


@dataclass
class Notice(Event):
    """Something the person running the server should know (e.g. listening on every interface)."""

    message: str = ""

    kind = "notice"

    def summary(self) -> str:
        return self.message


@dataclass
class FrameRecord:
    """One frame, in or out, with its wire header as the inspector shows it."""

    index: int
    time: float
    connection: int
    direction: str  # "in" (received) or "out" (sent)
    header: Header
    preview: bytes  # the payload as kept, unmasked: whole, or its first PREVIEW bytes when `cut`

    @property
    def fin(self) -> bool:
        return self.header.fin

    @property
    def rsv(self) -> tuple[bool, bool, bool]:
        return (self.header.rsv1, self.header.rsv2, self.header.rsv3)

    @property
    def opcode(self) -> int:
        return self.header.opcode

    @property
    def type_name(self) -> str:
        kind = self.header.type
        return kind.name if kind is not None else f"reserved {self.header.opcode:#x}"

    @property
    def masked(self) -> bool:
        return self.header.masked

    @property
    def mask_key(self) -> bytes | None:
        return self.header.mask_key

    @property
    def length(self) -> int:
        return self.header.length

    @property
    def length_form(self) -> int:
        return self.header.length_form

    @property
    def header_bytes(self) -> bytes:
        return self.header.header_bytes

    @property
    def payload(self) -> bytes:
        """The payload as kept (whole unless `cut`)."""
        return self.preview

    @property
    def cut(self) -> bool:
        """True when only the first PREVIEW bytes were kept (the recorder's payload budget was full)."""
        return len(self.preview) < self.header.length

    truncated = cut

    def text(self) -> str | None:
        """The preview as text for TEXT/CONTINUE frames that decode (a cut character is replaced)."""
        if self.header.opcode in (FrameType.TEXT, FrameType.CONTINUE):
            return self.preview.decode("utf-8", "replace")
        return None

    def close_info(self) -> tuple[int, str] | None:
        """(code, reason) of a CLOSE frame with a payload."""
        if self.header.opcode != FrameType.CLOSE or len(self.preview) < 2:
            return None
        return int.from_bytes(self.preview[:2], "big"), self.preview[2:].decode("utf-8", "replace")

    def as_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "time": self.time,
            "connection": self.connection,
            "direction": self.direction,
            "type": self.type_name,
            "fin": self.fin,
            "rsv1": self.rsv[0],
            "rsv2": self.rsv[1],
            "rsv3": self.rsv[2],
            "opcode": self.opcode,
            "masked": self.masked,
            "mask_key": self.mask_key.hex() if self.mask_key else None,
            "length": self.length,
            "length_form": self.length_form,
            "header_hex": self.header_bytes.hex(" "),
            "preview": self.preview,
            "cut": self.cut,
        }


@dataclass
class Counters:
    """Per-connection totals (they count every frame, also those the bounded log has dropped)."""

    frames_in: int = 0
    bytes_in: int = 0
    frames_out: int = 0
    bytes_out: int = 0


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
        """Record a whole unmasked frame as sent (header and payload in one object; split when read)."""
        counters.frames_out += 1
        counters.bytes_out += length
        if self.max_frames:
            i = self._n
            self._n = i + 1
            keep = wire if length <= PREVIEW or self._room(i, length) else wire[: PREVIEW + 14]
            self._append((i, when, connection, "out", keep, None))

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
                if preview is None:  # recorded whole (or cut) by frame_out_wire
                    preview = wire[len(header.header_bytes) :]
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
        return Counters(**vars(counters)) if counters is not None else Counters()

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

    # -- export (see wsplay.export) ---------------------------------------------------------------

    def to_har(self) -> dict[str, Any]:
        """The session as HAR 1.2 with Chrome's `_webSocketMessages` (a dict; `json.dump` it)."""
        from wsplay.export import to_har

        return to_har(self)

    def to_jsonl(self) -> str:
        """The session as JSON lines: one line per connection opened, frame and close."""
        from wsplay.export import to_jsonl

        return to_jsonl(self)

    def export(self, path: Any) -> Any:
        """Write the session to `path`: HAR for a name ending in .har, JSON lines otherwise; returns the path."""
        from wsplay.export import export

        return export(self, path)

