"""Pictures of recorded data that survive anywhere a notebook goes: SVG, with a text twin.

The live panels draw in the browser and need the widget's JavaScript; a teaching notebook also has
to show its pictures on GitHub, in nbconvert's HTML, in a terminal and in CI logs. Each function
here reads records (`FrameRecord`, `ConnectionOpened`, ...) and returns a `Picture`: a notebook
shows it as an SVG image (kept in the saved output), anything else gets its text version.

    frame_bits(record)          a frame's header as RFC 6455 section 5.2 draws it, every bit filled in
    handshake(opened)           the opening handshake: the request and the 101 response side by side
    sequence(records)           one connection's frames as arrows between the client and the server
    ping_timeline(records)      pings and their pongs over time, a busy handler shaded, the drop marked
    bars(labels, series)        a horizontal bar chart (one bar per label and series)
    stack(*pictures), row(*pictures)   pictures above each other, or side by side

Peer bytes only ever reach the SVG as escaped text.

Example:
    from wsplay.widgets import pictures
    pictures.sequence(client.frames, side="client")
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import math
from collections.abc import Iterable, Sequence
from typing import Any
from xml.sax.saxutils import escape, quoteattr

from wsplay.observe import ConnectionClosedRecord, ConnectionOpened, Event, FrameRecord
from wsplay.protocol.frames import FrameType, close_code_name
from wsplay.widgets.html import printable

__all__ = ["Picture", "bars", "frame_bits", "handshake", "ping_timeline", "row", "sequence", "stack"]

MONO = "DejaVu Sans Mono, Menlo, Consolas, monospace"
SANS = "DejaVu Sans, Helvetica, Arial, sans-serif"
CHAR = 0.6  # a monospace character's width, in units of the font size
GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"  # RFC 6455 1.3
# The panels' colours (widgets/static/panel.css), so a picture and the live panel agree.
IN, OUT, CONTROL, FRAGMENT, BAD, MUTED, INK = "#1f6fb2", "#1b8a3a", "#b0610b", "#5f8f9e", "#c0392b", "#777", "#222"
_ids = itertools.count(1)


def _t(value: Any) -> str:
    return escape(str(value))


def _a(value: Any) -> str:
    return quoteattr(str(value))


def _text(x: float, y: float, content: Any, size: float = 12, anchor: str = "start", fill: str = INK, font: str = SANS, weight: str = "normal") -> str:
    return (
        f"<text x={_a(round(x, 1))} y={_a(round(y, 1))} font-size={_a(size)} font-family={_a(font)} "
        f"text-anchor={_a(anchor)} fill={_a(fill)} font-weight={_a(weight)} xml:space=\"preserve\">{_t(content)}</text>"
    )


def _clip(text: str, chars: int) -> str:
    return text if len(text) <= chars else text[: max(0, chars - 1)] + "…"


class Picture:
    """An SVG drawing and its text twin: a notebook shows the SVG (saved with the output), a terminal the text.

    Attributes:
        width, height: the drawing's size in pixels.
        body: the SVG elements inside the outer <svg> (what `stack()` and `row()` combine).
        text: the plain-text version (its `repr`).
    """

    def __init__(self, width: float, height: float, body: str, text: str, title: str = "") -> None:
        self.width = math.ceil(width)
        self.height = math.ceil(height)
        self.body = body
        self.text = text
        self.title = title

    @property
    def svg(self) -> str:
        """The whole SVG document."""
        label = f" aria-label={_a(self.title)}" if self.title else ""
        return (
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{self.width}" height="{self.height}" '
            f'viewBox="0 0 {self.width} {self.height}" role="img"{label}>'
            f'<rect width="100%" height="100%" fill="#fff"/>{self.body}</svg>'
        )

    def _repr_svg_(self) -> str:
        return self.svg

    def __repr__(self) -> str:
        return self.text

    def save(self, path: Any) -> None:
        """Write the SVG to `path`."""
        with open(path, "w", encoding="utf-8") as f:
            f.write(self.svg)


def stack(*pictures: Picture, gap: float = 12) -> Picture:
    """The pictures one above the other, left-aligned."""
    y, parts = 0.0, []
    for p in pictures:
        parts.append(f'<svg x="0" y="{y}" width="{p.width}" height="{p.height}" viewBox="0 0 {p.width} {p.height}">{p.body}</svg>')
        y += p.height + gap
    return Picture(max((p.width for p in pictures), default=0), max(0.0, y - gap), "".join(parts), "\n\n".join(p.text for p in pictures))


def row(*pictures: Picture, gap: float = 24) -> Picture:
    """The pictures side by side, top-aligned."""
    x, parts = 0.0, []
    for p in pictures:
        parts.append(f'<svg x="{x}" y="0" width="{p.width}" height="{p.height}" viewBox="0 0 {p.width} {p.height}">{p.body}</svg>')
        x += p.width + gap
    return Picture(max(0.0, x - gap), max((p.height for p in pictures), default=0), "".join(parts), "\n\n".join(p.text for p in pictures))


def _title(title: str | None, width: float) -> tuple[str, float]:
    if not title:
        return "", 0.0
    return _text(4, 16, title, 14, weight="bold"), 26.0


# -- a frame, bit by bit ----------------------------------------------------------------------------

_FIELD_FILL = {
    "fin": "#dbe8f7", "rsv": "#eeeeee", "rsv1-lit": "#bfe6dc", "opcode": "#e6dcf5", "mask": "#fde7cf",
    "len": "#e3f1e3", "ext": "#eef7ee", "key": "#fff3c4", "payload": "#f5f5f5",
}  # fmt: skip


_OPCODE_MEANING = {
    0x0: "continues a fragmented message", 0x1: "a text message (UTF-8)", 0x2: "a binary message",
    0x8: "the closing handshake", 0x9: "a ping: answer it with a pong", 0xA: "a pong: answers a ping",
}  # fmt: skip


def _type_name(opcode: int) -> str:
    try:
        return FrameType(opcode).name
    except ValueError:
        return f"reserved {opcode:#x}"


def header_fields(header: bytes, compressed: bool = False) -> list[tuple[str, str, int, int, str, str]]:
    """The header's fields in wire order: (kind, name, first bit, bits, short value, what it means)."""
    b = header
    out: list[tuple[str, str, int, int, str, str]] = []
    at = 0

    def add(kind: str, name: str, bits: int, short: str, meaning: str) -> None:
        nonlocal at
        out.append((kind, name, at, bits, short, meaning))
        at += bits

    fin, rsv1, rsv2, rsv3 = (b[0] >> 7) & 1, (b[0] >> 6) & 1, (b[0] >> 5) & 1, (b[0] >> 4) & 1
    opcode, masked, len7 = b[0] & 0x0F, (b[1] >> 7) & 1, b[1] & 0x7F
    add("fin", "FIN", 1, str(fin), "final frame of its message" if fin else "more fragments follow")
    add("rsv1-lit" if rsv1 else "rsv", "RSV1", 1, str(rsv1), "compressed message (RFC 7692)" if rsv1 and compressed else "set: needs an extension" if rsv1 else "no extension")
    add("rsv", "RSV2", 1, str(rsv2), "set: needs an extension" if rsv2 else "no extension")
    add("rsv", "RSV3", 1, str(rsv3), "set: needs an extension" if rsv3 else "no extension")
    add("opcode", "opcode", 4, f"{opcode:#x} {_type_name(opcode)}", _OPCODE_MEANING.get(opcode, "reserved: a protocol error without an extension"))
    add("mask", "MASK", 1, str(masked), "a masking key follows" if masked else "not masked")
    form = "a 16-bit length follows" if len7 == 126 else "a 64-bit length follows" if len7 == 127 else "the length itself (0-125)"
    add("len", "payload len", 7, str(len7), form)
    if len7 == 126 and len(b) >= 4:
        n = int.from_bytes(b[2:4], "big")
        add("ext", "extended payload length (16 bits)", 16, str(n), f"{n} bytes of payload")
    elif len7 == 127 and len(b) >= 10:
        n = int.from_bytes(b[2:10], "big")
        add("ext", "extended payload length (64 bits)", 64, str(n), f"{n} bytes of payload")
    if masked:
        k = at // 8
        add("key", "masking key", 32, b[k : k + 4].hex(" "), "payload byte i XOR key[i % 4]")
    return out


def frame_bits(record: FrameRecord, title: str | None = None, payload_bytes: int = 16) -> Picture:
    """A frame's header drawn as RFC 6455 section 5.2 draws it: 32 bits a row, each field named,
    its value read out and its bits written in; then the payload, as on the wire and as read.

    Example:
        pictures.frame_bits(client.frames[0], title="the frame Alice sent")
    """
    header = bytes(record.header_bytes)
    fields = header_fields(header, record.compressed)
    cell, left = 22.0, 8.0
    width = left * 2 + 32 * cell
    parts, y = [], 0.0
    head, y = _title(title, width)
    parts.append(head)
    for i in range(32):  # the RFC's bit numbers: tens, then units
        x = left + i * cell + cell / 2
        if i % 10 == 0:
            parts.append(_text(x, y + 11, i // 10, 10, "middle", MUTED, MONO))
        parts.append(_text(x, y + 23, i % 10, 10, "middle", MUTED, MONO))
    y += 28
    rows = (len(header) * 8 + 31) // 32
    row_h = 46.0
    text_lines = []
    for kind, name, start, bits, short, meaning in fields:
        text_lines.append(f"{name:<34} bits {start:>2}-{start + bits - 1:<3} = {short:<12} {meaning}")
    for r in range(rows):
        lo, hi = r * 32, min(r * 32 + 32, len(header) * 8)
        top = y + r * row_h
        for kind, name, start, bits, value, _meaning in fields:
            a, b = max(start, lo), min(start + bits, hi)
            if a >= b:
                continue
            x0 = left + (a - lo) * cell
            w = (b - a) * cell
            parts.append(f'<rect x="{x0}" y="{top}" width="{w}" height="{row_h - 4}" fill="{_FIELD_FILL[kind]}" stroke="#999" stroke-width="1"/>')
            label = name if a == start else f"{name} (cont.)"
            if b - a >= 7:
                label = f"{label} = {value}" if a == start else label
            chars = int(w / (10 * CHAR)) - 1
            if b - a <= 1:
                label = name[0] if name != "MASK" else "M"
                if name.startswith("RSV"):
                    label = "R" + name[-1]
            parts.append(_text(x0 + w / 2, top + 14, _clip(label, max(chars, 2)), 10, "middle", INK, SANS, "bold" if a == start else "normal"))
            for bit in range(a, b):
                value_bit = (header[bit // 8] >> (7 - bit % 8)) & 1
                parts.append(_text(left + (bit - lo) * cell + cell / 2, top + 34, value_bit, 13, "middle", INK if value_bit else MUTED, MONO, "bold" if value_bit else "normal"))
        if hi - lo < 32:  # the header ends inside this row: the payload starts here
            x0 = left + (hi - lo) * cell
            parts.append(f'<rect x="{x0}" y="{top}" width="{(32 - (hi - lo)) * cell}" height="{row_h - 4}" fill="{_FIELD_FILL["payload"]}" stroke="#bbb" stroke-dasharray="4 3"/>')
            parts.append(_text(x0 + (32 - (hi - lo)) * cell / 2, top + 25, "payload data …", 11, "middle", MUTED))
    y += rows * row_h + 4
    # What each field says, two columns.
    half = (len(fields) + 1) // 2
    for i, (kind, name, start, bits, short, meaning) in enumerate(fields):
        col, at = divmod(i, half)
        x0 = left + col * (width - 2 * left) / 2
        parts.append(f'<rect x="{x0}" y="{y + at * 16 + 4}" width="10" height="10" fill="{_FIELD_FILL[kind]}" stroke="#999"/>')
        short_name = name.replace("extended payload length", "ext. length")
        parts.append(_text(x0 + 15, y + at * 16 + 13, _clip(f"{short_name} = {short}: {meaning}", 60), 10.5, "start", INK, SANS))
    y += half * 16 + 8
    # The payload: on the wire (masked, or deflated) and as the application reads it.
    payload = record.payload
    wire = record.wire if record.wire is not None else payload
    if record.masked and record.mask_key:
        key = record.mask_key
        wire = bytes(byte ^ key[i % 4] for i, byte in enumerate(wire))
    shown = wire[:payload_bytes].hex(" ") + (" …" if len(wire) > payload_bytes else "")
    what = "masked" if record.masked else "deflated" if record.compressed else "as sent"
    lines = [
        f"header: {len(header)} bytes   {header.hex(' ')}",
        f"payload on the wire ({record.length} bytes, {what}): {shown or '(empty)'}",
    ]
    if record.compressed:
        lines.append(f"inflated: {record.payload_length} bytes (ratio {record.ratio:.2f})")
    if record.opcode == FrameType.CLOSE:
        info = record.close_info()
        lines.append(f"close code {info[0]} ({close_code_name(info[0])}), reason {info[1]!r}" if info else "close frame without a code")
    elif record.opcode in (FrameType.TEXT, FrameType.CONTINUE):
        lines.append(f"read as text: {printable(payload.decode('utf-8', 'replace'), 70)!r}")
    elif payload:
        lines.append(f"read: {payload[:payload_bytes].hex(' ')}{' …' if len(payload) > payload_bytes else ''}")
    for line in lines:
        parts.append(_text(left, y + 14, _clip(line, int((width - 2 * left) / (12 * CHAR))), 12, "start", INK, MONO))
        y += 18
    text = "\n".join([title or f"frame #{record.index} ({record.direction}, {record.type_name})", *text_lines, *lines])
    return Picture(width, y + 6, "".join(parts), text, title or "frame header")


# -- the opening handshake ---------------------------------------------------------------------------

_WEBSOCKET_HEADERS = ("upgrade", "connection", "sec-websocket-key", "sec-websocket-accept", "sec-websocket-version", "sec-websocket-extensions", "sec-websocket-protocol")


def _accept(key: str) -> str:
    return base64.b64encode(hashlib.sha1((key + GUID).encode()).digest()).decode()


def _wrap(line: str, chars: int, indent: str = "    ") -> list[str]:
    """A header line in pieces of at most `chars` characters, broken after '; ', ', ' or ': ' where it can be."""
    pieces: list[str] = []
    while len(line) > chars:
        cut = max(line.rfind(sep, 0, chars) for sep in ("; ", ", ", ": "))
        cut = cut + 2 if cut > len(indent) else chars
        pieces.append(line[:cut].rstrip())
        line = indent + line[cut:]
    return [*pieces, line]


def handshake(opened: ConnectionOpened, title: str | None = None, width: float = 880) -> Picture:
    """The opening handshake: the client's upgrade request and the server's 101 side by side, the
    WebSocket headers marked, and the `Sec-WebSocket-Accept` computation checked under them.

    `opened` is the `ConnectionOpened` event of a connection (`host.events` or `client.events`).

    Example:
        pictures.handshake(client.events[0])
    """
    request = [opened.request_line, *(f"{k}: {v}" for k, v in opened.request_headers)]
    response = [opened.status_line, *(f"{k}: {v}" for k, v in opened.response_headers)]
    gap = 50.0
    box = (width - gap - 16) / 2
    size, line_h = 11.0, 17.0
    chars = int((box - 16) / (size * CHAR))
    parts, y = [], 0.0
    head, y = _title(title, width)
    parts.append(head)
    parts.append(_text(8, y + 14, "client → server: the upgrade request", 12, weight="bold", fill=OUT))
    parts.append(_text(8 + box + gap, y + 14, "server → client: the answer", 12, weight="bold", fill=IN))
    y += 22
    wrapped = [[_wrap(line, chars) for line in lines] for lines in (request, response)]
    height = line_h * max(sum(len(w) for w in column) for column in wrapped) + 12
    for col, lines in enumerate(wrapped):
        x0 = 8 + col * (box + gap)
        parts.append(f'<rect x="{x0}" y="{y}" width="{box}" height="{height}" fill="#fafafa" stroke="#bbb" rx="4"/>')
        row = 0
        for i, pieces in enumerate(lines):
            name = pieces[0].split(":", 1)[0].lower()
            marked = i == 0 or name in _WEBSOCKET_HEADERS
            ly = y + 6 + row * line_h
            if marked:
                parts.append(f'<rect x="{x0 + 2}" y="{ly}" width="{box - 4}" height="{line_h * len(pieces)}" fill="{"#e9f2fb" if col else "#e8f5ea"}"/>')
            for j, piece in enumerate(pieces):
                parts.append(_text(x0 + 8, ly + 12.5 + j * line_h, piece, size, "start", INK, MONO, "bold" if marked else "normal"))
            row += len(pieces)
    mid = y + height / 2
    for x1, x2, yy, color in ((8 + box + 6, 8 + box + gap - 8, mid - 12, OUT), (8 + box + gap - 6, 8 + box + 8, mid + 12, IN)):
        parts.append(f'<line x1="{x1}" y1="{yy}" x2="{x2}" y2="{yy}" stroke="{color}" stroke-width="2"/>')
        tip = 1 if x2 > x1 else -1
        parts.append(f'<path d="M {x2} {yy} l {-8 * tip} -5 l 0 10 z" fill="{color}"/>')
    y += height + 8
    key = next((v for k, v in opened.request_headers if k.lower() == "sec-websocket-key"), None)
    accept = next((v for k, v in opened.response_headers if k.lower() == "sec-websocket-accept"), None)
    notes = []
    if key is not None:
        expected = _accept(key)
        verdict = "✓ matches" if accept == expected else f"✗ the server answered {accept!r}"
        notes.append(f'Sec-WebSocket-Accept = base64(sha1(key + "{GUID}"))')
        notes.append(f"                     = {expected}   {verdict}")
    for line in notes:
        parts.append(_text(8, y + 13, line, 11.5, "start", INK, MONO))
        y += 17
    text = "\n".join([title or "opening handshake", "--- request", *request, "--- response", *response, *notes])
    return Picture(width, y + 6, "".join(parts), text, title or "opening handshake")


# -- a sequence diagram ------------------------------------------------------------------------------


def _from_client(record: FrameRecord, side: str) -> bool:
    return (record.direction == "in") if side == "server" else (record.direction == "out")


def _label(r: FrameRecord) -> str:
    kind = r.type_name
    if r.opcode == FrameType.CLOSE:
        info = r.close_info()
        return f"CLOSE {info[0]} {close_code_name(info[0])}" + (f" {info[1]!r}" if info and info[1] else "") if info else "CLOSE (no code)"
    data = r.payload
    if r.opcode in (FrameType.TEXT, FrameType.CONTINUE, FrameType.PING, FrameType.PONG):
        text = data.decode("utf-8", "replace")
        preview = repr(printable(text, 24)) if text else ""
    else:
        preview = data[:8].hex(" ") + (" …" if len(data) > 8 else "")
    fin = "" if r.opcode >= 8 else (" fin=1" if r.fin else " fin=0")
    rsv = " RSV1" if r.rsv[0] else ""
    return f"{kind}{fin}{rsv} {r.payload_length} B {preview}".rstrip()


def _violations(records: Sequence[FrameRecord], side: str) -> dict[int, str]:
    """Frames that break RFC 6455 5.4's fragmentation rules, per direction: index -> what is wrong."""
    open_message = {True: False, False: False}
    found = {}
    for r in records:
        way = _from_client(r, side)
        if r.opcode in (FrameType.TEXT, FrameType.BINARY):
            if open_message[way]:
                found[r.index] = "new message while a fragmented one is open (RFC 6455 5.4)"
            open_message[way] = not r.fin
        elif r.opcode == FrameType.CONTINUE:
            if not open_message[way]:
                found[r.index] = "continuation with no message open (RFC 6455 5.4)"
            if r.fin:
                open_message[way] = False
    return found


def sequence(
    records: Iterable[FrameRecord],
    side: str = "server",
    title: str | None = None,
    names: tuple[str, str] = ("client", "server"),
    events: Iterable[Event] = (),
    gap: float = 0.25,
    width: float = 640,
    last: int = 60,
) -> Picture:
    """One connection's frames as a sequence diagram: an arrow per frame between the client's and the
    server's lifelines, oldest at the top. Fragments are dashed, control frames dotted, a frame that
    breaks the fragmentation rules red and marked ✗, a pause longer than `gap` seconds a gap.

    Args:
        records: the frames of one connection (`host.frames` filtered, or `client.frames`).
        side: whose records they are: "server" (in = from the client) or "client" (out = from the client).
        events: close events to draw at the bottom (the connection's `ConnectionClosedRecord`).
        last: draw at most this many frames (the newest).

    Example:
        pictures.sequence(client.frames, side="client", title="a ping between two fragments")
    """
    rows = list(records)[-last:]
    bad = _violations(rows, side)
    left, right = 110.0, width - 110.0
    parts, y = [], 0.0
    head, y = _title(title, width)
    parts.append(head)
    parts.append(_text(left, y + 14, names[0], 13, "middle", weight="bold"))
    parts.append(_text(right, y + 14, names[1], 13, "middle", weight="bold"))
    top = y + 22
    y = top + 18
    text = [title or "sequence", f"{names[0]:>12}  {'':40}  {names[1]}"]
    prev = None
    for r in rows:
        if prev is not None and r.time - prev > gap:
            pause = r.time - prev
            parts.append(f'<rect x="0" y="{y - 8}" width="{width}" height="16" fill="#f3f3f3"/>')
            parts.append(_text(width / 2, y + 4, f"⋯ {pause:.2f} s ⋯", 10, "middle", MUTED))
            text.append(f"{'':14}⋯ {pause:.2f} s ⋯")
            y += 22
        prev = r.time
        to_server = _from_client(r, side)
        control = r.opcode >= 8
        fragment = not control and (r.opcode == FrameType.CONTINUE or not r.fin)
        wrong = bad.get(r.index)
        color = BAD if wrong else CONTROL if control else FRAGMENT if fragment else (OUT if to_server else IN)
        dash = ' stroke-dasharray="2 3"' if control else ' stroke-dasharray="7 4"' if fragment else ""
        x1, x2 = (left, right) if to_server else (right, left)
        tip = 1 if to_server else -1
        parts.append(f'<line x1="{x1}" y1="{y}" x2="{x2 - 8 * tip}" y2="{y}" stroke="{color}" stroke-width="{2.2 if wrong else 1.6}"{dash}/>')
        parts.append(f'<path d="M {x2} {y} l {-9 * tip} -4.5 l 0 9 z" fill="{color}"/>')
        label = _clip(_label(r), int((right - left) / (11 * CHAR)))
        parts.append(_text((left + right) / 2, y - 5, label, 11, "middle", color, MONO, "bold" if wrong else "normal"))
        arrow = f"──{label}──▶" if to_server else f"◀──{label}──"
        text.append(f"{'':14}{arrow}")
        if wrong:
            parts.append(_text((left + right) / 2, y + 13, f"✗ {wrong}", 10.5, "middle", BAD, SANS, "bold"))
            text.append(f"{'':14}✗ {wrong}")
            y += 14
        y += 24
    for event in events:
        if isinstance(event, ConnectionClosedRecord):
            note = f"connection closed by the {event.by}: {event.code} {event.code_name}" + (f" {event.reason!r}" if event.reason else "")
            parts.append(_text(width / 2, y + 2, _clip(note, int(width / (11 * CHAR))), 11, "middle", BAD if event.code not in (1000, 1001) else MUTED, SANS, "bold"))
            text.append(f"{'':14}{note}")
            y += 18
    for x in (left, right):
        parts.insert(1, f'<line x1="{x}" y1="{top}" x2="{x}" y2="{y}" stroke="#999" stroke-width="1.2"/>')
    return Picture(width, y + 6, "".join(parts), "\n".join(text), title or "sequence diagram")


# -- pings and pongs over time -----------------------------------------------------------------------


def ping_timeline(
    records: Iterable[FrameRecord],
    side: str = "client",
    title: str | None = None,
    busy: Iterable[tuple[float, float, str]] = (),
    events: Iterable[Event] = (),
    start: float | None = None,
    seconds: float | None = None,
    width: float = 760,
) -> Picture:
    """The client's pings and the server's pongs on a time axis: each pong joined to its ping, a ping
    that never got one marked ✗, data frames in a lane of their own, `busy` spans shaded (a handler at
    work) and the end of the connection drawn as a red line.

    Args:
        records: one connection's frames; `side` says whose recorder they come from.
        busy: (from, to, label) spans in the records' clock (`time.time()`).
        events: the connection's close event, to mark when it ended.
        start, seconds: the axis (default: from the first record to the last, or the close).

    Example:
        pictures.ping_timeline(client.frames, busy=[(t0, t1, "on_message runs the job")], events=client.events)
    """
    rows = list(records)
    closes = [e for e in events if isinstance(e, ConnectionClosedRecord)]
    spans = list(busy)
    t0 = start if start is not None else min([r.time for r in rows] + [s[0] for s in spans] or [0.0])
    end_candidates = [r.time for r in rows] + [e.time for e in closes] + [s[1] for s in spans]
    length = seconds if seconds is not None else max(1.0, max(end_candidates or [t0]) - t0 + 0.3)
    left, right = 150.0, width - 20.0
    scale = (right - left) / length

    def x(t: float) -> float:
        return left + max(0.0, min(length, t - t0)) * scale

    parts, y = [], 0.0
    head, y = _title(title, width)
    parts.append(head)
    lanes = {"ping": y + 24, "pong": y + 64, "data": y + 104}
    bottom = y + 124
    names = {"ping": "ping (client)", "pong": "pong (server)", "data": "messages"}
    for lane, ly in lanes.items():
        parts.append(f'<line x1="{left}" y1="{ly}" x2="{right}" y2="{ly}" stroke="#ddd"/>')
        parts.append(_text(left - 10, ly + 4, names[lane], 11.5, "end", MUTED))
    for b0, b1, label in spans:
        parts.insert(1, f'<rect x="{x(b0)}" y="{lanes["ping"] - 16}" width="{max(2.0, x(b1) - x(b0))}" height="{bottom - lanes["ping"] + 8}" fill="#fdebd0"/>')
        parts.append(_text(x(b0) + 4, bottom - 2, label, 10.5, "start", CONTROL))
    text = [title or "pings and pongs", f"t=0 at the first record; {length:.1f} s shown"]
    pongs = [r for r in rows if r.opcode == FrameType.PONG and not _from_client(r, side)]
    used: set[int] = set()
    answered = missing = 0
    for r in rows:
        if r.opcode == FrameType.PING and _from_client(r, side):
            px = x(r.time)
            parts.append(f'<path d="M {px} {lanes["ping"] - 7} l -5 9 l 10 0 z" fill="{OUT}"/>')
            pong = next((p for p in pongs if p.index not in used and p.time >= r.time and p.payload == r.payload), None)
            if pong is not None:
                used.add(pong.index)
                answered += 1
                qx = x(pong.time)
                parts.append(f'<line x1="{px}" y1="{lanes["ping"] + 3}" x2="{qx}" y2="{lanes["pong"] - 5}" stroke="{IN}" stroke-width="1.2"/>')
                parts.append(f'<path d="M {qx} {lanes["pong"] + 7} l -5 -9 l 10 0 z" fill="{IN}"/>')
                text.append(f"  {r.time - t0:6.2f} s ping ▲ … pong ▼ after {(pong.time - r.time) * 1000:.0f} ms")
            else:
                missing += 1
                parts.append(_text(px, lanes["pong"] + 5, "✗", 15, "middle", BAD, SANS, "bold"))
                text.append(f"  {r.time - t0:6.2f} s ping ▲ … ✗ no pong")
        elif r.opcode in (FrameType.TEXT, FrameType.BINARY):
            dx = x(r.time)
            color = OUT if _from_client(r, side) else IN
            parts.append(f'<circle cx="{dx}" cy="{lanes["data"]}" r="4.5" fill="{color}"/>')
            label = _clip(printable(r.payload.decode("utf-8", "replace"), 18), 18)
            parts.append(_text(dx + 6, lanes["data"] - 7, label, 10, "start", color))
            text.append(f"  {r.time - t0:6.2f} s {'client → server' if _from_client(r, side) else 'server → client'} {label!r}")
    for e in closes:
        cx = x(e.time)
        parts.append(f'<line x1="{cx}" y1="{lanes["ping"] - 16}" x2="{cx}" y2="{bottom}" stroke="{BAD}" stroke-width="2"/>')
        note = f"closed: {e.code} {e.reason or e.code_name}"
        parts.append(_text(min(cx + 4, right - 150), lanes["ping"] - 18 + 0, _clip(note, 40), 10.5, "start", BAD, SANS, "bold"))
        text.append(f"  {e.time - t0:6.2f} s {note}")
    # the time axis
    parts.append(f'<line x1="{left}" y1="{bottom + 8}" x2="{right}" y2="{bottom + 8}" stroke="#999"/>')
    step = 0.5 if length <= 4 else 1.0 if length <= 12 else 5.0
    n = 0
    while n * step <= length + 1e-9:
        tx = left + n * step * scale
        parts.append(f'<line x1="{tx}" y1="{bottom + 8}" x2="{tx}" y2="{bottom + 12}" stroke="#999"/>')
        parts.append(_text(tx, bottom + 24, f"{n * step:g} s", 10, "middle", MUTED))
        n += 1
    text.append(f"  {answered} ping(s) answered, {missing} unanswered")
    return Picture(width, bottom + 30, "".join(parts), "\n".join(text), title or "ping timeline")


# -- bar charts --------------------------------------------------------------------------------------

_SERIES_COLORS = ("#3b6fb6", "#0f7b6c", "#b0610b", "#7a4bb5", "#b23b3b")


def bars(
    labels: Sequence[str],
    series: dict[str, Sequence[float]] | Sequence[float],
    title: str | None = None,
    unit: str = "",
    fmt: str = "{:,.2f}",
    width: float = 760,
    label_width: float = 300,
) -> Picture:
    """A horizontal bar chart: a group of bars per label, one bar per series, each with its value.

    Example:
        pictures.bars(["default", "do_not_allocate"], {"bytes per frame": [16433, 312]}, unit="B", fmt="{:,.0f}")
    """
    data = series if isinstance(series, dict) else {"": list(series)}
    names = list(data)
    top = max((v for values in data.values() for v in values), default=0) or 1.0
    bar_h, pad = 16.0, 10.0
    right = width - 110
    parts, y = [], 0.0
    head, y = _title(title, width)
    parts.append(head)
    if len(names) > 1 or names[0]:
        lx = label_width
        for i, name in enumerate(names):
            parts.append(f'<rect x="{lx}" y="{y + 3}" width="12" height="12" fill="{_SERIES_COLORS[i % 5]}"/>')
            parts.append(_text(lx + 16, y + 13, name, 11.5))
            lx += 30 + len(name) * 11.5 * CHAR
        y += 22
    text = [title or "chart"]
    for li, label in enumerate(labels):
        parts.append(_text(label_width - 8, y + bar_h * len(names) / 2 + 4, _clip(label, int(label_width / (12 * CHAR))), 12, "end"))
        for i, name in enumerate(names):
            value = data[name][li]
            w = (right - label_width) * value / top
            parts.append(f'<rect x="{label_width}" y="{y}" width="{max(w, 1.0)}" height="{bar_h - 3}" fill="{_SERIES_COLORS[i % 5]}"/>')
            shown = fmt.format(value) + (f" {unit}" if unit else "")
            parts.append(_text(label_width + max(w, 1.0) + 5, y + bar_h - 5, shown, 11, "start", INK, MONO))
            text.append(f"  {label:<40} {name:<20} {'█' * max(1, round(30 * value / top))} {shown}")
            y += bar_h
        y += pad
    return Picture(width, y + 4, "".join(parts), "\n".join(text), title or "bar chart")
