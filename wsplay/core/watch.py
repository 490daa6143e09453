"""Development mode's eye on one connection: the seed's two pitfalls, noticed as they happen and recorded.

- A stalled message pump: a handler holds the frame it was given past the threshold while more
  frames (a ping above all) wait behind it. The fix is to spawn a task for long work.
- Interleaved writes: a writer breaks into another writer's fragmented message. The frames still go
  out (a notebook must be able to show the broken stream); the fix is `connection.write_lock`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from wsplay.observe import InterleavedWrite, PumpStall, Recorder

__all__ = ["Watch"]


class Watch:
    """Pitfall detection for one connection.

    Args:
        connection_id: the connection's id, for the records.
        recorder: where reports go.
        threshold: seconds a handler may hold the pump while frames wait.
        waiting: counts the frames buffered behind the handler and tells if a ping is among them.
    """

    def __init__(self, connection_id: int, recorder: Recorder, threshold: float, waiting: Callable[[], tuple[int, bool]]) -> None:
        self._id = connection_id
        self._rec = recorder
        self._threshold = threshold
        self._waiting = waiting
        self.busy_since: float | None = None  # loop time the frame being handled was handed out
        self.handler = "handle()"  # what holds the pump (the reactive pump names the method)
        self._stall: PumpStall | None = None
        self._out_owner: Any = None  # the writer of the fragmented message being sent

    # -- the pump -----------------------------------------------------------------------------------

    def handed_out(self, now: float) -> None:
        """A frame went to the handler: the pump is busy from now."""
        self.busy_since = now

    def back(self, now: float) -> None:
        """The handler is back at the pump: close the books on a stall, if there was one."""
        since, self.busy_since = self.busy_since, None
        if since is None:
            return
        seconds = now - since
        if self._stall is None and seconds >= self._threshold:
            self._report(seconds)  # a blocking call kept the watchdog from seeing it live
        stall = self._stall
        if stall is not None:
            stall.seconds = max(stall.seconds, seconds)
            stall.ongoing = False
            self._stall = None
            self._rec.touch()

    def check(self, now: float) -> None:
        """Report the pump as stalled if the handler has held it past the threshold while frames wait."""
        if self.busy_since is not None and now - self.busy_since >= self._threshold:
            self._report(now - self.busy_since)

    def _report(self, seconds: float) -> None:
        waiting, ping = self._waiting()
        if not waiting:
            return
        stall = self._stall
        if stall is None:
            self._stall = PumpStall(time.time(), self._id, self.handler, seconds, waiting, ping)
            self._rec.event(self._stall)
        else:
            stall.seconds = seconds
            stall.frames_waiting = max(stall.frames_waiting, waiting)
            stall.ping_waiting = stall.ping_waiting or ping
            self._rec.touch()

    # -- writers ------------------------------------------------------------------------------------

    def wrote(self, owner: Any, opcode: int, fin: bool) -> None:
        """Notice a writer breaking into another writer's fragmented message."""
        current = self._out_owner
        problem = ""
        if opcode:  # TEXT or BINARY: a new message
            if current is not None and current is not owner:
                problem = "a new message was started while another writer's fragmented message was still open"
            self._out_owner = None if fin else owner
        else:  # CONTINUE
            if current is None:
                problem = "a continuation frame was written with no fragmented message open"
            elif current is not owner:
                problem = "a writer added a continuation frame to another writer's message"
            if fin:
                self._out_owner = None
        if problem:
            self._rec.event(InterleavedWrite(time.time(), self._id, problem))
