"""The capstone's checker: connect to a student's chat server and say what works and what is still missing.

What the capstone asks of the chat (notebook 07):

1. **/nick**: `/nick alice` renames the sender: everyone is told (`* 0 is now alice`), and the
   sender's later messages read `[alice]: ...` instead of `[0]: ...`.
2. **A ticker in the background**: `/ticker` sends the sender `tick 1`, `tick 2`, ... every 0.1 s
   until `/stop`, while the connection keeps working: pings answered at once, chat lines delivered.
3. **A fragmented upload**: a binary message (sent in fragments) is answered with
   `upload: <bytes> bytes in <fragments> fragments, sha256 <the digest's first 16 hex digits>`.
4. **The upload comes back whole**: the server then sends the upload back to the uploader as one
   fragmented binary message, and no tick (nor chat line) lands between its fragments.

Each check uses its own clients (no compression, so fragments stay as sent) and closes them.

Example:
    report = capstone.check(host.url)
    report            # in a notebook: a table of the four items, each passed or with a hint
    report.passed     # True once all four work
"""

from __future__ import annotations

import hashlib
import html
import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import cast

from wsplay.client import Client, connect
from wsplay.core.frame import Frame
from wsplay.errors import ConnectionClosed
from wsplay.protocol.frames import FrameType

__all__ = ["ITEMS", "Item", "Report", "check"]

ITEMS = (
    "/nick renames the sender",
    "/ticker ticks in the background",
    "a fragmented upload is answered",
    "the upload comes back whole while ticks flow",
)
_TICK = re.compile(r"^tick \d+$")
UPLOAD_BYTES, UPLOAD_FRAGMENT = 64 * 1024, 4 * 1024


def _tick(text: str) -> bool:
    return _TICK.match(text) is not None


@dataclass
class Item:
    """One thing the capstone asks for. `passed` is None when it could not be checked yet."""

    name: str
    passed: bool | None = None
    detail: str = ""
    hint: str = ""

    @property
    def mark(self) -> str:
        return {True: "✓", False: "✗", None: "…"}[self.passed]


@dataclass
class Report:
    """What `check()` found: one `Item` per requirement, in order."""

    url: str
    items: list[Item] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def passed(self) -> bool:
        return bool(self.items) and all(item.passed for item in self.items)

    @property
    def missing(self) -> list[str]:
        """The names of the items not passed yet (failed, or not checked yet)."""
        return [item.name for item in self.items if not item.passed]

    def __repr__(self) -> str:
        head = "all done: the capstone works" if self.passed else f"{len(self.missing)} of {len(self.items)} still missing"
        lines = [f"capstone check of {self.url}: {head} ({self.seconds:.1f} s)"]
        for i, item in enumerate(self.items, 1):
            lines.append(f"  {item.mark} {i}. {item.name}" + (f": {item.detail}" if item.detail else ""))
            if item.hint and not item.passed:
                lines.append(f"       hint: {item.hint}")
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        colour = {True: "#1b8a3a", False: "#c0392b", None: "#777"}
        rows = []
        for i, item in enumerate(self.items, 1):
            hint = f"<br><i>hint:</i> {html.escape(item.hint)}" if item.hint and not item.passed else ""
            rows.append(
                f"<tr><td style='color:{colour[item.passed]};font-size:1.3em'>{item.mark}</td>"
                f"<td style='text-align:left'><b>{i}. {html.escape(item.name)}</b><br>{html.escape(item.detail)}{hint}</td></tr>"
            )
        head = "All done: the capstone works." if self.passed else f"{len(self.missing)} of {len(self.items)} still missing."
        return f"<p><b>{head}</b> ({self.seconds:.1f} s)</p><table>{''.join(rows)}</table>"


def _open(url: str, opened: list[Client]) -> Client:
    client = cast(Client, connect(url, compression=None))  # a plain call: the client itself
    opened.append(client)
    return client


def _receive(client: Client, timeout: float) -> Frame:
    return cast(Frame, client.receive(timeout=timeout))  # a plain call: the frame itself


def _texts(client: Client, seconds: float, keep: Callable[[str], bool] = lambda t: True) -> list[str]:
    """The text messages `client` receives within `seconds` that `keep` accepts (the connection may end)."""
    out: list[str] = []
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        try:
            frame = _receive(client, left)
        except (TimeoutError, ConnectionClosed):
            break
        if frame.type is FrameType.TEXT and keep(frame.data_as_string()):
            out.append(frame.data_as_string())
        elif frame.type is FrameType.CLOSE:
            break
    return out


def _wait_text(client: Client, seconds: float, wanted: Callable[[str], bool]) -> str | None:
    """The first text message `wanted` accepts within `seconds` (others are skipped), or None."""
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        try:
            frame = _receive(client, left)
        except (TimeoutError, ConnectionClosed):
            return None
        if frame.type is FrameType.TEXT and wanted(frame.data_as_string()):
            return frame.data_as_string()
        if frame.type in (FrameType.CLOSE, FrameType.ERROR):
            return None
    return None


def _check_nick(url: str, opened: list[Client]) -> Item:
    item = Item(ITEMS[0], hint="keep a name per connection (a dict); on '/nick alice' tell everyone '* 0 is now alice', "
                               "then send the sender's messages as '[alice]: ...'")  # fmt: skip
    alice, bob = _open(url, opened), _open(url, opened)
    alice.send("hello")
    if _wait_text(bob, 1.0, lambda t: t.endswith("]: hello")) is None:
        item.passed, item.detail = False, "the chat itself does not work: 'hello' did not reach the other client as '[n]: hello'"
        item.hint = "start from the chat in the start cell: every text goes to every client as '[n]: text'"
        return item
    alice.send("/nick alice")
    told = _wait_text(bob, 1.0, lambda t: "alice" in t and not t.endswith("]: /nick alice"))
    alice.send("hi")
    shown = _wait_text(bob, 1.0, lambda t: t.endswith(": hi"))
    if shown == "[alice]: hi" and told is not None:
        item.passed, item.detail = True, f"the others were told ({told!r}) and then saw '[alice]: hi'"
    elif shown == "[alice]: hi":
        item.passed, item.detail = False, "the new name is used, but nobody was told about it"
    else:
        item.passed, item.detail = False, f"after '/nick alice' the others saw {shown!r} for 'hi', not '[alice]: hi'"
    return item


def _check_ticker(url: str, opened: list[Client]) -> Item:
    item = Item(ITEMS[1])
    client = _open(url, opened)
    client.send("/ticker")
    ticks = _texts(client, 0.55, _tick)
    client.ping(b"are you there?")
    started = time.monotonic()
    pong = None
    while time.monotonic() - started < 0.5:
        try:
            frame = _receive(client, 0.5 - (time.monotonic() - started))
        except (TimeoutError, ConnectionClosed):
            break
        if frame.type is FrameType.PONG:
            pong = time.monotonic() - started
            break
        if frame.type is FrameType.TEXT and _tick(frame.data_as_string()):
            ticks.append(frame.data_as_string())
    if pong is None:
        item.passed, item.detail = False, "a ping sent while the ticker ran got no pong within 0.5 s: the message pump is stuck"
        item.hint = "the ticker holds the message pump (notebook 04): start it with connection.spawn(...) and return from on_message"
        return item
    if len(ticks) < 3:
        item.passed, item.detail = False, f"{len(ticks)} tick(s) in the first 0.6 s after '/ticker'"
        item.hint = "'/ticker' should send 'tick 1', 'tick 2', ... every 0.1 s"
        return item
    client.send("still chatting")
    line = _wait_text(client, 0.5, lambda t: t.endswith("]: still chatting"))
    if line is None:
        item.passed, item.detail = False, "a chat line sent while ticking did not come back within 0.5 s"
        item.hint = "the ticker must run beside the handler: connection.spawn(...)"
        return item
    client.send("/stop")
    _texts(client, 0.3)  # a tick already on its way may still arrive
    late = _texts(client, 0.5, _tick)
    if late:
        item.passed, item.detail = False, f"ticks kept coming after '/stop': {late[:3]}"
        item.hint = "keep the task that spawn() returns (per connection) and cancel() it on '/stop'"
        return item
    item.passed = True
    item.detail = f"{len(ticks)} ticks in 0.6 s, a pong after {pong * 1000:.0f} ms, chat lines delivered, '/stop' stopped it"
    return item


def _upload(client: Client, data: bytes) -> None:
    client.send_fragmented(data, fragment_size=UPLOAD_FRAGMENT)


def _summary(data: bytes) -> str:
    return f"upload: {len(data)} bytes in {len(data) // UPLOAD_FRAGMENT} fragments, sha256 {hashlib.sha256(data).hexdigest()[:16]}"


def _check_upload(url: str, opened: list[Client]) -> Item:
    item = Item(ITEMS[2])
    client = _open(url, opened)
    data = os.urandom(UPLOAD_BYTES)
    _upload(client, data)
    expected = _summary(data)
    got = _wait_text(client, 1.5, lambda t: t.startswith("upload"))
    if got == expected:
        item.passed, item.detail = True, f"{got!r}"
    else:
        item.passed = False
        item.detail = f"sent {UPLOAD_BYTES} bytes in {UPLOAD_BYTES // UPLOAD_FRAGMENT} fragments; expected {expected!r}, got {got!r}"
        item.hint = ("answer a binary message with 'upload: N bytes in K fragments, sha256 <first 16 hex digits>'; "
                     "len(message.raw.segments) counts the fragments (notebook 03)")  # fmt: skip
    return item


def _check_echo(url: str, opened: list[Client]) -> Item:
    item = Item(ITEMS[3], hint="hold connection.write_lock for the whole echo, and write the ticks (and chat lines) "
                               "with write_synchronized() (notebook 05)")  # fmt: skip
    client = _open(url, opened)
    client.send("/ticker")
    if not _texts(client, 0.35, _tick):
        item.passed, item.detail = False, "no tick came after '/ticker'"
        return item
    data = os.urandom(UPLOAD_BYTES)
    _upload(client, data)
    deadline = time.monotonic() + 3.0
    echoed = None
    while (left := deadline - time.monotonic()) > 0:
        try:
            frame = _receive(client, left)
        except (TimeoutError, ConnectionClosed):
            break
        if frame.type is FrameType.BINARY:
            echoed = frame.data
            break
        if frame.type in (FrameType.ERROR, FrameType.CLOSE):
            break
    if client.state != "open" or echoed is None:
        if client.close_code == 1002:
            item.passed = False
            item.detail = f"the client failed the connection with 1002 ({client.close_reason}): a tick landed between the echo's fragments"
        else:
            item.passed, item.detail = False, "the upload did not come back as a binary message within 3 s"
            item.hint = "send the upload back to the uploader as one binary message in fragments (send_in_fragments in the start cell)"
        return item
    if echoed != data:
        item.passed, item.detail = False, f"the echo is {len(echoed)} bytes and differs from the {len(data)} bytes sent"
        return item
    fragments = [r for r in client.frames if r.direction == "in" and r.opcode in (FrameType.BINARY, FrameType.CONTINUE)]
    ticks = _texts(client, 0.3, _tick)
    client.send("/stop")
    if not ticks:
        item.passed, item.detail = False, "the echo came back whole, but the ticks stopped"
        return item
    item.passed = True
    item.detail = f"{len(data)} bytes back in {len(fragments)} fragments, whole, with the ticker running"
    return item


def check(url: str) -> Report:
    """Check the capstone chat at `url` and return what works and what is still missing (a few seconds).

    An item that needs an earlier one to work (the echo while ticking needs the ticker) is left
    unchecked ("…") until that one passes. Never raises for a wrong server: the report says what
    went wrong, with a hint.

    Example:
        capstone.check(host.url)
    """
    started = time.monotonic()
    report = Report(url)
    opened: list[Client] = []
    checks: list[tuple[Callable[[str, list[Client]], Item], int | None]] = [
        (_check_nick, None),
        (_check_ticker, None),
        (_check_upload, None),
        (_check_echo, 1),  # needs the ticker
    ]
    try:
        for fn, needs in checks:
            if needs is not None and not report.items[needs].passed:
                name = ITEMS[len(report.items)]
                report.items.append(Item(name, None, f"checked once item {needs + 1} works", ""))
                continue
            try:
                report.items.append(fn(url, opened))
            except Exception as exc:  # noqa: BLE001 - a broken server is a finding, not a crash
                name = ITEMS[len(report.items)]
                report.items.append(Item(name, False, f"{type(exc).__name__}: {exc}", "is the server running? run the start cell"))
            finally:
                for client in opened:
                    client.close()
                opened.clear()
    finally:
        for client in opened:
            client.close()
    report.seconds = time.monotonic() - started
    return report

