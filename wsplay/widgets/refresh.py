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
import json
import logging
import threading
import time
from collections.abc import Callable, Hashable
from typing import Any

import anywidget
from traitlets import Bool, Dict, Int, List, Unicode, observe

from wsplay import decoders
from wsplay.observe.export import to_har, to_jsonl
from wsplay.observe import ConnectionOpened, Recorder
from wsplay.widgets.assets import CSS, ESM
from wsplay.widgets.frames import FrameFeed, detail

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


HEARTBEAT = 2.0  # seconds: a live panel pushes at least this often, so its views can tell a dead kernel


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


class LivePanel(anywidget.AnyWidget):
    """A panel with a front end (`static/*.js`), redrawn by one Refresher in one comm message a push.

    Everything the refresher sends in a push (status, connections, counters, new table rows, the
    rate sample) is one `hold_sync()` update of traits; new rows travel in `_feed`, a small trait
    that carries only what is new. Replies to the user's clicks (a frame's details, a decoder's
    output, a download) are custom messages. Settings the browser changes (filters, search, pause,
    the selected frame) are traits too, so two views of one panel show the same thing and tests
    can drive the panel without a browser. Actions from buttons arrive as custom messages and their
    errors are shown in the panel (`error`), never raised into a cell.
    """

    _esm = ESM
    _css = CSS

    kind = Unicode("", help="'server' or 'client': which panel the front end draws.").tag(sync=True)
    error = Unicode("", help="The last error an action or a redraw raised, shown in the panel ('' when none).").tag(sync=True)
    status = Dict(help="The host's or client's state, as the status line shows it.").tag(sync=True)
    connections: List[Any] = List(help="One dict per connection shown: id, remote, path, state, counters, extensions, compression, close.").tag(sync=True)
    handshakes = Dict(help="Connection id (as text) -> its opening handshake: request and response heads.").tag(sync=True)
    warnings: List[Any] = List(help="Pitfalls and handler errors, newest first, each with its fix.").tag(sync=True)
    recording = Dict(help="The recorder's limits and fill: frames kept, payload budget, bytes kept, dropped.").tag(sync=True)
    table = Dict(help="Counts for the frame table's header: matching, recorded, backlog, paused.").tag(sync=True)
    decoders = List(Unicode(), help="Payload views offered by wsplay.decoders (json, msgpack, cbor, yours).").tag(sync=True)
    filters = Dict(help="Set by the browser: {'connection': id|None, 'direction': 'in'|'out'|None, 'type': name|None}.").tag(sync=True)
    search = Dict(help="Set by the browser: {'query': text, 'regex': bool} over the decoded payloads.").tag(sync=True)
    search_error = Unicode("", help="Why the search pattern is not used ('' when it is).").tag(sync=True)
    paused = Bool(False, help="True freezes the table (recording goes on).").tag(sync=True)
    selected = Int(None, allow_none=True, help="Recorder index of the frame shown in the inspector (None: none).").tag(sync=True)
    _feed = Dict(help="The latest push: new rows, older rows to merge, a reset flag, the rate sample.").tag(sync=True)

    def __init__(self, **kwargs: Any) -> None:
        self._lock = threading.RLock()
        self._refresher: Refresher | None = None
        self._seq = 0
        self._shown: dict[str, Any] | None = None  # what the inspector was last sent
        self._pings: dict[tuple[int, bytes], float] = {}
        self._rtts: list[list[float]] = []
        self.feed = FrameFeed(None)
        super().__init__(**kwargs)
        self.on_msg(self._on_custom)

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

    def _recorder(self) -> Recorder | None:
        raise NotImplementedError

    def refresh(self) -> int:
        """Redraw now from the recorder (the refresher does this by itself); return the messages sent."""
        with self._lock:
            return self._redraw()

    @property
    def refresher(self) -> Refresher | None:
        return self._refresher

    def close(self) -> None:
        """Stop the refresher and close the widget; idempotent."""
        if self._refresher is not None:
            self._refresher.stop()
        with self._lock:
            super().close()

    def _tick(self) -> int:
        """Changes every HEARTBEAT seconds: part of the refresher's token, so an idle panel still beats."""
        return int(time.monotonic() / HEARTBEAT)

    def _catching_up(self) -> int:
        """Part of the token: while rows wait in the backlog, every tick is a change (so they keep coming)."""
        return self._seq if self.feed.backlog else 0

    def _common(self, rec: Recorder | None) -> dict[str, Any]:
        """The traits every panel pushes: the feed (rows and rates), the table counts, the recording."""
        with self._lock:
            if self.feed.recorder is not rec:
                self.feed.set_recorder(rec)
            batch = self.feed.push()
        self._seq += 1
        feed: dict[str, Any] = {"seq": self._seq}
        if batch is not None:
            feed.update(batch)
            self._ping_times(batch["rows"])
        feed["rates"] = self._rates(rec)
        if self._rtts:
            feed["rtt"], self._rtts = self._rtts, []
        values: dict[str, Any] = {"_feed": feed}
        if rec is not None:
            values["recording"] = {
                "enabled": rec.enabled,
                "max_frames": rec.max_frames,
                "payload_bytes": rec.payload_bytes,
                "kept_bytes": rec.kept_bytes,
                "dropped": rec.dropped,
                "first": rec.first_index,
            }
        values["table"] = {
            "matching": self.feed.matching,
            "backlog": self.feed.backlog,
            "after": self.feed.after,
            "paused": self.feed.paused,
            "recorded": rec.recorded if rec is not None else 0,
        }
        values["decoders"] = decoders.available()
        values["search_error"] = self.feed.error
        return values

    def _rates(self, rec: Recorder | None) -> list[float]:
        """[time, frames in, frames out, bytes in, bytes out], totals over every connection counted."""
        if rec is None:
            return [round(time.time(), 3), 0, 0, 0, 0]
        t = rec.totals()
        return [round(time.time(), 3), t.frames_in, t.frames_out, t.bytes_in, t.bytes_out]

    def _ping_times(self, rows: list[list[Any]]) -> None:
        """Round trips of the pings this side sent: a PING out, then a PONG in with the same preview."""
        for row in rows:
            index, t, conn, direction, opcode = row[:5]
            if opcode == 9 and direction == 1:
                self._pings[(conn, row[9])] = t
            elif opcode == 10 and direction == 0:
                sent = self._pings.pop((conn, row[9]), None)
                if sent is not None:
                    self._rtts.append([t, round((t - sent) * 1000, 3)])
        if len(self._pings) > 100:
            self._pings.clear()

    # -- what the browser asks --------------------------------------------------------------------

    @observe("filters", "search")
    def _on_filters(self, change: Any) -> None:
        with self._lock:
            f, s = self.filters, self.search
            self.feed.configure(f.get("connection"), f.get("direction"), f.get("type"), s.get("query", ""), s.get("regex", False))
        self._poke()

    @observe("paused")
    def _on_paused(self, change: Any) -> None:
        with self._lock:
            self.feed.paused = bool(change["new"])
            self.feed.reset()
        self._poke()

    @observe("selected")
    def _on_selected(self, change: Any) -> None:
        self.inspect(change["new"])

    def select(self, index: int | None) -> dict[str, Any] | None:
        """Show the frame with this recorder index in the inspector (every view); return what it shows.

        Example:
            panel = host.panel()
            panel.select(host.frames[-1].index)["mask_key"]
        """
        if self.selected == index:
            return self.inspect(index)
        self._shown = None
        self.selected = index  # the views show it (and the observer sends its details)
        return self._shown

    def inspect(self, index: int | None) -> dict[str, Any] | None:
        """Send the details of the frame with this recorder index to the views; return them."""
        rec = self._recorder()
        if index is None or rec is None:
            return None
        record = rec.find(index)
        if record is None:
            content: dict[str, Any] = {"kind": "frame", "index": index, "missing": True}
            self.send(content)
            self._shown = content
            return content
        content, buffers = detail(record)
        self.send({"kind": "frame", **content}, buffers)
        self._shown = content
        return content

    def _on_custom(self, _widget: Any, content: Any, buffers: Any) -> None:
        """A message from a view: hello, clear, decode, export, or an action of a button."""
        if not isinstance(content, dict):
            return
        kind = content.get("kind")
        if kind == "hello":  # a new view: send it the whole table
            with self._lock:
                self.feed.reset()
            self._poke()
        elif kind == "inspect":
            index = content.get("index")
            self.inspect(index if isinstance(index, int) else None)
        elif kind == "clear":
            with self._lock:
                self.feed.clear()
            self._poke()
        elif kind == "decode":
            self._decode(content.get("index"), str(content.get("name", "")))
        elif kind == "export":
            self._act(lambda: self.download(str(content.get("format", "har")), content.get("view")))
        elif kind == "action":
            name = str(content.get("name", ""))
            fn = self._actions().get(name)
            if fn is None:
                self.error = f"unknown action {name!r}"
                return
            args = content.get("args") or {}
            self._act(lambda: fn(**args))

    def _actions(self) -> dict[str, Callable[..., Any]]:
        return {}

    def _act(self, fn: Callable[[], Any]) -> None:
        """Run a button's action: its exception is shown in the panel, and the panel looks for changes."""
        try:
            fn()
        except Exception as exc:
            with self._lock:
                self.error = f"{type(exc).__name__}: {exc}"
        else:
            with self._lock:
                self.error = ""
        self._poke()

    def _poke(self) -> None:
        if self._refresher is not None:
            self._refresher.poke()

    def _decode(self, index: Any, name: str) -> dict[str, Any]:
        rec = self._recorder()
        record = rec.find(index) if rec is not None and isinstance(index, int) else None
        if record is None:
            result: dict[str, Any] = {"ok": False, "error": "that frame is no longer in the recorder"}
        else:
            result = decoders.decode(name, record.payload)
            if record.cut:
                result["cut"] = True
        content = {"kind": "decoded", "index": index, "name": name, **result}
        self.send(content)
        return content

    def download(self, format: str = "har", view: Any = None) -> tuple[str, bytes]:
        """Send the session as a file download (HAR or JSON lines) to the view that asked; return (name, bytes)."""
        rec = self._recorder()
        if rec is None:
            raise ValueError("nothing recorded yet: connect first")
        stamp = time.strftime("%Y%m%d-%H%M%S")
        if format == "jsonl":
            name, data, mime = f"wsplay-{self.kind}-{stamp}.jsonl", to_jsonl(rec).encode("utf-8"), "application/x-ndjson"
        else:
            name, data, mime = f"wsplay-{self.kind}-{stamp}.har", json.dumps(to_har(rec), ensure_ascii=False).encode("utf-8"), "application/json"
        self.send({"kind": "download", "name": name, "mime": mime, "view": view}, [data])
        return name, data


def handshake_of(event: ConnectionOpened) -> dict[str, Any]:
    """The handshake as the handshake view shows it."""
    return {
        "url": event.url,
        "remote": event.remote,
        "request_line": event.request_line,
        "request_headers": [list(p) for p in event.request_headers],
        "status_line": event.status_line,
        "response_headers": [list(p) for p in event.response_headers],
        "subprotocol": event.subprotocol,
        "extensions": event.extensions,
    }
