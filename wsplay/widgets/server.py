"""`ServerPanel`: a host's status and controls, its connections, frames, pictures and warnings, live."""

from __future__ import annotations

import weakref
from collections.abc import Callable, Hashable
from typing import TYPE_CHECKING, Any

from traitlets import Int

from wsplay.observe import ConnectionClosedRecord, ConnectionOpened, Event, HandlerErrorRecord, Recorder
from wsplay.protocol.frames import close_code_name
from wsplay.widgets.deflate import compression_of, extensions_of
from wsplay.widgets.refresh import LivePanel, assign, handshake_of

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


def _compression_text(row: dict[str, Any]) -> str:
    """', permessage-deflate (in 12% / out 30% of the inflated size on the wire)' for a connection row."""
    names = [e["name"] for e in row.get("extensions") or []]
    if not names:
        return ""
    ways = [f"{way} {c['ratio']:.0%}" for way, c in (row.get("compression") or {}).items() if c and c["ratio"] is not None]
    return f", {', '.join(names)}" + (f" ({' / '.join(ways)} of the inflated size on the wire)" if ways else "")


def close_dict(closed: ConnectionClosedRecord | None) -> dict[str, Any] | None:
    if closed is None:
        return None
    return {"code": closed.code, "name": closed.code_name, "reason": closed.reason, "by": closed.by, "clean": closed.clean}


class ServerPanel(LivePanel):
    """A live view of a `Host`: start/stop/restart, connections, frames, inspector, pictures, warnings.

    The host records; one refresher pushes what changed at most ten times a second (one comm
    message each); `close()` stops it. `host` as the last expression of a cell shows one, and
    showing it again adds a view of the same panel.

    Example:
        host = Host.create().handler(websocket).port(0).development().start()
        ServerPanel(host)
    """

    max_closed = Int(50, help="Closed connections kept in the connection table (open ones are always shown).")

    def __init__(self, host: Host, **kwargs: Any) -> None:
        super().__init__(kind="server", **kwargs)
        self.host = host
        self._seen: dict[int, dict[str, Any]] = {}  # connection id -> what the table shows about it
        self._handshakes: dict[int, dict[str, Any]] = {}
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

    def __repr__(self) -> str:
        # What nbconvert, a terminal or a notebook without the widget's JavaScript shows.
        host = self.host
        with self._lock:
            status, conns, warnings = dict(self.status), list(self.connections), list(self.warnings)
        state = f"running at {status.get('url')}" if status.get("running") else "stopped"
        lines = [f"ServerPanel: host {state}, {status.get('open', 0)} open connection(s), {host.recorder.recorded} frame(s) recorded"]
        for c in conns[:10]:
            close = c.get("close")
            how = f" closed {close['code']} {close['name']}" if close else f" {c['state']}"
            lines.append(f"  #{c['id']} {c['remote']} {c['path']}: in {c['frames_in']} / out {c['frames_out']} frames,{how}{_compression_text(c)}")
        for w in warnings[:5]:
            lines.append(f"  warning: {w['summary']}")
        return "\n".join(lines)

    # -- actions (the kernel's main thread; errors shown in the panel) ------------------------------

    def _actions(self) -> dict[str, Callable[..., Any]]:
        return {"start": self.host.start, "stop": self.host.stop, "restart": self.host.restart, "send": self._do_send, "close": self._do_close}

    def _chosen(self, target: Any) -> list[Any]:
        conns = [c for c in self._live() if c.state == "open" and (target is None or c.id == target)]
        if not conns:
            raise ValueError("no open connection to use; connect a client first (host.client_url in a browser)")
        return conns

    def _do_send(self, text: str = "", target: int | None = None) -> None:
        for conn in self._chosen(target):
            conn.write(text)

    def _do_close(self, code: int = 1000, reason: str = "", target: int | None = None) -> None:
        for conn in self._chosen(target):
            conn.close(int(code), reason)

    # -- redrawing (the refresher's thread, under the lock) -----------------------------------------

    def _recorder(self) -> Recorder:
        return self.host.recorder

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
        return host.running, (id(rec), rec.version, conns, host.url if host.running else None, self._tick(), self._catching_up())

    def _redraw(self) -> int:
        host = self.host
        rec = host.recorder
        live = self._live()
        events = rec.events()
        self._track(events, live)
        running = host.running
        values = self._common(rec)
        values["status"] = {
            "running": running,
            "url": host.url if running else "",
            "page": host.client_url if running else "",
            "open": sum(1 for c in live if c.state == "open"),
            "close_codes": [[c, close_code_name(c)] for c in CLOSE_CODES],
        }
        values["connections"] = self._connection_rows(rec)
        values["handshakes"] = {str(cid): hs for cid, hs in self._handshakes.items() if cid in self._seen}
        values["warnings"] = self._warning_rows(events)
        return assign(self, **values)

    def _track(self, events: list[Event], live: list[Any]) -> None:
        """Remember every connection seen (events fall off the recorder; the table keeps its rows)."""
        seen = self._seen
        for event in events:
            if isinstance(event, ConnectionOpened):
                info = seen.setdefault(event.connection, {})
                info.update(remote=event.remote, path=event.path, opened=event.time, extensions=event.extensions)
                if event.connection not in self._handshakes:
                    self._handshakes[event.connection] = handshake_of(event)
            elif isinstance(event, ConnectionClosedRecord):
                seen.setdefault(event.connection, {})["closed"] = event
        live_ids = set()
        for conn in live:
            live_ids.add(conn.id)
            info = seen.setdefault(conn.id, {})
            info.setdefault("remote", _remote(conn.remote_address))
            info.setdefault("path", conn.request.path)
            if "extensions" not in info:  # its handshake's event fell off the recorder
                extension = getattr(conn, "extension", None)
                info["extensions"] = extension.header() if extension is not None else None
            info["state"] = conn.state
        for cid, info in seen.items():
            if cid not in live_ids:
                info["state"] = "closed"
        closed = sorted(cid for cid, info in seen.items() if info["state"] == "closed")
        for cid in closed[: max(0, len(closed) - self.max_closed)]:
            del seen[cid]
            self._handshakes.pop(cid, None)

    def _connection_rows(self, rec: Recorder) -> list[dict[str, Any]]:
        order = sorted(cid for cid, i in self._seen.items() if i["state"] != "closed")
        order += sorted((cid for cid, i in self._seen.items() if i["state"] == "closed"), reverse=True)
        rows = []
        for cid in order:
            info = self._seen[cid]
            counts = rec.counters(cid)
            rows.append(
                {
                    "id": cid,
                    "remote": info.get("remote", ""),
                    "path": info.get("path", ""),
                    "opened": info.get("opened"),
                    "state": info["state"],
                    "frames_in": counts.frames_in,
                    "bytes_in": counts.bytes_in,
                    "frames_out": counts.frames_out,
                    "bytes_out": counts.bytes_out,
                    "extensions": extensions_of(info.get("extensions")),
                    "compression": compression_of(counts),
                    "close": close_dict(info.get("closed")),
                }
            )
        return rows

    def _warning_rows(self, events: list[Event]) -> list[dict[str, Any]]:
        found = [e for e in events if e.kind in WARNING_KINDS]
        rows = []
        for event in found[::-1][:MAX_WARNINGS]:
            rows.append(
                {
                    "kind": event.kind,
                    "time": event.time,
                    "connection": event.connection,
                    "summary": event.summary(),
                    "fix": getattr(event, "fix", None),
                    "notebook": getattr(event, "notebook", None),
                    "traceback": event.traceback if isinstance(event, HandlerErrorRecord) else "",
                }
            )
        if len(found) > MAX_WARNINGS:
            rows.append({"kind": "more", "time": None, "connection": 0, "summary": f"{len(found) - MAX_WARNINGS} older not shown", "fix": None, "notebook": None, "traceback": ""})
        return rows
