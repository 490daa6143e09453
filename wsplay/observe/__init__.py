"""What happened, for the panels and for you: connections, frames both ways, and pitfalls, in a bounded recorder.

    events.py    the events: opened, closed, handler errors, limits, refusals, the pitfalls
    records.py   FrameRecord (a frame as a snapshot gives it back) and Counters
    recorder.py  Recorder: the bounded log the engine and the client write and the panels read
    export.py    a session as HAR 1.2 (Chrome's _webSocketMessages) or JSON lines, and back
"""

from wsplay.observe.events import (
    ConnectionClosedRecord,
    ConnectionOpened,
    Event,
    HandlerErrorRecord,
    InterleavedWrite,
    LimitHit,
    LoopBlocked,
    Notice,
    PumpStall,
    Refused,
    TaskFailed,
    parse_head,
)
from wsplay.observe.recorder import KEEP_CLOSED, PAYLOAD_BUDGET, Recorder
from wsplay.observe.records import PREVIEW, Counters, FrameRecord

__all__ = [
    "KEEP_CLOSED",
    "PAYLOAD_BUDGET",
    "PREVIEW",
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
    "TaskFailed",
    "parse_head",
]
