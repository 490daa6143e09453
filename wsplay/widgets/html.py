"""Text for the panels: one-line previews of payloads, hex dumps, times and sizes, and HTML escaping.

The panels' front end puts every string into the page as text (textContent), so previews are sent
as they are; `esc()` is for the rare HTML made on the Python side (none in the panels today).
"""

from __future__ import annotations

import html
import time
from typing import Any

from wsplay.protocol.frames import FrameType, close_code_name

__all__ = ["esc", "fmt_bytes", "fmt_time", "hexdump", "preview", "printable"]


def esc(value: Any) -> str:
    """HTML-escape anything (quotes too, so it is also safe inside an attribute)."""
    return html.escape(str(value), quote=True)


def fmt_time(t: float) -> str:
    """A wall-clock time with milliseconds, e.g. '14:03:07.125'."""
    return time.strftime("%H:%M:%S", time.localtime(t)) + f".{int(t * 1000) % 1000:03d}"


def fmt_bytes(n: int) -> str:
    if n < 10_000:
        return f"{n} B"
    if n < 10_000_000:
        return f"{n / 1024:.1f} KiB"
    return f"{n / 1048576:.1f} MiB"


def printable(text: str, limit: int = 60) -> str:
    """One line of text: control characters shown as escapes, cut at `limit` characters with '…'."""
    out = []
    for ch in text[: limit + 1]:
        if ch == "\\":
            out.append("\\\\")
        elif ch.isprintable():
            out.append(ch)
        else:
            out.append(ch.encode("unicode_escape").decode("ascii"))
    line = "".join(out)
    return line[:limit] + "…" if len(text) > limit or len(line) > limit else line


def hexdump(data: bytes, width: int = 16) -> str:
    """A classic hex dump (offset, hex bytes, ASCII), as plain text; escape it before HTML."""
    lines = []
    for offset in range(0, len(data), width):
        chunk = data[offset : offset + width]
        hexes = " ".join(f"{b:02x}" for b in chunk)
        ascii_ = "".join(chr(b) if 0x20 <= b < 0x7F else "." for b in chunk)
        lines.append(f"{offset:08x}  {hexes:<{width * 3 - 1}}  {ascii_}")
    return "\n".join(lines)


def preview(opcode: int, data: bytes, limit: int = 48) -> str:
    """What a frame log row shows of a payload, as plain text."""
    if opcode == FrameType.CLOSE:
        if len(data) < 2:
            return "(no code)"
        code = int.from_bytes(data[:2], "big")
        reason = data[2:].decode("utf-8", "replace")
        return f"{code} {close_code_name(code)}" + (f" {printable(reason, limit)!r}" if reason else "")
    if not data:
        return ""
    if opcode in (FrameType.TEXT, FrameType.CONTINUE):
        return printable(data.decode("utf-8", "replace"), limit)
    if opcode in (FrameType.PING, FrameType.PONG) and all(0x20 <= b < 0x7F for b in data):
        return printable(data.decode("ascii"), limit)
    shown = data[:16]
    return " ".join(f"{b:02x}" for b in shown) + (" …" if len(data) > 16 else "")
