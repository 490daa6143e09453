"""The per-connection RFC 6455 state machine over a reusable receive buffer.

Bytes go in either by copy (`receive_data`) or zero-copy (`get_buffer` / `buffer_updated`, the shape
of `asyncio.BufferedProtocol`); complete frames come out of `next_frame()` one at a time, validated
(masking, reserved bits and opcodes, control-frame rules, fragmentation order, UTF-8, close payloads,
size limits). Every outgoing frame is made here too (`send_frame`, `send_close`, `fail`, `send_raw`), and
with it the close state: a client masks its frames with a key from an injectable source so tests can
pin it, and `close_record` says how the connection ended, for every layer above.
"""

from __future__ import annotations

import enum
import os
from collections.abc import Callable
from typing import NamedTuple

from wsplay.errors import InvalidState, ProtocolError
from wsplay.protocol.frames import (
    FrameType,
    Header,
    apply_mask,
    encode_close_payload,
    encode_header,
    parse_close_payload,
)
from wsplay.protocol.deflate import Deflate, Negotiated
from wsplay.protocol.parser import parse_header
from wsplay.protocol.utf8 import Utf8Validator, decode_text

__all__ = ["CloseRecord", "Connection", "Incoming", "Side", "State"]

DEFAULT_MAX_MESSAGE = 16 * 1024 * 1024
_MIN_FREE = 4 * 1024  # offer at least this much room per read
_MAX_READ = 256 * 1024  # the most room offered per read (asyncio's own read size for plain protocols)
_ROOMY = 1024 * 1024  # the buffer size to reach while lent fragments of a large message pin old buffers
_UNMASK_CHUNK = 4 * 1024  # in-place unmasking never allocates a temporary larger than this


class Side(enum.Enum):
    SERVER = "server"
    CLIENT = "client"


class State(enum.Enum):
    OPEN = "open"
    CLOSING = "closing"  # one side has sent a close frame
    CLOSED = "closed"  # both close frames seen, or the connection failed


class CloseRecord(NamedTuple):
    """How a connection ended (or is ending).

    Attributes:
        code: the close code (1005 when the close frame carried none, 1006 when the connection
            dropped without one).
        reason: the close reason.
        by: "server" or "client": the side that started the close, failed the connection or dropped it.
    """

    code: int
    reason: str
    by: str


class Incoming:
    """One frame read off the wire.

    Attributes:
        header: the wire header.
        payload: the unmasked payload: `bytes` the caller owns, or a `memoryview` into the receive
            buffer when the connection borrows (valid until the next `next_frame()`).
        text: the decoded text of a TEXT frame or of a continuation of one (the part this frame
            completes: a character cut by a fragment boundary comes with the later frame).
        close_code, close_reason: for CLOSE frames.
        wire: a compressed frame's payload as it came (unmasked); `payload` is what it inflated to.
            None for a frame that was not compressed.
    """

    __slots__ = ("header", "payload", "text", "close_code", "close_reason", "wire")

    def __init__(self, header: Header, payload: bytes | memoryview, text: str | None = None) -> None:
        self.header = header
        self.payload = payload
        self.text = text
        self.close_code: int | None = None
        self.close_reason = ""
        self.wire: bytes | memoryview | None = None

    def __repr__(self) -> str:
        return f"<Incoming {self.header!r}>"


class Connection:
    """RFC 6455 framing state for one side of one connection.

    Args:
        side: Side.SERVER expects masked frames and sends unmasked ones; CLIENT the other way round.
        max_message_size: largest message (all fragments) accepted; larger gets 1009. None: no limit.
        max_frame_size: largest single frame accepted; None: only the message limit applies.
        borrow: hand out payloads as views into the receive buffer instead of copies.
        retain_fragments: with `borrow`, keep the views of an open message's fragments valid until
            the message is complete (the engine merges them without copying).
        mask_source: returns 4 random bytes per client frame; `os.urandom` by default.
        buffer_size: initial receive buffer size.
    """

    # Slots: one of these per open connection.
    __slots__ = (
        "_borrowed", "_buf", "_checked", "_compressed", "_end", "_inflated", "_initial_size", "_last_length",
        "_mask_source", "_message", "_message_size", "_offered", "_out_compressed", "_partial", "_peer",
        "_pending", "_read_size", "_server", "_start", "_validator", "_view", "borrow", "close_received",
        "close_record", "close_sent", "deflate", "eof", "failure", "last_deflated", "max_frame_size",
        "max_message_size", "retain_fragments", "side",
    )

    def __init__(
        self,
        side: Side = Side.SERVER,
        *,
        max_message_size: int | None = DEFAULT_MAX_MESSAGE,
        max_frame_size: int | None = None,
        borrow: bool = False,
        retain_fragments: bool = False,
        mask_source: Callable[[], bytes] | None = None,
        buffer_size: int = 16 * 1024,
    ) -> None:
        self.side = side
        self._server = side is Side.SERVER
        self._peer = Side.CLIENT if self._server else Side.SERVER
        self.max_message_size = max_message_size if max_message_size is not None else 1 << 63
        self.max_frame_size = max_frame_size if max_frame_size is not None else 1 << 63
        self.borrow = borrow
        self.retain_fragments = retain_fragments
        self._mask_source = mask_source or (lambda: os.urandom(4))
        self._initial_size = buffer_size
        # Allocated at the first read, and given back by trim() when idle: an open connection that
        # says nothing costs no buffer.
        self._buf = bytearray()
        self._view = memoryview(self._buf)
        self._start = 0  # first byte not yet consumed
        self._end = 0  # one past the last byte received
        self._pending: tuple[int, int, bytes | None, int] | None = None  # header of an incomplete frame
        self._checked = 0  # payload bytes of the pending text frame already unmasked and validated
        self._partial: list[str] = []  # text decoded from the pending frame so far
        self._message: int | None = None  # opcode of the open fragmented message
        self._message_size = 0
        self._last_length = 0  # payload length of the last complete frame (of its message so far, for a fragment)
        self._read_size = _MIN_FREE  # the least room offered per read; adapts to the traffic
        self._offered = 0
        self._validator: Utf8Validator | None = None
        self._borrowed: list[memoryview] = []
        self.close_received: tuple[int, str] | None = None  # the peer's close frame: (code, reason)
        self.close_sent: tuple[int | None, str] | None = None  # ours
        self.failure: ProtocolError | None = None
        self.close_record: CloseRecord | None = None  # how it ends: the one record every layer reads
        self.eof = False
        self.deflate: Deflate | None = None  # permessage-deflate, once negotiated (use_deflate)
        self._compressed = 0  # the message being received is compressed (RSV1 on its first frame)
        self._inflated = 0  # bytes the compressed message being received has inflated to so far
        self._out_compressed = False  # the message being sent is compressed
        self.last_deflated: bytes | None = None  # what the last data frame sent compressed to (unmasked)

    # -- state ------------------------------------------------------------------------------------

    @property
    def state(self) -> State:
        if self.failure is not None or (self.close_received and self.close_sent):
            return State.CLOSED
        if self.close_received or self.close_sent:
            return State.CLOSING
        return State.OPEN

    @property
    def message_open(self) -> FrameType | None:
        """The type of the fragmented message being received, or None between messages."""
        return FrameType(self._message) if self._message is not None else None

    def use_deflate(self, params: Negotiated, level: int = 1, mem_level: int = 5) -> None:
        """permessage-deflate was negotiated: compress data messages and inflate compressed ones."""
        self.deflate = Deflate(params, self._server, level, mem_level)

    @property
    def buffered(self) -> int:
        """Bytes received but not consumed by `next_frame()` yet."""
        return self._end - self._start

    # -- bytes in ---------------------------------------------------------------------------------

    def get_buffer(self, sizehint: int = -1) -> memoryview:
        """Return writable space for the next read (the `asyncio.BufferedProtocol` contract)."""
        free = len(self._buf) - self._end
        if free < self._read_size and (free < _MIN_FREE or not self._pinned()):
            # A buffer pinned by a message's lent fragments is filled to its end first: whatever it
            # leaves unused stays allocated until the message is done. `sizehint` is only a hint
            # (asyncio gives -1, uvloop always 64 KiB): the read size that adapts to the traffic is
            # better, and following uvloop's would give every idle connection 64 KiB.
            self._make_room(self._read_size)
        view = self._view[self._end :]
        self._offered = len(view)
        return view

    def buffer_updated(self, nbytes: int) -> None:
        """Account for `nbytes` written into the space `get_buffer()` returned."""
        self._end += nbytes
        # A read that filled all the room offered says more is waiting: offer more next time (fewer
        # system calls and slides for bulk transfers); small reads bring the offer back down.
        if nbytes == self._offered:
            if self._read_size < _MAX_READ:
                self._read_size *= 2
        elif nbytes < self._read_size >> 3 and self._read_size > _MIN_FREE:
            self._read_size >>= 1

    def receive_data(self, data: bytes | bytearray | memoryview) -> None:
        """Copy bytes in (for peers that do not read into our buffer, and for tests)."""
        n = len(data)
        if len(self._buf) - self._end < n:
            self._make_room(n)
        self._view[self._end : self._end + n] = data
        self._end += n

    def receive_eof(self) -> None:
        self.eof = True

    def _make_room(self, need: int) -> None:
        keep = self._end - self._start
        size = len(self._buf)
        target = keep + need
        oversized = size > 4 * self._initial_size and 2 * target < size
        if not self._borrowed and target <= size and not oversized:
            # Slide the unconsumed tail to the front; safe because nobody holds a view of the buffer.
            if self._start:
                self._buf[:keep] = self._buf[self._start : self._end]
        else:
            # A new buffer: views lent out keep the old one alive and unchanged. It grows by doubling
            # only when full of bytes that really arrived (never to a declared length), and shrinks
            # back once a large message has been consumed.
            if target > size:
                size = max(target, 2 * size, self._initial_size)
            elif oversized:
                size = max(self._initial_size, 2 * target)
            if self._pinned():
                # Lent fragments pin every old buffer until the message is done: fewer, larger buffers
                # waste less at their ends than many small ones.
                size = max(size, min(self._message_size, _ROOMY))
            buf = bytearray(size)
            buf[:keep] = self._view[self._start : self._end]
            self._buf = buf
            self._view = memoryview(buf)
        self._start, self._end = 0, keep

    def _pinned(self) -> bool:
        """True while views lent for an unfinished message keep this buffer alive (retain_fragments)."""
        return bool(self._borrowed) and self._message is not None

    def trim(self, small_only: bool = False) -> bool:
        """Give the receive buffer back while nothing is buffered or lent out (an idle connection).

        `small_only` keeps a buffer grown for large messages (regrowing it costs copies); a small one
        is cheap to take again at the next read.
        """
        if self._start != self._end or self._borrowed or self._pending is not None or not self._buf:
            return False
        if small_only and len(self._buf) > 4 * self._initial_size:
            return False
        self._buf = bytearray()
        self._view = memoryview(self._buf)
        self._start = self._end = 0
        return True

    def _release(self) -> None:
        for view in self._borrowed:
            try:
                view.release()
            except BufferError:  # exported further (e.g. to numpy): that export may see the buffer reused
                pass
        self._borrowed.clear()

    def peek_waiting(self) -> tuple[int, bool]:
        """Count the frames buffered but not read yet (a partial one included) and tell if a ping is among them."""
        buf, pos, end = self._buf, self._start, self._end
        count, ping = 0, False
        while pos < end:
            try:
                found = parse_header(buf, pos, end)
            except ValueError:
                break
            if found is None:
                break
            count += 1
            ping = ping or (found[0] & 0x0F) == 0x9
            pos = found[3] + found[1]
        return count, ping

    # -- frames out of the buffer -----------------------------------------------------------------

    def next_frame(self) -> Incoming | None:
        """Return the next complete frame, or None when more bytes are needed.

        Views lent out by the previous call are released first (in borrow mode), so late access to
        them fails loudly instead of reading bytes that have been reused.

        Raises:
            ProtocolError: the peer broke the protocol; `code` is the close code to send. The
                connection is failed: later calls return None.
        """
        if self._borrowed and not (self.retain_fragments and self._message is not None):
            self._release()
        if self._start == self._end and not self._borrowed:
            # Everything is consumed and nothing is lent out: rewind for free, and give back a buffer
            # that a large message grew (otherwise it stays until its free tail happens to fill up).
            if len(self._buf) > 4 * self._initial_size and 8 * self._last_length < len(self._buf):
                self.trim()  # only after a small frame: steady large messages keep the buffer they need
            self._start = self._end = 0
        if self.failure is not None:
            return None
        if self.close_received is not None:
            # After its close frame the peer must send nothing (RFC 6455 5.5.1): whatever it did send
            # is dropped unread, so it cannot turn a clean close into a protocol error.
            self._start = self._end
            self._pending = None
            return None
        try:
            return self._read_one()
        except ProtocolError as exc:
            self.failure = exc
            raise

    def _read_one(self) -> Incoming | None:
        buf = self._buf
        start = self._start
        pending = self._pending
        if pending is None:
            try:
                found = parse_header(buf, start, self._end)
            except ValueError as exc:
                raise ProtocolError(str(exc), 1002) from None
            if found is None:
                return None
            b0, length, mask_key, payload_pos = found
            try:
                self._check_header(b0, length, mask_key)
            except ProtocolError as exc:  # keep the offending header for the frame log
                exc.header = Header(bool(b0 & 0x80), b0 & 0x0F, length, mask_key, bytes(buf[start:payload_pos]))
                raise
            hlen = payload_pos - start
        else:
            b0, length, mask_key, hlen = pending
            payload_pos = start + hlen
        payload_end = payload_pos + length
        opcode = b0 & 0x0F
        texty = opcode == 1 or (opcode == 0 and self._message == 1)

        if payload_end > self._end:
            self._pending = (b0, length, mask_key, hlen)
            if texty and not self._compressed:  # fail fast: validate what has arrived of a text frame
                try:
                    self._check_partial(payload_pos, mask_key)
                except ProtocolError as exc:
                    exc.header = Header(bool(b0 & 0x80), opcode, length, mask_key, bytes(buf[start:payload_pos]))
                    exc.payload = bytes(self._view[payload_pos : payload_pos + self._checked + 1])
                    raise
            return None

        # The whole frame is here.
        self._pending = None
        self._last_length = length
        self._start = payload_end
        checked = self._checked
        header = Header(bool(b0 & 0x80), opcode, length, mask_key, bytes(buf[start:payload_pos]))
        fin = b0 & 0x80

        payload: bytes | memoryview = b""
        wire = None
        try:
            if opcode < 3 and self._compressed:  # permessage-deflate: what arrived is inflated
                wire, payload, text = self._inflate(opcode, bool(fin), payload_pos, payload_end, mask_key)
            elif checked:  # part of this text frame was already unmasked in place and decoded
                self._checked = 0
                if mask_key is not None:
                    self._unmask_in_place(payload_pos + checked, payload_end, mask_key, checked)
                view = self._view[payload_pos:payload_end]
                text = "".join(self._partial) + self._validator_feed(view[checked:], bool(fin))
                self._partial.clear()
                payload = self._lend(view) if self.borrow else bytes(view)
            else:
                if self.borrow:
                    if mask_key is not None:
                        self._unmask_in_place(payload_pos, payload_end, mask_key, 0)
                    payload = self._lend(self._view[payload_pos:payload_end])
                elif mask_key is not None:
                    payload = apply_mask(self._view[payload_pos:payload_end], mask_key)
                else:
                    payload = bytes(self._view[payload_pos:payload_end])
                text = None
                if texty:
                    if opcode == 1 and fin:
                        text = decode_text(payload)
                    else:
                        if opcode == 1:
                            self._validator = Utf8Validator()
                        text = self._validator_feed(payload, bool(fin))

            if opcode >= 8:
                incoming = Incoming(header, payload)
                if opcode == 8:
                    incoming.close_code, incoming.close_reason = parse_close_payload(payload)
                    self.close_received = (incoming.close_code, incoming.close_reason)
                    self._record(incoming.close_code, incoming.close_reason, self._peer)
                return incoming
        except ProtocolError as exc:  # a bad text payload or close payload: keep the frame for the log
            exc.header, exc.payload = header, bytes((wire if wire is not None else payload)[:256])
            raise

        # Data frame: advance the fragmentation state.
        if opcode:
            if not fin:
                self._message = opcode
                self._message_size = length
        else:
            self._message_size += length
            self._last_length = self._message_size  # a message's fragments count together (next_frame's trim)
            if fin:
                self._message = None
                self._validator = None
        incoming = Incoming(header, payload, text)
        if wire is not None:
            incoming.wire = wire
        return incoming

    def _inflate(
        self, opcode: int, fin: bool, lo: int, hi: int, mask_key: bytes | None
    ) -> tuple[bytes | memoryview, bytes, str | None]:
        """A compressed data frame: (its wire payload, what it inflates to, the text it completes)."""
        view = self._view[lo:hi]
        if mask_key is not None:
            if self.borrow:  # in place: no-allocate mode copies only what inflating makes
                self._unmask_in_place(lo, hi, mask_key, 0)
                wire: bytes | memoryview = self._lend(view)
            else:
                wire = apply_mask(view, mask_key)
        else:
            wire = self._lend(view) if self.borrow else bytes(view)
        if opcode:
            self._inflated = 0
            if opcode == 1:
                self._validator = Utf8Validator()
        texty = opcode == 1 or self._message == 1
        pieces: list[str] = []
        validate = (lambda piece: pieces.append(self._validator_feed(piece, False))) if texty else None
        assert self.deflate is not None
        payload = self.deflate.inflate(wire, fin, self.max_message_size - self._inflated, validate)
        self._inflated += len(payload)
        if texty and fin:
            pieces.append(self._validator_feed(b"", True))
        return wire, payload, "".join(pieces) if texty else None

    def _check_header(self, b0: int, length: int, mask_key: bytes | None) -> None:
        opcode = b0 & 0x0F
        if (mask_key is None) is self._server:
            if self._server:
                raise ProtocolError("client frame is not masked (RFC 6455 5.1)", 1002)
            raise ProtocolError("server frame is masked (RFC 6455 5.1)", 1002)
        if b0 & 0x70:
            self._check_rsv(b0, opcode)
        if opcode >= 8:
            if opcode > 0xA:
                raise ProtocolError(f"reserved control opcode {opcode:#x} (RFC 6455 5.2)", 1002)
            if not b0 & 0x80:
                raise ProtocolError("control frame is fragmented; FIN must be 1 (RFC 6455 5.5)", 1002)
            if length > 125:
                raise ProtocolError(f"control frame payload is {length} bytes; limit is 125 (RFC 6455 5.5)", 1002)
            return
        if opcode > 2:
            raise ProtocolError(f"reserved data opcode {opcode:#x} (RFC 6455 5.2)", 1002)
        if opcode:
            self._compressed = b0 & 0x40  # RSV1 on a message's first frame: it is compressed
        if opcode == 0:
            if self._message is None:
                raise ProtocolError("continuation frame with no message open (RFC 6455 5.4)", 1002)
            total = self._message_size + length
        else:
            if self._message is not None:
                raise ProtocolError("new data frame while a fragmented message is open (RFC 6455 5.4)", 1002)
            total = length
        if length > self.max_frame_size:
            raise ProtocolError(f"frame of {length} bytes exceeds the limit of {self.max_frame_size}", 1009)
        if total > self.max_message_size:
            raise ProtocolError(f"message of {total}+ bytes exceeds the limit of {self.max_message_size}", 1009)

    def _check_rsv(self, b0: int, opcode: int) -> None:
        if self.deflate is None:
            raise ProtocolError("reserved bits must be 0: no extension was negotiated (RFC 6455 5.2)", 1002)
        if b0 & 0x30:
            raise ProtocolError("RSV2 and RSV3 must be 0: permessage-deflate uses only RSV1 (RFC 7692 6)", 1002)
        if opcode == 0:
            raise ProtocolError("RSV1 is set on a continuation frame: only a message's first frame says it is compressed (RFC 7692 6.1)", 1002)
        if opcode >= 8:
            raise ProtocolError("RSV1 is set on a control frame: control frames are never compressed (RFC 7692 6.1)", 1002)

    def _check_partial(self, payload_pos: int, mask_key: bytes | None) -> None:
        upto = self._end - payload_pos
        checked = self._checked
        if upto == checked:
            return
        # Every new byte is checked, however few: DESIGN.md wants invalid UTF-8 detected as soon as it is
        # seen (Autobahn 6.4.3/6.4.4 send the bad bytes as a 4-byte chunk in the middle of one frame).
        if mask_key is not None:
            self._unmask_in_place(payload_pos + checked, self._end, mask_key, checked)
        if self._validator is None:
            self._validator = Utf8Validator()
        self._partial.append(self._validator_feed(self._view[payload_pos + checked : self._end], False))
        self._checked = upto

    def _validator_feed(self, data: bytes | memoryview, final: bool) -> str:
        if self._validator is None:
            self._validator = Utf8Validator()
        text = self._validator.feed(data, final)
        if final:
            self._validator = None
        return text

    def _unmask_in_place(self, lo: int, hi: int, mask_key: bytes, offset: int) -> None:
        k = offset & 3
        if k:
            mask_key = mask_key[k:] + mask_key[:k]
        view = self._view
        while lo < hi:
            step = min(hi - lo, _UNMASK_CHUNK)  # a multiple of 4, so the mask phase is kept
            # Through the memoryview: assigning bytes to a bytearray slice copies them once more first.
            view[lo : lo + step] = apply_mask(view[lo : lo + step], mask_key)
            lo += step

    def _lend(self, view: memoryview) -> memoryview:
        self._borrowed.append(view)
        return view

    # -- bytes out --------------------------------------------------------------------------------
    # Every outgoing byte is made here: the I/O layer only moves what these methods return to the
    # transport, and never writes the close state itself.

    def send_frame(
        self, opcode: int, payload: bytes | bytearray | memoryview = b"", fin: bool = True, rsv: int = 0
    ) -> tuple[bytes, bytes | bytearray | memoryview]:
        """Encode a data or control frame to send, as (header, payload); a client masks it.

        The payload is returned as it was given when not masked (no copy): send both parts.

        Raises:
            InvalidState: a close frame was already sent, or the connection failed.
        """
        if self.close_sent is not None or self.failure is not None:
            self._refuse(opcode)
        if self._server and self.deflate is None:  # the hot path: no mask, nothing to compress
            return encode_header(opcode, len(payload), fin, rsv), payload
        if self.deflate is not None:
            self.last_deflated = None
            if opcode < 3:
                if opcode:  # a new message: compressed, said by RSV1 on its first frame only
                    self._out_compressed = True
                    rsv |= 4
                if self._out_compressed:
                    payload = self.last_deflated = self.deflate.compress(payload, fin)
        return self._encode(opcode, payload, fin, rsv)

    def _refuse(self, opcode: int) -> None:
        kind = FrameType(opcode).name if opcode in (0, 1, 2, 8, 9, 10) else f"opcode {opcode:#x}"
        if self.failure is not None:
            raise InvalidState(f"cannot send a {kind} frame: the connection failed ({self.failure})")
        raise InvalidState(f"cannot send a {kind} frame: a close frame was already sent on this connection")

    def send_close(self, code: int | None = 1000, reason: str = "") -> bytes:
        """Encode this side's close frame (None: no code, which the peer reads as 1005).

        Starts the close (the record says this side did) unless the peer's close frame came first.

        Raises:
            InvalidState: a close frame was already sent, or the connection failed.
            ValueError: the reason is longer than 123 bytes of UTF-8.
        """
        if self.close_sent is not None or self.failure is not None:
            self._refuse(FrameType.CLOSE)
        payload = encode_close_payload(code, reason)
        self.close_sent = (code, reason)
        self._record(1005 if code is None else code, reason, self.side)
        head, body = self._encode(FrameType.CLOSE, payload)
        return head + body

    def fail(self, error: ProtocolError) -> bytes | None:
        """Fail the connection (RFC 6455 7.1.7) for `error`; return the close frame to send, if one may still be.

        The record says this side closed, with the error's code and its message cut to fit a close frame.
        """
        if self.failure is None:
            self.failure = error
        reason = str(error).encode("utf-8")[:123].decode("utf-8", "ignore")
        self.close_record = CloseRecord(error.code, reason, self.side.value)  # the failure is how it ended
        if self.close_sent is not None:
            return None
        self.close_sent = (error.code, reason)
        head, body = self._encode(FrameType.CLOSE, encode_close_payload(error.code, reason))
        return head + body

    def _encode(
        self, opcode: int, payload: bytes | bytearray | memoryview, fin: bool = True, rsv: int = 0
    ) -> tuple[bytes, bytes | bytearray | memoryview]:
        if self._server:
            return encode_header(opcode, len(payload), fin, rsv), payload
        mask_key = self._mask_source()
        return encode_header(opcode, len(payload), fin, rsv, mask_key), apply_mask(payload, mask_key)

    def send_raw(
        self,
        opcode: int,
        payload: bytes = b"",
        *,
        fin: bool = True,
        rsv: int = 0,
        masked: bool | None = None,
        mask_key: bytes | None = None,
        length: int | None = None,
        compress: bool = False,
    ) -> tuple[bytes, bytes]:
        """Encode any frame at all, as (header, payload), valid or not: nothing is checked.

        Args:
            masked: None masks as this side should (a client does); True or False forces it.
            mask_key: the 4-byte key to mask with (a fresh one from the mask source when None).
            length: the payload length to declare, whatever the payload's real length (a lying header).
            compress: deflate the payload with the negotiated permessage-deflate (RSV1 is still as given).

        A close frame sent this way still counts as sent, so the peer's answer completes the close
        handshake; the close record is left to that answer (it is the peer's verdict on the frame).
        """
        if compress:
            if self.deflate is None:
                raise InvalidState("compress=True needs permessage-deflate, and this connection did not negotiate it")
            payload = self.deflate.compress(payload, fin)
        if masked is None:
            masked = not self._server
        key = (mask_key if mask_key is not None else self._mask_source()) if masked else None
        head = encode_header(opcode, len(payload) if length is None else length, fin, rsv, key)
        if opcode == FrameType.CLOSE and self.close_sent is None and self.failure is None:
            code = payload[0] << 8 | payload[1] if len(payload) >= 2 else None
            self.close_sent = (code, bytes(payload[2:]).decode("utf-8", "replace"))
        return head, (apply_mask(payload, key) if key is not None else payload)

    def abort(self, code: int, reason: str) -> None:
        """Note that this side is ending the connection without completing the close handshake
        (a keepalive timeout, a peer that does not read): the record says so, if it is the first word."""
        self._record(code, reason, self.side)

    def connection_lost(self) -> None:
        """The transport is gone. With no close record yet, the peer dropped it: 1006 (abnormal closure)."""
        self._record(1006, "", self._peer)

    # -- the close record -------------------------------------------------------------------------

    def _record(self, code: int, reason: str, by: Side) -> None:
        """Keep the first word on how the connection ends: whoever started the close, with what."""
        if self.close_record is None:
            self.close_record = CloseRecord(code, reason, "server" if by is Side.SERVER else "client")

    @property
    def clean(self) -> bool:
        """True when a close frame went each way (the close handshake completed)."""
        return self.close_sent is not None and self.close_received is not None
