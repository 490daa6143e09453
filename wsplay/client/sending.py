"""What a Client sends: messages, fragments, pings, and any frame at all, valid or not.

Frames written in one loop iteration are corked and leave in one system call; large payloads go
straight to the transport. Each frame is masked with a fresh key from the mask source (pin it in
tests) and recorded with its wire header, mask key included, before it is written.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence

from wsplay import runtime
from wsplay.errors import ConnectionClosed, InvalidState
from wsplay.observe import Recorder
from wsplay.protocol.connection import Connection
from wsplay.protocol.frames import FrameType, apply_mask, encode_header

__all__ = ["Sending"]

_LARGE = 16 * 1024  # payloads at least this big skip the cork and go straight to the transport
_WRITE_TIMEOUT = 60.0  # a sync caller waits at most this long for backpressure to ease


class Sending:
    """The sending half of `Client` (a mixin: the connection state lives in Client)."""

    # Provided by Client.
    id: int
    close_timeout: float
    _proto: Connection
    _transport: asyncio.Transport | None
    _rec: Recorder | None
    _mask: Callable[[], bytes]
    _upgraded: bool
    _lost: bool
    _keepalive_data: bytes | None
    _later_pings: set[bytes]
    _timer: Callable[[str, float, Callable[[], None]], None]
    _abort: Callable[[], None]
    _closed_error: Callable[[], ConnectionClosed]

    def _init_sending(self) -> None:
        self._out: list[bytes] = []
        self._flush_scheduled = False
        self._write_paused = False
        self._drain_waiters: list[asyncio.Future[None]] = []

    def send(self, data: str | bytes | bytearray | memoryview) -> Awaitable[None]:
        """Send a message: str as TEXT, bytes-like as BINARY.

        Example:
            client.send("hello")
            client.receive_text(timeout=1)
        """
        opcode = FrameType.TEXT if isinstance(data, str) else FrameType.BINARY
        return self._bridged_send([(opcode, _as_bytes(data), True)])

    def send_text(self, text: str) -> Awaitable[None]:
        """Send a TEXT message."""
        return self._bridged_send([(FrameType.TEXT, text.encode("utf-8"), True)])

    def send_binary(self, data: bytes | bytearray | memoryview) -> Awaitable[None]:
        """Send a BINARY message."""
        return self._bridged_send([(FrameType.BINARY, bytes(data), True)])

    def send_fragmented(
        self,
        data: str | bytes | bytearray | memoryview,
        fragment_size: int | None = None,
        sizes: Sequence[int] | None = None,
    ) -> Awaitable[None]:
        """Send one message as several frames: TEXT/BINARY with fin=0, CONTINUE frames, the last with fin=1.

        Args:
            fragment_size: bytes per fragment (the last may be shorter).
            sizes: explicit fragment sizes in bytes (0 allowed; a text fragment may cut a character);
                bytes left over go in one last fragment.
        Example:
            client.send_fragmented("hello world", sizes=[3, 3])
            client.receive_text(timeout=1)  # 'hello world', merged by the server
        """
        payload = _as_bytes(data)
        if sizes is None:
            if not fragment_size or fragment_size < 1:
                raise ValueError("send_fragmented() needs fragment_size=N (bytes per fragment) or sizes=[...]")
            sizes = [fragment_size] * (len(payload) // fragment_size)  # the rest goes in a last fragment
        if sum(sizes) > len(payload) or any(n < 0 for n in sizes):
            raise ValueError(f"fragment sizes {list(sizes)} do not fit a {len(payload)}-byte message")
        cuts, pos = [], 0
        for n in sizes:
            cuts.append(payload[pos : pos + n])
            pos += n
        if pos < len(payload) or not cuts:
            cuts.append(payload[pos:])
        first = FrameType.TEXT if isinstance(data, str) else FrameType.BINARY
        frames = [(first if i == 0 else FrameType.CONTINUE, part, i == len(cuts) - 1) for i, part in enumerate(cuts)]
        return self._bridged_send(frames)

    def ping(self, data: bytes | str = b"") -> Awaitable[None]:
        """Send a ping; the server's pong (same data) arrives through `receive()`."""
        return self._bridged_send([(FrameType.PING, _control(data), True)])

    def pong(self, data: bytes | str = b"") -> Awaitable[None]:
        """Send an unsolicited pong (a heartbeat the server need not answer)."""
        return self._bridged_send([(FrameType.PONG, _control(data), True)])

    def _bridged_send(self, frames: Sequence[tuple[int, bytes, bool]]) -> Awaitable[None]:
        return runtime.bridge(self._send(frames), _WRITE_TIMEOUT)

    async def _send(self, frames: Sequence[tuple[int, bytes, bool]]) -> None:
        self._check_can_send(frames[0][0])
        for opcode, payload, fin in frames:  # no await in between: a fragmented message is never interleaved
            self._emit(opcode, payload, fin=fin)
        await self._drain()

    def send_raw(
        self,
        opcode: int,
        payload: bytes | str = b"",
        *,
        fin: bool = True,
        rsv1: bool = False,
        rsv2: bool = False,
        rsv3: bool = False,
        masked: bool = True,
        mask_key: bytes | None = None,
        length: int | None = None,
    ) -> Awaitable[None]:
        """Send any frame, including ones RFC 6455 forbids, to see how the server answers.

        Nothing is checked: reserved opcodes (3-7, 11-15), RSV bits, an unmasked frame, a control frame
        over 125 bytes or fragmented, bad UTF-8, and `length` declaring a payload length other than
        what is sent (a "lying length") all go out as asked.
        Example:
            client.send_raw(0x1, b"hi", rsv1=True)
            client.receive(timeout=1)  # CLOSE 1002 from a strict server
        """
        if not 0 <= opcode <= 0xF:
            raise ValueError(f"an opcode has 4 bits: 0-15, not {opcode}")
        if mask_key is not None and len(mask_key) != 4:
            raise ValueError(f"a mask key is 4 bytes, not {len(mask_key)}")
        if length is not None and not 0 <= length < 1 << 64:
            raise ValueError("a declared length must fit 64 bits")
        rsv = rsv1 << 2 | rsv2 << 1 | int(rsv3)
        data = _as_bytes(payload)
        return runtime.bridge(self._send_raw(opcode, data, fin, rsv, masked, mask_key, length), _WRITE_TIMEOUT)

    async def _send_raw(self, opcode: int, data: bytes, fin: bool, rsv: int, masked: bool, key: bytes | None, length: int | None) -> None:
        self._check_open()
        if opcode == FrameType.CLOSE and self._proto.close_sent is None:
            self._proto.close_sent = (None, "")  # so the server's answer completes the handshake
            self._timer("close", self.close_timeout, self._abort)
        self._emit(opcode, data, fin=fin, rsv=rsv, masked=masked, mask_key=key, length=length)
        await self._drain()

    def send_bytes(self, raw: bytes | bytearray | memoryview) -> Awaitable[None]:
        """Write arbitrary bytes to the socket as they are (not recorded: they need not be a frame)."""
        return runtime.bridge(self._send_bytes(bytes(raw)), _WRITE_TIMEOUT)

    async def _send_bytes(self, raw: bytes) -> None:
        self._check_open()
        self._write(raw)
        await self._drain()

    def _emit(
        self,
        opcode: int,
        payload: bytes,
        *,
        fin: bool = True,
        rsv: int = 0,
        masked: bool = True,
        mask_key: bytes | None = None,
        length: int | None = None,
    ) -> None:
        """Encode, record and write one frame (masked with a fresh key unless told otherwise)."""
        if opcode == FrameType.PING and self._keepalive_data is not None:
            self._later_pings.add(payload)
        key = (mask_key if mask_key is not None else self._mask()) if masked else None
        head = encode_header(opcode, len(payload) if length is None else length, fin, rsv, key)
        if self._rec:
            self._rec.frame(self.id, "out", head, payload)
        body = apply_mask(payload, key) if key is not None else payload
        if len(body) < _LARGE:
            self._write(head + body)
        else:
            self._flush()
            self._write(head, cork=False)
            self._write(body, cork=False)

    def _write(self, data: bytes, cork: bool = True) -> None:
        if self._lost or self._transport is None:
            return
        if not cork:
            self._transport.write(data)
            return
        # Corked: frames written in one loop iteration leave in one system call.
        self._out.append(data)
        if not self._flush_scheduled:
            self._flush_scheduled = True
            asyncio.get_running_loop().call_soon(self._flush)

    def _flush(self) -> None:
        self._flush_scheduled = False
        out, self._out = self._out, []
        if out and not self._lost and self._transport is not None:
            self._transport.write(b"".join(out))

    async def _drain(self) -> None:
        if self._write_paused and not self._lost:
            fut = asyncio.get_running_loop().create_future()
            self._drain_waiters.append(fut)
            await fut

    def _set_write_paused(self, paused: bool) -> None:
        self._write_paused = paused
        if not paused:
            for fut in self._drain_waiters:
                if not fut.done():
                    fut.set_result(None)
            self._drain_waiters.clear()

    def _check_open(self) -> None:
        if self._lost:
            raise self._closed_error()
        if not self._upgraded:
            raise InvalidState("this client is not connected yet; use wsplay.connect(url), or await client.open()")

    def _check_can_send(self, opcode: int) -> None:
        self._check_open()
        self._proto.check_can_send(opcode)


def _as_bytes(data: str | bytes | bytearray | memoryview) -> bytes:
    return data.encode("utf-8") if isinstance(data, str) else bytes(data)


def _control(data: bytes | str) -> bytes:
    payload = _as_bytes(data)
    if len(payload) > 125:
        raise ValueError(f"control frame payload is {len(payload)} bytes; limit is 125 (RFC 6455 5.5); send_raw() sends it anyway")
    return payload
