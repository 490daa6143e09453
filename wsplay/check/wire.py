"""The check suite's own wire: frames built and read by hand over asyncio streams, every byte recorded.

Nothing here uses wsplay's codec. The cases send frames RFC 6455 forbids (unmasked client frames,
reserved bits and opcodes, oversized control frames, lengths that lie or are not minimal), which an
encoder would refuse or "fix", and the verdicts read what the peer sent exactly as it came: a
parser that helps (merging fragments, checking masks) would hide what a case is about.

    frame()      one frame as bytes, any field set to anything: `Out` (header, payload, wire bytes)
    parse()      the next frame in a buffer, with whatever is wrong in it left for the caller to judge
    Peer         one TCP connection of the suite (either side): writes `Out`s and raw bytes, reads
                 frames and HTTP heads, records it all in a `Trace`
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
import struct
import time
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "GUID",
    "EOF",
    "SILENCE",
    "HttpHead",
    "Out",
    "Peer",
    "Trace",
    "WireFrame",
    "accept_key",
    "close_payload",
    "frame",
    "mask",
    "new_key",
    "parse",
]

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
NAMES = {0: "CONTINUE", 1: "TEXT", 2: "BINARY", 8: "CLOSE", 9: "PING", 10: "PONG"}
KEEP = 64 * 1024  # payload bytes a trace keeps per frame (the rest is counted, not kept)
HEAD_LIMIT = 64 * 1024  # an HTTP head larger than this is not read on


def accept_key(key: str) -> str:
    """Sec-WebSocket-Accept for a Sec-WebSocket-Key (RFC 6455 4.2.2)."""
    return base64.b64encode(hashlib.sha1(key.encode("ascii") + GUID).digest()).decode("ascii")


def new_key() -> str:
    """A fresh Sec-WebSocket-Key: 16 random bytes, base64 (RFC 6455 4.1)."""
    return base64.b64encode(os.urandom(16)).decode("ascii")


def mask(data: bytes, key: bytes) -> bytes:
    """XOR `data` with the 4-byte `key` (RFC 6455 5.3); masking and unmasking are the same."""
    if not data:
        return b""
    n = len(data)
    repeated = (key * (n // 4 + 1))[:n]
    return (int.from_bytes(data, "big") ^ int.from_bytes(repeated, "big")).to_bytes(n, "big")


def close_payload(code: int | None, reason: bytes | str = b"") -> bytes:
    """A close frame's payload: the code (2 bytes, big-endian) and the reason, as given (not checked)."""
    if isinstance(reason, str):
        reason = reason.encode("utf-8")
    return b"" if code is None else struct.pack("!H", code) + reason


@dataclass(frozen=True)
class Out:
    """A frame to send: its header, its payload (unmasked) and the bytes that go on the wire."""

    header: bytes
    payload: bytes
    wire: bytes
    note: str = ""


def frame(
    opcode: int,
    payload: bytes = b"",
    *,
    fin: bool = True,
    rsv: int = 0,
    key: bytes | None = None,
    length: int | None = None,
    form: int | None = None,
    note: str = "",
) -> Out:
    """Build one frame with every field as asked, lawful or not.

    Args:
        rsv: the three reserved bits as a number 0-7 (4 is RSV1, 2 RSV2, 1 RSV3).
        key: a 4-byte masking key (a client's frame), or None for an unmasked frame.
        length: the payload length to declare instead of the real one (a "lying" length).
        form: 7, 16 or 64: the length encoding to use even where a shorter one fits (RFC 6455 5.2 asks
            for the shortest); the default is the shortest.
    """
    n = len(payload) if length is None else length
    if form is None:
        form = 7 if n < 126 else 16 if n < 1 << 16 else 64
    b0 = (0x80 if fin else 0) | (rsv & 7) << 4 | (opcode & 0x0F)
    mbit = 0x80 if key is not None else 0
    if form == 7:
        head = struct.pack("!BB", b0, mbit | n)
    elif form == 16:
        head = struct.pack("!BBH", b0, mbit | 126, n)
    else:
        head = struct.pack("!BBQ", b0, mbit | 127, n)
    if key is not None:
        head += key
        body = mask(payload, key)
    else:
        body = payload
    return Out(head, payload, head + body, note)


@dataclass
class WireFrame:
    """A frame as it was read, nothing corrected: the header's fields, and the payload unmasked."""

    fin: bool
    rsv: int
    opcode: int
    masked: bool
    key: bytes | None
    length: int
    header: bytes
    payload: bytes  # unmasked
    length_form: int

    @property
    def name(self) -> str:
        return NAMES.get(self.opcode, f"reserved opcode {self.opcode:#x}")

    @property
    def control(self) -> bool:
        return self.opcode >= 8

    @property
    def minimal_length(self) -> bool:
        """True when the length used the shortest encoding (RFC 6455 5.2)."""
        want = 7 if self.length < 126 else 16 if self.length < 1 << 16 else 64
        return self.length_form == want

    def close(self) -> tuple[int | None, bytes]:
        """A close frame's (code or None, reason bytes), read by hand."""
        data = self.payload
        if len(data) < 2:
            return None, b""
        return struct.unpack("!H", data[:2])[0], data[2:]

    def describe(self) -> str:
        """A short text: 'TEXT fin=1 12 bytes', 'CLOSE 1002 "reason"'."""
        bits = "".join(n for n, b in (("RSV1", 4), ("RSV2", 2), ("RSV3", 1)) if self.rsv & b)
        extra = (" " + bits if bits else "") + (" masked" if self.masked else "")
        if self.opcode == 8:
            code, reason = self.close()
            if code is None:
                return f"CLOSE with no code{extra}" + (" (1-byte payload)" if self.payload else "")
            why = reason.decode("utf-8", "replace")
            return f"CLOSE {code}{' ' + repr(why) if why else ''}{extra}"
        return f"{self.name}{'' if self.fin else ' fin=0'} {self.length} bytes{extra}"


def parse(buf: bytes | bytearray, pos: int = 0) -> tuple[WireFrame, int] | None:
    """The frame starting at `buf[pos]` and where it ends, or None when it is not complete yet.

    A 64-bit length with its top bit set is read as it is (the caller judges it); such a frame is
    never complete, which is what a peer that believes it would see too.
    """
    end = len(buf)
    if end - pos < 2:
        return None
    b0, b1 = buf[pos], buf[pos + 1]
    n = b1 & 0x7F
    p = pos + 2
    form = 7
    if n == 126:
        if end - p < 2:
            return None
        n, form = struct.unpack_from("!H", buf, p)[0], 16
        p += 2
    elif n == 127:
        if end - p < 8:
            return None
        n, form = struct.unpack_from("!Q", buf, p)[0], 64
        p += 8
    key = None
    if b1 & 0x80:
        if end - p < 4:
            return None
        key = bytes(buf[p : p + 4])
        p += 4
    if end - p < n:
        return None
    body = bytes(buf[p : p + n])
    payload = mask(body, key) if key is not None else body
    found = WireFrame(bool(b0 & 0x80), (b0 >> 4) & 7, b0 & 0x0F, key is not None, key, n, bytes(buf[pos:p]), payload, form)
    return found, p + n


def declared_length(buf: bytes | bytearray, pos: int = 0) -> int | None:
    """The payload length the header at `buf[pos]` declares, once its length field is complete."""
    if len(buf) - pos < 2:
        return None
    n = buf[pos + 1] & 0x7F
    if n == 126:
        return struct.unpack_from("!H", buf, pos + 2)[0] if len(buf) - pos >= 4 else None
    if n == 127:
        return struct.unpack_from("!Q", buf, pos + 2)[0] if len(buf) - pos >= 10 else None
    return n


# -- HTTP heads -------------------------------------------------------------------------------------


@dataclass
class HttpHead:
    """A request or response head as it came: the first line and the header lines, in order."""

    first_line: str
    headers: list[tuple[str, str]]
    raw: bytes

    @classmethod
    def parse(cls, raw: bytes) -> HttpHead:
        text = raw.decode("latin-1")
        first, *lines = text.split("\r\n")
        headers = []
        for line in lines:
            if not line:
                continue
            name, sep, value = line.partition(":")
            headers.append((name.strip(), value.strip() if sep else ""))
        return cls(first, headers, raw)

    def get_all(self, name: str) -> list[str]:
        name = name.lower()
        return [v for k, v in self.headers if k.lower() == name]

    def get(self, name: str) -> str | None:
        found = self.get_all(name)
        return ", ".join(found) if found else None

    def tokens(self, name: str) -> list[str]:
        """A comma-separated header's values, lowercased ("keep-alive, Upgrade" -> ["keep-alive", "upgrade"])."""
        return [t.strip().lower() for v in self.get_all(name) for t in v.split(",") if t.strip()]

    @property
    def status(self) -> int | None:
        """A response's status code (None when the first line is not an HTTP status line)."""
        parts = self.first_line.split(" ", 2)
        if len(parts) >= 2 and parts[0].startswith("HTTP/") and parts[1].isdigit():
            return int(parts[1])
        return None

    @property
    def method(self) -> str:
        return self.first_line.split(" ", 1)[0]

    @property
    def target(self) -> str:
        parts = self.first_line.split(" ")
        return parts[1] if len(parts) >= 2 else ""

    @property
    def version(self) -> str:
        return self.first_line.rsplit(" ", 1)[-1] if " " in self.first_line else ""


# -- what happened on one connection ------------------------------------------------------------------


@dataclass
class Entry:
    """One line of a trace: a frame (`frame` set) or a note (HTTP heads, the TCP close, a wait)."""

    time: float  # seconds since the case started
    direction: str  # "out" (the suite sent it), "in" (the peer sent it), "" for a note
    text: str
    frame: WireFrame | None = None
    connection: int = 1


@dataclass
class Trace:
    """Everything that went over a case's connections, in order, with the time since the case started."""

    start: float = field(default_factory=time.monotonic)
    entries: list[Entry] = field(default_factory=list)

    def now(self) -> float:
        return time.monotonic() - self.start

    def note(self, text: str, direction: str = "", connection: int = 1) -> None:
        self.entries.append(Entry(self.now(), direction, text, None, connection))

    def sent(self, out: Out, connection: int = 1) -> None:
        found = parse(out.wire)
        if found is None:  # a lying length: keep the header as sent, and the bytes that followed it
            head = out.header
            wf = WireFrame(bool(head[0] & 0x80), (head[0] >> 4) & 7, head[0] & 0x0F, bool(head[1] & 0x80),
                           head[-4:] if head[1] & 0x80 else None, declared_length(head) or 0, head, out.payload,
                           {126: 16, 127: 64}.get(head[1] & 0x7F, 7))  # fmt: skip
        else:
            wf = found[0]
        if len(wf.payload) > KEEP:
            wf.payload = wf.payload[:KEEP]
        text = wf.describe() + (f" · {out.note}" if out.note else "")
        self.entries.append(Entry(self.now(), "out", text, wf, connection))

    def received(self, wf: WireFrame, connection: int = 1) -> None:
        kept = wf if len(wf.payload) <= KEEP else WireFrame(**{**wf.__dict__, "payload": wf.payload[:KEEP]})
        self.entries.append(Entry(self.now(), "in", wf.describe(), kept, connection))

    @property
    def frames(self) -> list[Entry]:
        return [e for e in self.entries if e.frame is not None]


class _Marker:
    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name


EOF = _Marker("EOF")  # the peer closed (or reset) the TCP connection
SILENCE = _Marker("SILENCE")  # nothing arrived before the deadline


class Peer:
    """One TCP connection of the suite: bytes out exactly as given, frames in exactly as read, all traced.

    Args:
        reader, writer: the asyncio streams.
        trace: where everything is recorded.
        connection: this connection's number in the trace (a case may open several).
        client: True when the suite is the client here (its frames are masked by default).
    """

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, trace: Trace, connection: int = 1, client: bool = True) -> None:
        self.reader = reader
        self.writer = writer
        self.trace = trace
        self.connection = connection
        self.client = client
        self.buf = bytearray()
        self.eof = False
        self.reset = False
        self.write_failed = False

    # -- writing ---------------------------------------------------------------------------------

    def key(self) -> bytes | None:
        return os.urandom(4) if self.client else None

    def out(self, opcode: int, payload: bytes = b"", **options: Any) -> Out:
        """A frame as this side sends it by default (masked with a fresh key from a client), options as `frame()`."""
        if "key" not in options:
            options["key"] = self.key()
        return frame(opcode, payload, **options)

    async def send(self, *outs: Out, chunk: int | None = None, pause: float = 0.0) -> None:
        """Write frames (in one write, or `chunk` bytes at a time with `pause` seconds between writes)."""
        for out in outs:
            self.trace.sent(out, self.connection)
        await self.send_bytes(b"".join(o.wire for o in outs), chunk=chunk, pause=pause, record=None)

    async def send_frame(self, opcode: int, payload: bytes = b"", **options: Any) -> None:
        await self.send(self.out(opcode, payload, **options))

    async def send_bytes(self, data: bytes, *, chunk: int | None = None, pause: float = 0.0, record: str | None = "") -> None:
        """Write raw bytes; a write to a connection the peer has closed is noted, never raised."""
        if record is not None:
            self.trace.note(record or f"{len(data)} raw bytes: {data[:40].hex(' ')}{' …' if len(data) > 40 else ''}", "out", self.connection)
        if self.write_failed or self.writer.is_closing():
            return
        step = chunk or len(data) or 1
        try:
            for i in range(0, max(len(data), 1), step):
                self.writer.write(data[i : i + step])
                await self.writer.drain()
                if pause and i + step < len(data):
                    await asyncio.sleep(pause)
        except (ConnectionError, OSError) as exc:
            self.write_failed = True
            self.trace.note(f"the write failed: the peer closed the connection ({type(exc).__name__})", "", self.connection)

    # -- reading ---------------------------------------------------------------------------------

    async def _fill(self, deadline: float) -> bool:
        """Read more bytes before the deadline (loop time); False at EOF or past the deadline."""
        if self.eof:
            return False
        loop = asyncio.get_running_loop()
        left = deadline - loop.time()
        if left <= 0:
            return False
        try:
            async with asyncio.timeout(left):
                data = await self.reader.read(256 * 1024)
        except TimeoutError:
            return False
        except (ConnectionError, OSError):
            data, self.reset = b"", True
        if not data:
            self.eof = True
            self.trace.note("the TCP connection was reset by the peer" if self.reset else "the peer closed the TCP connection", "in", self.connection)
            return False
        self.buf += data
        return True

    async def read_head(self, deadline: float) -> HttpHead | None:
        """Read an HTTP head (up to the blank line); None at EOF, past the deadline or past 64 KiB."""
        while b"\r\n\r\n" not in self.buf:
            if len(self.buf) > HEAD_LIMIT or not await self._fill(deadline):
                return None
        raw, _, rest = bytes(self.buf).partition(b"\r\n\r\n")
        self.buf = bytearray(rest)
        head = HttpHead.parse(raw)
        return head

    async def read_body(self, head: HttpHead, deadline: float, limit: int = 4096) -> bytes:
        """The body of a response that has a Content-Length (at most `limit` bytes are waited for)."""
        length = head.get("Content-Length")
        n = int(length) if length and length.strip().isdigit() else 0
        n = min(n, limit)
        while len(self.buf) < n and await self._fill(deadline):
            pass
        body, self.buf = bytes(self.buf[:n]), self.buf[n:]
        return body

    async def next_frame(self, deadline: float) -> WireFrame | _Marker:
        """The next frame, EOF once the peer closed TCP, or SILENCE at the deadline (loop time)."""
        while True:
            found = parse(self.buf)
            if found is not None:
                wf, end = found
                del self.buf[:end]
                self.trace.received(wf, self.connection)
                return wf
            if self.eof:
                return EOF
            if not await self._fill(deadline):
                return EOF if self.eof else SILENCE

    def declared(self) -> int | None:
        """The length the incomplete frame in the buffer declares (to see a peer announce a huge frame)."""
        return declared_length(self.buf)

    async def wait_eof(self, deadline: float) -> bool:
        """Read (and trace) until the peer closes TCP; True if it did before the deadline."""
        while not self.eof:
            found = parse(self.buf)
            if found is not None:
                del self.buf[: found[1]]
                self.trace.received(found[0], self.connection)
                continue
            if not await self._fill(deadline) and not self.eof:
                return False
        return True

    # -- closing ---------------------------------------------------------------------------------

    def half_close(self) -> None:
        """Send FIN (no more bytes from us), keep reading."""
        try:
            if self.writer.can_write_eof() and not self.writer.is_closing():
                self.writer.write_eof()
        except (OSError, RuntimeError):
            pass

    def close(self) -> None:
        """Close our side gracefully (what a server does once the close handshake is done)."""
        if not self.writer.is_closing():
            self.writer.close()

    def abort(self) -> None:
        """Drop the connection now (what a case does when it is over)."""
        transport = self.writer.transport
        if not transport.is_closing():
            transport.abort()
