"""Replay the client side of a recorded session (HAR or JSON lines) against a server.

Only what a client sent is replayed, through the public client API: data messages (fragmented ones
with their recorded fragment sizes), pings, and the close with its code and reason. Pongs are left
to the client's automatic answers; frames the API cannot send (reserved opcodes, RSV bits, unmasked
frames) are skipped and reported.

Example:
    host.recorder.export("chat.har")
    result = wsplay.replay("chat.har", other_host.url, timing="recorded")
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from wsplay import runtime
from wsplay.client import Client
from wsplay.observe.export import load_session, payload_of
from wsplay.protocol.frames import FrameType

__all__ = ["ReplayResult", "replay"]


@dataclass
class ReplayResult:
    """What a replay did: the clients it used (closed), frames sent, and what it could not send."""

    clients: list[Any] = field(default_factory=list)
    sent: int = 0
    messages: int = 0
    skipped: list[str] = field(default_factory=list)
    cut: int = 0  # messages whose recorded payload was cut (replayed as far as it was kept)

    def __repr__(self) -> str:
        extra = f", {len(self.skipped)} skipped" if self.skipped else ""
        cut = f", {self.cut} cut short by the recorder's budget" if self.cut else ""
        return f"<ReplayResult {len(self.clients)} connection(s), {self.messages} message(s) in {self.sent} frame(s){extra}{cut}>"


def _actions(frames: list[dict[str, Any]], result: ReplayResult) -> list[tuple[float, str, tuple[Any, ...]]]:
    """The client's frames of one connection as (time, method, args) calls of the client API."""
    out: list[tuple[float, str, tuple[Any, ...]]] = []
    parts: list[bytes] = []
    first: dict[str, Any] | None = None
    for f in frames:
        if f.get("type", "send") != "send":
            continue
        opcode, fin, t = int(f.get("opcode", 1)), bool(f.get("fin", True)), float(f.get("time", 0.0))
        rsv = list(f.get("rsv", ())) + [0, 0, 0]
        if rsv[1] or rsv[2] or (rsv[0] and not f.get("compressed")) or f.get("masked") is False:
            result.skipped.append(f"frame {f.get('index', '?')}: RSV bits or no mask (send it with send_raw)")
            continue
        result.cut += bool(f.get("cut"))
        payload = payload_of(f)
        if opcode in (FrameType.TEXT, FrameType.BINARY):
            first, parts = f, [payload]
        elif opcode == FrameType.CONTINUE and first is not None:
            parts.append(payload)
        elif opcode == FrameType.PING:
            out.append((t, "ping", (payload,)))
            continue
        elif opcode == FrameType.CLOSE:
            code = int.from_bytes(payload[:2], "big") if len(payload) >= 2 else 1000
            out.append((t, "close", (code, payload[2:].decode("utf-8", "replace"))))
            continue
        elif opcode == FrameType.PONG:
            continue  # the client answers the server's pings by itself
        else:
            result.skipped.append(f"frame {f.get('index', '?')}: opcode {opcode:#x} is not a message the client API sends")
            continue
        if not fin:
            continue
        assert first is not None
        whole = b"".join(parts)
        data: str | bytes = whole
        if int(first.get("opcode", 1)) == FrameType.TEXT:
            data = whole.decode("utf-8", "replace")
        start = float(first.get("time", t))
        if len(parts) == 1:
            out.append((start, "send", (data,)))
        else:
            out.append((start, "send_fragmented", (data, [len(p) for p in parts[:-1]])))
        first, parts = None, []
    return out


def replay(
    source: str | Path | dict[str, Any],
    url: str,
    *,
    timing: str = "fast",
    speed: float = 1.0,
    connections: list[int] | None = None,
    **options: Any,
) -> Awaitable[ReplayResult]:
    """Replay what the client(s) of a recorded session sent, against the server at `url`.

    It follows the calling convention: from a cell it returns when the replay is done; in
    coroutine code, `await` it. The clients live on wsplay's loop like any other.

    Args:
        source: a .har file (Chrome's or wsplay's), a JSON-lines file from `recorder.export()`, or a HAR dict.
        url: the server to replay against (the recorded path is not used).
        timing: "fast" sends everything as fast as possible; "recorded" keeps the recorded gaps.
        speed: with timing="recorded", 2.0 replays twice as fast.
        connections: the recorded connection ids to replay (default: all, opened in id order).
        **options: passed to `wsplay.connect()` (queue=False by default: nothing reads the answers).

    Returns:
        A ReplayResult; every client it opened is closed when it returns.

    Example:
        host.recorder.export("session.har")
        wsplay.replay("session.har", host.url, timing="recorded")
    """
    if timing not in ("fast", "recorded"):
        raise ValueError(f"timing is 'fast' or 'recorded', not {timing!r}")
    return runtime.bridge(_replay(load_session(source)[1], url, timing, speed, connections, {"queue": False, **options}))


async def _replay(
    sessions: dict[int, list[dict[str, Any]]], url: str, timing: str, speed: float, connections: list[int] | None, options: dict[str, Any]
) -> ReplayResult:
    result = ReplayResult()
    ids = sorted(sessions) if connections is None else [c for c in connections if c in sessions]
    schedule: list[tuple[float, int, int, str, tuple[Any, ...]]] = []
    for n, cid in enumerate(ids):
        for seq, (t, method, args) in enumerate(_actions(sessions[cid], result)):
            schedule.append((t, n, seq, method, args))
    schedule.sort(key=lambda a: (a[0], a[1], a[2]))
    loop = asyncio.get_running_loop()
    clients: list[Client] = []
    try:
        for _ in ids:
            client = Client(url, **options)
            clients.append(client)
            await client.open()
        result.clients = clients
        began, t0 = loop.time(), schedule[0][0] if schedule else 0.0
        for t, n, _seq, method, args in schedule:
            if timing == "recorded":
                wait = (t - t0) / speed - (loop.time() - began)
                if wait > 0:
                    await asyncio.sleep(wait)
            client = clients[n]
            if client.state != "open":
                result.skipped.append(f"{method} on connection {ids[n]}: the client is {client.state}")
                continue
            if method == "send_fragmented":
                data, sizes = args
                await client.send_fragmented(data, sizes=sizes)
                result.sent += len(sizes) + 1
                result.messages += 1
            else:
                await getattr(client, method)(*args)
                result.sent += 1
                result.messages += method == "send"
            if client.state == "open":
                await client.flush()  # out now, not corked: the server sees the actions in their order
            await asyncio.sleep(0)  # and gets the loop once before the next action, whoever sends it
    finally:
        for client in clients:
            if client.state in ("open", "closing"):
                await client.close(1000, "")
    return result
