"""Keepalive, the same on both sides: ping a peer that has gone silent, and give up on one that stays so.

Silence, not a clock, decides: a connection that carries traffic is never pinged, and any byte from
the peer (not only the pong) shows it is alive. A peer silent for `interval` seconds gets a ping; one
still silent `timeout` seconds after that is given up (the connection closes with 1011).
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
        heard: the loop time the peer was last heard from (now, while we are not listening).
        ping: send a keepalive ping with this payload.
        give_up: the peer stayed silent.
    """

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        interval: float,
        timeout: float | None,
        heard: Callable[[], float],
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
        sent = self._sent_at
        if sent is not None:
            if heard > sent:
                self._sent_at = None  # something arrived: the peer is alive
            elif now - sent >= self.timeout:
                self._give_up()
                return
            else:
                self._timer = self._loop.call_at(sent + self.timeout, self._tick)
                return
        idle = now - heard
        if idle >= self.interval:
            self._count += 1
            self._ping(f"wsplay keepalive {self._count}".encode())
            self._sent_at = now
            self._timer = self._loop.call_later(self.timeout, self._tick)
        else:
            self._timer = self._loop.call_later(self.interval - idle, self._tick)
