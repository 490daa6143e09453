"""A recorded session as HAR 1.2 (with Chrome's `_webSocketMessages`) or as JSON lines, and back.

HAR is what Chrome DevTools saves and what HAR viewers open: one entry per WebSocket connection, its
upgrade request and 101 response, and `_webSocketMessages`, the data messages (fragments joined)
each as `{"type": "send" | "receive", "time", "opcode", "data"}`, binary data in base64. As in
Chrome, "send" is what the *client* sent, whichever side recorded the session. wsplay adds
`_wsplay`: the side that recorded, the connection id, every frame (control frames and fragments
too, for replay) and the close; and `_cut` on a message whose payload the recorder kept only in
part (its payload budget was full).

JSON lines: one object a line, in time order: `{"kind": "session", ...}` first, then `open` (the
handshake), `frame` and `close` lines.

Example:
    host.recorder.export("session.har")
    wsplay.replay("session.har", host.url)
"""

from __future__ import annotations

import base64
import datetime
import json
from pathlib import Path
from typing import Any, Protocol

from wsplay.observe.events import ConnectionClosedRecord, ConnectionOpened
from wsplay.observe.records import FrameRecord
from wsplay.protocol.frames import FrameType

__all__ = ["export", "frame_dict", "load_session", "messages", "to_har", "to_jsonl"]

_DATA = (FrameType.TEXT, FrameType.BINARY)



class Recorder(Protocol):
    """What export reads of a recorder (wsplay.observe.Recorder): its side and its snapshots."""

    side: str

    def frames(self, connection: int | None = None, last: int | None = None) -> list[FrameRecord]: ...

    def events(self, kind: str | None = None) -> list[Any]: ...


def _iso(t: float) -> str:
    return datetime.datetime.fromtimestamp(t, datetime.timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _client_sent(recorder: Recorder, direction: str) -> bool:
    """Whether a frame in `direction` was sent by the client (Chrome's "send")."""
    return (direction == "in") == (recorder.side == "server")


def _data(opcode: int, payload: bytes) -> dict[str, Any]:
    """A payload as HAR data: text for TEXT frames that decode, base64 otherwise."""
    if opcode == FrameType.TEXT:
        try:
            return {"data": payload.decode("utf-8")}
        except UnicodeDecodeError:
            pass  # a cut character or an invalid frame: keep the bytes exactly
    return {"data": base64.b64encode(payload).decode("ascii"), "base64": True}


def frame_dict(recorder: Recorder, r: FrameRecord) -> dict[str, Any]:
    """One frame as JSON: header fields, the payload (text or base64) and whether it was cut."""
    out: dict[str, Any] = {
        "index": r.index,
        "time": r.time,
        "connection": r.connection,
        "direction": r.direction,
        "type": "send" if _client_sent(recorder, r.direction) else "receive",
        "opcode": r.opcode,
        "fin": r.fin,
        "rsv": [int(b) for b in r.rsv],
        "masked": r.masked,
        "mask_key": r.mask_key.hex() if r.mask_key else None,
        "length": r.length,
    }
    if r.compressed:  # permessage-deflate: the data is the inflated payload; the wire carried `length` bytes
        out["compressed"] = True
        out["payload_length"] = r.payload_length
    out.update(_data(r.opcode, r.payload))
    if r.cut:
        out["cut"] = True
    return out


def messages(recorder: Recorder, frames: list[FrameRecord]) -> list[dict[str, Any]]:
    """Chrome's `_webSocketMessages` of one connection: data messages with their fragments joined."""
    out: list[dict[str, Any]] = []
    open_: dict[str, tuple[FrameRecord, list[bytes], bool]] = {}  # direction -> (first frame, parts, cut)
    for r in frames:
        if r.opcode in _DATA:
            open_[r.direction] = (r, [r.payload], r.cut)
        elif r.opcode == FrameType.CONTINUE and r.direction in open_:
            first, parts, cut = open_[r.direction]
            parts.append(r.payload)
            open_[r.direction] = (first, parts, cut or r.cut)
        else:
            continue
        if r.fin:
            first, parts, cut = open_.pop(r.direction)
            message = {"type": "send" if _client_sent(recorder, r.direction) else "receive", "time": first.time, "opcode": first.opcode}
            data = _data(first.opcode, b"".join(parts))
            message["data"] = data["data"]
            if cut:
                message["_cut"] = True
            out.append(message)
    return out


def _by_connection(recorder: Recorder) -> tuple[dict[int, list[FrameRecord]], dict[int, ConnectionOpened], dict[int, ConnectionClosedRecord]]:
    frames: dict[int, list[FrameRecord]] = {}
    for r in recorder.frames():
        frames.setdefault(r.connection, []).append(r)
    opened: dict[int, ConnectionOpened] = {}
    closed: dict[int, ConnectionClosedRecord] = {}
    for e in recorder.events():
        if isinstance(e, ConnectionOpened):
            opened[e.connection] = e
            frames.setdefault(e.connection, [])
        elif isinstance(e, ConnectionClosedRecord):
            closed[e.connection] = e
    return frames, opened, closed


def _headers(pairs: list[tuple[str, str]]) -> list[dict[str, str]]:
    return [{"name": k, "value": v} for k, v in pairs]


def to_har(recorder: Recorder) -> dict[str, Any]:
    """The recorder's session as a HAR 1.2 log (a dict to `json.dump`)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        ours = version("wsplay")
    except PackageNotFoundError:
        ours = "0"
    frames, opened, closed = _by_connection(recorder)
    entries = []
    for cid in sorted(frames):
        rows, op, cl = frames[cid], opened.get(cid), closed.get(cid)
        start = op.time if op is not None else (rows[0].time if rows else 0.0)
        end = cl.time if cl is not None else (rows[-1].time if rows else start)
        url = (op.url if op is not None else "") or f"ws://unknown{op.path if op is not None else '/'}"
        status_line = op.status_line if op is not None and op.status_line else "HTTP/1.1 101 Switching Protocols"
        status_text = status_line.split(" ", 2)[2] if status_line.count(" ") >= 2 else ""
        entry: dict[str, Any] = {
            "startedDateTime": _iso(start),
            "time": max(0.0, (end - start) * 1000),
            "request": {
                "method": "GET",
                "url": url,
                "httpVersion": "HTTP/1.1",
                "cookies": [],
                "headers": _headers(op.request_headers if op is not None else []),
                "queryString": [],
                "headersSize": -1,
                "bodySize": 0,
            },
            "response": {
                "status": 101,
                "statusText": status_text,
                "httpVersion": "HTTP/1.1",
                "cookies": [],
                "headers": _headers(op.response_headers if op is not None else []),
                "content": {"size": 0, "mimeType": "x-unknown"},
                "redirectURL": "",
                "headersSize": -1,
                "bodySize": 0,
            },
            "cache": {},
            "timings": {"send": 0, "wait": 0, "receive": 0},
            "_resourceType": "websocket",
            "_webSocketMessages": messages(recorder, rows),
            "_wsplay": {
                "side": recorder.side,
                "connection": cid,
                "remote": op.remote if op is not None else "",
                "subprotocol": op.subprotocol if op is not None else None,
                "frames": [frame_dict(recorder, r) for r in rows],
                "close": None if cl is None else {"code": cl.code, "reason": cl.reason, "by": cl.by, "clean": cl.clean, "time": cl.time},
            },
        }
        entries.append(entry)
    return {"log": {"version": "1.2", "creator": {"name": "wsplay", "version": ours}, "pages": [], "entries": entries}}


def to_jsonl(recorder: Recorder) -> str:
    """The recorder's session as JSON lines (text ending in a newline)."""
    frames, opened, closed = _by_connection(recorder)
    lines: list[tuple[float, int, dict[str, Any]]] = []
    for cid, op in opened.items():
        lines.append((op.time, 0, {"kind": "open", "connection": cid, "time": op.time, "url": op.url, "path": op.path,
                                   "remote": op.remote, "subprotocol": op.subprotocol, "request_line": op.request_line,
                                   "request_headers": op.request_headers, "status_line": op.status_line,
                                   "response_headers": op.response_headers}))  # fmt: skip
    for rows in frames.values():
        for r in rows:
            lines.append((r.time, 1, {"kind": "frame", **frame_dict(recorder, r)}))
    for cid, cl in closed.items():
        lines.append((cl.time, 2, {"kind": "close", "connection": cid, "time": cl.time, "code": cl.code, "reason": cl.reason, "by": cl.by, "clean": cl.clean}))
    lines.sort(key=lambda x: (x[0], x[1]))
    head = {"kind": "session", "format": "wsplay-jsonl", "version": 1, "side": recorder.side}
    return "".join(json.dumps(obj, ensure_ascii=False) + "\n" for obj in [head] + [x[2] for x in lines])


def export(recorder: Recorder, path: str | Path) -> Path:
    """Write the session to `path`: HAR when the name ends in .har, JSON lines otherwise."""
    path = Path(path)
    if path.suffix.lower() == ".har":
        path.write_text(json.dumps(to_har(recorder), ensure_ascii=False), encoding="utf-8")
    else:
        path.write_text(to_jsonl(recorder), encoding="utf-8")
    return path


def load_session(source: str | Path | dict[str, Any]) -> tuple[str, dict[int, list[dict[str, Any]]]]:
    """Read a HAR or JSON-lines session: (side that recorded it, {connection: [frame dicts in order]}).

    A HAR without wsplay's `_wsplay.frames` (one saved by Chrome) gives one frame per message.
    """
    if isinstance(source, dict):
        return _from_har(source)
    text = Path(source).read_text(encoding="utf-8")
    stripped = text.lstrip()
    if stripped.startswith("{") and '"log"' in stripped[:200]:
        return _from_har(json.loads(text))
    side, conns = "server", {}  # type: str, dict[int, list[dict[str, Any]]]
    for line in text.splitlines():
        if not line.strip():
            continue
        obj = json.loads(line)
        if obj.get("kind") == "session":
            side = obj.get("side", side)
        elif obj.get("kind") == "open":
            conns.setdefault(obj["connection"], [])
        elif obj.get("kind") == "frame":
            conns.setdefault(obj["connection"], []).append(obj)
    return side, conns


def _from_har(har: dict[str, Any]) -> tuple[str, dict[int, list[dict[str, Any]]]]:
    side, conns = "client", {}  # type: str, dict[int, list[dict[str, Any]]]
    for n, entry in enumerate(har.get("log", {}).get("entries", []), 1):
        if entry.get("_resourceType") != "websocket" and "_webSocketMessages" not in entry:
            continue
        ours = entry.get("_wsplay")
        if ours and "frames" in ours:
            side = ours.get("side", side)
            conns[ours.get("connection", n)] = list(ours["frames"])
            continue
        frames = []
        for m in entry.get("_webSocketMessages", []):
            opcode = int(m.get("opcode", 1))
            frame = {"type": m.get("type"), "time": m.get("time", 0.0), "opcode": opcode, "fin": True, "data": m.get("data", "")}
            if opcode != FrameType.TEXT:
                frame["base64"] = True
            frames.append(frame)
        conns[n] = frames
    return side, conns


def payload_of(frame: dict[str, Any]) -> bytes:
    """The payload bytes of a frame dict from `frame_dict` or a HAR message."""
    data = frame.get("data", "")
    return base64.b64decode(data) if frame.get("base64") else data.encode("utf-8")
