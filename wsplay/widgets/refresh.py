"""The refresh discipline: one coalescer per panel, a bounded number of comm messages a second.

The engine never touches a widget: it records into a `Recorder`, and each panel's `Refresher`
polls a cheap token (the recorder's `version`, whether the host runs, the connection set) and
redraws from a snapshot when the token changed. Every widget update is one comm message (IOPub),
and jupyter_server drops IOPub messages above 1000/s, so the coalescer keeps a message budget:
after a push that changed `n` widgets it waits `n / rate` seconds (and at least `interval`) before
the next one. A burst of 10,000 frames therefore costs about 10 messages a second, not 10,000.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections.abc import Callable, Hashable
from typing import Any

import ipywidgets as widgets
from traitlets import Unicode, observe

from wsplay.widgets.html import CSS, esc

__all__ = ["LivePanel", "Refresher", "assign"]

log = logging.getLogger("wsplay")

_NOTHING = object()
_names = itertools.count(1)


def assign(widget: Any, **values: Any) -> int:
    """Set the traits that differ, batched into one comm message; return 1 if anything changed, else 0."""
    changed = {k: v for k, v in values.items() if getattr(widget, k) != v}
    if not changed:
        return 0
    with widget.hold_sync():
        for name, value in changed.items():
            setattr(widget, name, value)
    return 1


class Refresher:
    """Redraw a panel at most `rate` comm messages (and 1/`interval` pushes) a second, only on change.

    It runs on its own daemon thread rather than on wsplay's background loop: a redraw renders up to
    a few hundred rows and sends them through the kernel's comm, which would steal that time from
    every server and client on the loop (and a stalled IOPub socket would stall them all); a
    stopped host's loop is never woken by a panel; and a daemon thread dies with the kernel. Only
    this thread redraws, always holding the panel's lock, which button callbacks and observers
    (run on the kernel's main thread) take too: widgets are never touched by two threads at once.

    Args:
        state: returns `(active, token)`: whether the host runs (the client is open), and a cheap
            comparable token of everything shown; nothing is redrawn while it stays the same.
        redraw: updates the widgets and returns how many it changed (one comm message each).
        lock: the panel's lock, held during `redraw`.
        alive: returns False once the panel is closed; the thread then ends.
        on_error: shows an exception raised by `redraw` (default: log it).
        interval: the shortest time between two pushes (seconds).
        rate: comm messages a second the panel may send, on average.
    """

    def __init__(
        self,
        state: Callable[[], tuple[bool, Hashable]],
        redraw: Callable[[], int],
        lock: threading.RLock,
        alive: Callable[[], bool] = lambda: True,
        on_error: Callable[[BaseException], None] | None = None,
        interval: float = 0.1,
        rate: float = 10.0,
        idle_interval: float = 0.5,
    ) -> None:
        self._state = state
        self._redraw = redraw
        self._lock = lock
        self._alive = alive
        self._on_error = on_error
        self.interval = interval
        self.rate = rate
        self.idle_interval = idle_interval
        self.pushes = 0  # redraws that changed something
        self.messages = 0  # widgets changed, summed over all pushes
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> Refresher:
        if self._thread is None and not self._stop.is_set():
            self._thread = threading.Thread(target=self._run, name=f"wsplay-panel-{next(_names)}", daemon=True)
            self._thread.start()
        return self

    def poke(self) -> None:
        """Look for changes now instead of at the next tick (after a button did something)."""
        self._wake.set()

    def stop(self, timeout: float = 1.0) -> None:
        """Stop polling; idempotent. Waits for a redraw in progress unless called from the thread itself."""
        self._stop.set()
        self._wake.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    def _run(self) -> None:
        last: Any = _NOTHING
        last_active = False
        not_before = 0.0
        quiet_since = time.monotonic()
        while not self._stop.is_set():
            now = time.monotonic()
            # A stopped host that has been quiet for a while is polled less often.
            tick = self.idle_interval if not last_active and now - quiet_since > 2.0 else self.interval
            self._wake.wait(max(tick, not_before - now))
            self._wake.clear()
            if self._stop.is_set() or not self._alive():
                break
            try:
                active, token = self._state()
            except RuntimeError:  # a dict changed size on the loop thread while we looked: next tick
                continue
            if (active, token) == last:
                continue
            now = time.monotonic()
            final = last_active and not active  # the host just stopped: push now, whatever the budget
            if now < not_before and not final:
                continue  # woken early by poke(); the budget is not spent yet
            try:
                with self._lock:
                    sent = self._redraw()
            except Exception as exc:  # never let a redraw error kill the thread or reach a cell
                sent = 1
                self._report(exc)
            last, last_active, quiet_since = (active, token), active, now
            if sent:
                self.pushes += 1
                self.messages += sent
            not_before = now + max(self.interval, sent / self.rate)

    def _report(self, exc: BaseException) -> None:
        if self._on_error is None:
            log.warning("panel redraw failed: %s", exc)
            return
        try:
            with self._lock:
                self._on_error(exc)
        except Exception:
            log.exception("panel redraw failed")


class LivePanel(widgets.VBox):
    """A box redrawn by one Refresher; buttons report their errors in the panel, never in a cell."""

    error = Unicode("", help="The last error an action or a redraw raised, shown in the panel ('' when none).")

    def __init__(self, **kwargs: Any) -> None:
        self._lock = threading.RLock()
        self._error_html = widgets.HTML("", layout=widgets.Layout(display="none"))
        self._refresher: Refresher | None = None
        super().__init__(**kwargs)
        self.add_class("wsplay-panel")

    # -- the refresher ----------------------------------------------------------------------------

    def _start_refresher(self) -> None:
        self._refresher = Refresher(
            self._state,
            self._redraw,
            self._lock,
            alive=lambda: self.comm is not None,
            on_error=lambda exc: setattr(self, "error", f"redraw failed: {exc}"),
        ).start()

    def _state(self) -> tuple[bool, Hashable]:
        raise NotImplementedError

    def _redraw(self) -> int:
        raise NotImplementedError

    def refresh(self) -> int:
        """Redraw now from the recorder (the refresher does this by itself); return the widgets changed."""
        with self._lock:
            return self._redraw()

    @property
    def refresher(self) -> Refresher | None:
        return self._refresher

    def close(self) -> None:
        """Stop the refresher and close this panel's widgets; idempotent."""
        if self._refresher is not None:
            self._refresher.stop()
        with self._lock:
            for child in _descendants(self):
                child.close()
            super().close()

    # -- actions ------------------------------------------------------------------------------------

    def _action(self, fn: Callable[[], Any]) -> Callable[..., None]:
        """Wrap a button callback: its exception is shown in the panel, and the panel looks for changes."""

        def callback(*_: Any) -> None:
            try:
                fn()
            except Exception as exc:
                with self._lock:
                    self.error = f"{type(exc).__name__}: {exc}"
            else:
                with self._lock:
                    self.error = ""
            if self._refresher is not None:
                self._refresher.poke()

        return callback

    @observe("error")
    def _on_error(self, change: Any) -> None:
        text = change["new"]
        with self._lock:
            assign(self._error_html, value=f'<span class="wsplay-error">{esc(text)}</span>' if text else "")
            assign(self._error_html.layout, display=None if text else "none")

    @staticmethod
    def _css() -> widgets.HTML:
        return widgets.HTML(CSS, layout=widgets.Layout(display="none"))


def _descendants(box: Any) -> list[Any]:
    """Every widget inside `box`, with the layout and style widgets each one owns."""
    found = []
    for child in getattr(box, "children", ()):
        found.extend(_descendants(child))
        found.append(child)
    for owned in (getattr(box, "layout", None), getattr(box, "style", None)):
        if isinstance(owned, widgets.Widget):
            found.append(owned)
    return found


def select_value(dropdown: Any, value: Any) -> None:
    """Select `value` in a dropdown whose first option stands for "all" with the value None.

    ipywidgets 8 reads `value=None` as "nothing selected" and shows an empty box, so None is
    selected by index instead.
    """
    if value is None:
        dropdown.index = 0
    else:
        dropdown.value = value
