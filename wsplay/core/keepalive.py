"""Keepalive, the same on both sides: ping a peer that has gone silent, and give up on one that stays so.

Silence, not a clock, decides: a connection that carries traffic is never pinged, and any byte from
the peer (not only the pong) shows it is alive. A peer silent for `interval` seconds gets a ping; one
still silent `timeout` seconds after that is given up (the connection closes with 1011).

Whether anything arrived after the ping is told by counting arrivals, not by comparing times: a loop
with a coarse clock (uvloop's advances once per iteration) would stamp a quick pong with the very time
of its ping and take it for no answer.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

__all__ = ["Keepalive"]


class Keepalive:
    """One connection's keepalive timer.

    Args:
        loop: the loop it runs on.
        interval: seconds of silence before a ping.
        timeout: seconds after the ping before giving up (None: `interval`).
        heard: (the loop time bytes last arrived, how many times they have), or None while this
            side is not listening (reading paused for a busy reader: the peer's bytes wait in the
            kernel, which is no silence).
        ping: send a keepalive ping with this payload.
        give_up: the peer stayed silent.
    """

    __slots__ = (
        "_arrivals", "_count", "_give_up", "_heard", "_loop", "_ping", "_sent_at", "_timer", "interval", "timeout",
    )

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        interval: float,
        timeout: float | None,
        heard: Callable[[], tuple[float, int] | None],
        ping: Callable[[bytes], None],
        give_up: Callable[[], None],
    ) -> None:
        self._loop = loop
        self.interval = interval
        self.timeout = timeout if timeout else interval
        self._heard = heard
        self._ping = ping
        self._give_up = give_up
        self._sent_at: float | None = None  # when the outstanding keepalive ping left
        self._arrivals = 0  # how many arrivals there had been when it left
        self._count = 0  # keepalive pings sent
        self._timer: asyncio.TimerHandle | None = loop.call_later(interval, self._tick)

    def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _tick(self) -> None:
        self._timer = None
        now = self._loop.time()
        heard = self._heard()
        if heard is None:  # not listening: no verdict now
            self._sent_at = None
            self._timer = self._loop.call_later(self.interval, self._tick)
            return
        last, arrivals = heard
        sent = self._sent_at
        if sent is not None:
            if arrivals != self._arrivals:
                self._sent_at = None  # something arrived after the ping: the peer is alive
            elif now - sent >= self.timeout:
                self._give_up()
                return
            else:
                self._timer = self._loop.call_at(sent + self.timeout, self._tick)
                return
        idle = now - last
        if idle >= self.interval:
            self._count += 1
            self._ping(f"wsplay keepalive {self._count}".encode())
            self._sent_at, self._arrivals = now, arrivals
            self._timer = self._loop.call_later(self.timeout, self._tick)
        else:
            self._timer = self._loop.call_later(self.interval - idle, self._tick)
