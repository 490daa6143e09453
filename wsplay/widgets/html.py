"""Text for the panels: escaping, hex dumps, one-line previews and small HTML tables.

Anything a peer controls (payloads, close reasons, paths, remote addresses, handler names, error
text) goes through `esc()` before it is put into a widget that renders HTML: an HTML widget's value
is set as innerHTML in the browser, so an unescaped `<img src=x onerror=...>` would run.
Plain-text widgets (a Select's rows, a Label) render with textContent and get the text as it is.
"""

from __future__ import annotations

import html
import time
from collections.abc import Iterable, Sequence
from typing import Any

from wsplay.protocol.frames import FrameType, close_code_name

__all__ = ["CSS", "esc", "fmt_bytes", "fmt_time", "hexdump", "preview", "printable", "table"]

# The panels' look, shipped once in a static HTML widget (never resent). Monospace frame rows line
# up because the Select view turns spaces into non-breaking ones.
CSS = """<style>
.wsplay-panel table.wsplay {border-collapse: collapse; font-size: 12px; margin: 2px 0}
.wsplay-panel table.wsplay th, .wsplay-panel table.wsplay td {padding: 1px 8px 1px 0; text-align: left;
  vertical-align: top; white-space: nowrap}
.wsplay-panel table.wsplay th {border-bottom: 1px solid var(--jp-border-color2, #ccc); font-weight: 600}
.wsplay-panel .wsplay-log select, .wsplay-panel .wsplay-mono, .wsplay-panel pre {
  font-family: var(--jp-code-font-family, monospace); font-size: 12px}
.wsplay-panel pre {margin: 2px 0; white-space: pre-wrap; word-break: break-all}
.wsplay-panel .wsplay-muted {color: var(--jp-ui-font-color2, #777)}
.wsplay-panel .wsplay-error {color: var(--jp-error-color1, #c00)}
.wsplay-panel .wsplay-warn {color: var(--jp-warn-color1, #b60)}
.wsplay-panel .wsplay-ok {color: var(--jp-success-color1, #080)}
</style>"""


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


def table(head: Sequence[str], rows: Iterable[Sequence[str]], css: str = "wsplay") -> str:
    """An HTML table; `head` and every cell must already be escaped (cells may carry markup)."""
    th = "".join(f"<th>{h}</th>" for h in head)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f'<table class="{css}"><thead><tr>{th}</tr></thead><tbody>{body}</tbody></table>'
