"""`ServerPanel`: a host's status and controls, its connections, its frames and its warnings, live."""

from __future__ import annotations

import weakref
from collections.abc import Hashable
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets
from traitlets import Int

from wsplay.observe import ConnectionClosedRecord, ConnectionOpened, Event, HandlerErrorRecord, Recorder
from wsplay.protocol.frames import close_code_name
from wsplay.widgets.frames import FrameLog
from wsplay.widgets.html import esc, fmt_bytes, fmt_time, table
from wsplay.widgets.refresh import LivePanel, assign, select_value

if TYPE_CHECKING:
    from wsplay.host import Host

__all__ = ["CLOSE_CODES", "ServerPanel"]

CLOSE_CODES = [1000, 1001, 1003, 1007, 1008, 1009, 1011, 1012, 1013, 3000, 4000]
WARNING_KINDS = ("stall", "interleave", "blocked", "error", "limit")
MAX_WARNINGS = 20

_panels: weakref.WeakValueDictionary[int, ServerPanel] = weakref.WeakValueDictionary()


def _remote(address: Any) -> str:
    if isinstance(address, tuple) and len(address) >= 2:
        host, port = address[0], address[1]
        return f"[{host}]:{port}" if ":" in str(host) else f"{host}:{port}"
    return "" if address is None else str(address)


class ServerPanel(LivePanel):
    """A live view of a `Host`: start/stop/restart, connections, frames, a frame inspector, warnings.

    Redrawn from the host's recorder by one refresher (about 10 comm messages a second at most);
    `close()` stops it. `host` as the last expression of a cell shows one.

    Example:
        host = Host.create().handler(websocket).port(0).development().start()
        ServerPanel(host)
    """

    max_closed = Int(50, help="Closed connections kept in the connection table (open ones are always shown).")

    def __init__(self, host: Host, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.host = host
        self._seen: dict[int, dict[str, Any]] = {}  # connection id -> what the table shows about it
        button = widgets.Layout(width="auto")
        self._status = widgets.HTML()
        self._start = widgets.Button(description="Start", icon="play", layout=button)
        self._stop = widgets.Button(description="Stop", icon="stop", layout=button)
        self._restart = widgets.Button(description="Restart", icon="refresh", layout=button)
        self._conns = widgets.HTML()
        self._target = widgets.Dropdown(options=[("all open connections", None)], index=0, layout=button)
        self._text = widgets.Text(placeholder="text to send", layout=widgets.Layout(flex="1 1 240px"))
        self._send_button = widgets.Button(description="Send", icon="paper-plane", layout=button)
        self._code = widgets.Dropdown(options=[(f"{c} {close_code_name(c)}", c) for c in CLOSE_CODES], value=1000, layout=button)
        self._reason = widgets.Text(placeholder="close reason", layout=widgets.Layout(width="160px"))
        self._close = widgets.Button(description="Close", icon="times", tooltip="close the chosen connection(s) with this code", layout=button)
        self.frame_log = FrameLog(host.recorder, self._lock)
        self._warnings = widgets.HTML()
        self.children = [
            self._css(),
            widgets.HBox([self._status, self._start, self._stop, self._restart], layout=widgets.Layout(align_items="center")),
            self._error_html,
            widgets.HTML("<b>Connections</b>"),
            self._conns,
            widgets.HBox([self._target, self._text, self._send_button, self._code, self._reason, self._close], layout=widgets.Layout(flex_flow="row wrap")),
            widgets.HTML("<b>Frames</b>"),
            self.frame_log,
            widgets.HTML("<b>Warnings</b>"),
            self._warnings,
        ]
        self._start.on_click(self._action(self._do_start))
        self._stop.on_click(self._action(self._do_stop))
        self._restart.on_click(self._action(self._do_restart))
        self._send_button.on_click(self._action(self._do_send))
        self._close.on_click(self._action(self._do_close))
        self.refresh()
        self._start_refresher()
        _panels[id(host)] = self

    @classmethod
    def for_host(cls, host: Host) -> ServerPanel:
        """The host's open panel if it has one, else a new one: showing it again adds a view, not a refresher."""
        panel = _panels.get(id(host))
        if panel is not None and panel.host is host and panel.comm is not None:
            return panel
        return cls(host)

    # -- actions (kernel main thread; errors shown in the panel) -------------------------------------

    def _do_start(self) -> None:
        self.host.start()

    def _do_stop(self) -> None:
        self.host.stop()

    def _do_restart(self) -> None:
        self.host.restart()

    def _chosen(self) -> list[Any]:
        with self._lock:
            target = self._target.value
        conns = [c for c in self._live() if c.state == "open" and (target is None or c.id == target)]
        if not conns:
            raise ValueError("no open connection to use; connect a client first (host.client_url in a browser)")
        return conns

    def _do_send(self) -> None:
        with self._lock:
            text = self._text.value
        for conn in self._chosen():
            conn.write(text)

    def _do_close(self) -> None:
        with self._lock:
            code, reason = self._code.value, self._reason.value
        for conn in self._chosen():
            conn.close(code, reason)

    # -- redrawing (the refresher's thread, under the lock) ------------------------------------------

    def _live(self) -> list[Any]:
        # The loop thread adds and removes connections while we copy the list: try again then.
        for _ in range(5):
            try:
                return self.host.connections
            except RuntimeError:
                continue
        return self.host.connections

    def _state(self) -> tuple[bool, Hashable]:
        host = self.host
        rec = host.recorder
        conns = tuple((c.id, c.state) for c in self._live())
        return host.running, (id(rec), rec.version, conns, host.url)

    def _redraw(self) -> int:
        host = self.host
        rec = host.recorder
        live = self._live()
        events = rec.events()
        self._track(rec, events, live)
        if self.frame_log.recorder is not rec:
            self.frame_log.recorder = rec
        running = host.running
        sent = assign(self._status, value=self._status_html(running, live))
        sent += assign(self._start, disabled=running)
        sent += assign(self._stop, disabled=not running)
        sent += assign(self._conns, value=self._connections_html(rec))
        open_ids = [c.id for c in live if c.state == "open"]
        sent += self._set_targets(open_ids)
        sent += self.frame_log.set_connections(sorted(self._seen))
        sent += self.frame_log.redraw()
        sent += assign(self._warnings, value=self._warnings_html(events))
        return sent

    def _track(self, rec: Recorder, events: list[Event], live: list[Any]) -> None:
        """Remember every connection seen (events fall off the recorder; the table keeps its rows)."""
        seen = self._seen
        for event in events:
            if isinstance(event, ConnectionOpened):
                info = seen.setdefault(event.connection, {})
                info.update(remote=event.remote, path=event.path, opened=event.time)
            elif isinstance(event, ConnectionClosedRecord):
                seen.setdefault(event.connection, {})["closed"] = event
        live_ids = set()
        for conn in live:
            live_ids.add(conn.id)
            info = seen.setdefault(conn.id, {})
            info.setdefault("remote", _remote(conn.remote_address))
            info.setdefault("path", conn.request.path)
            info["state"] = conn.state
        for cid, info in seen.items():
            if cid not in live_ids:
                info["state"] = "closed"
        closed = sorted(cid for cid, info in seen.items() if info["state"] == "closed")
        for cid in closed[: max(0, len(closed) - self.max_closed)]:
            del seen[cid]

    def _set_targets(self, ids: list[int]) -> int:
        options = [("all open connections", None)] + [(f"connection {i}", i) for i in ids]
        if list(self._target.options) == options:
            return 0
        value = self._target.value if self._target.value in ids else None
        with self._target.hold_sync():
            self._target.options = options
            select_value(self._target, value)
        return 1

    def _status_html(self, running: bool, live: list[Any]) -> str:
        host = self.host
        if not running:
            return '<span class="wsplay-muted">○ stopped</span>'
        url, page = esc(host.url), esc(host.client_url)
        n = sum(1 for c in live if c.state == "open")
        return (
            f'<span class="wsplay-ok">●</span> running at <code>{url}</code> · '
            f'browser page <a href="{page}" target="_blank">{page}</a> · {n} open connection{"" if n == 1 else "s"}'
        )

    def _connections_html(self, rec: Recorder) -> str:
        if not self._seen:
            return '<span class="wsplay-muted">no connections yet</span>'
        order = sorted((cid for cid, i in self._seen.items() if i["state"] != "closed"))
        order += sorted((cid for cid, i in self._seen.items() if i["state"] == "closed"), reverse=True)
        rows = []
        for cid in order:
            info = self._seen[cid]
            counts = rec.counters(cid)
            closed: ConnectionClosedRecord | None = info.get("closed")
            close = ""
            if closed is not None:
                close = f"{closed.code} {esc(closed.code_name)}"
                if closed.reason:
                    close += f" “{esc(closed.reason)}”"
                close += f" · by {esc(closed.by)}" + ("" if closed.clean else ' · <span class="wsplay-warn">unclean</span>')
            opened = info.get("opened")
            rows.append(
                [
                    str(cid),
                    esc(info.get("remote", "")),
                    esc(info.get("path", "")),
                    fmt_time(opened) if opened else "",
                    f"{counts.frames_in} / {fmt_bytes(counts.bytes_in)}",
                    f"{counts.frames_out} / {fmt_bytes(counts.bytes_out)}",
                    esc(info["state"]),
                    close,
                ]
            )
        head = ["id", "remote", "path", "opened", "in: frames / bytes", "out: frames / bytes", "state", "close"]
        return table(head, rows)

    def _warnings_html(self, events: list[Event]) -> str:
        found = [e for e in events if e.kind in WARNING_KINDS]
        if not found:
            return '<span class="wsplay-muted">no warnings</span>'
        items = []
        for event in found[::-1][:MAX_WARNINGS]:
            fix = getattr(event, "fix", None)
            notebook = getattr(event, "notebook", None)
            text = f'<b class="wsplay-warn">{esc(event.kind)}</b> {fmt_time(event.time)} {esc(event.summary())}'
            if fix:
                text += f"<br>fix: {esc(fix)}"
            if notebook:
                text += f" · explained in <code>{esc(notebook)}</code>"
            if isinstance(event, HandlerErrorRecord) and event.traceback:
                text += f"<details><summary>traceback</summary><pre>{esc(event.traceback)}</pre></details>"
            items.append(f"<li>{text}</li>")
        more = f'<div class="wsplay-muted">{len(found) - MAX_WARNINGS} older not shown</div>' if len(found) > MAX_WARNINGS else ""
        return f"<ul style=\"margin:2px 0; padding-left:18px\">{''.join(items)}</ul>{more}"
