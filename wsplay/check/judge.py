"""What a case reads and how it judges it: a conversation over one connection, and the common verdicts.

A `Conversation` reads the peer's frames through `wire.Peer`, answers its pings, puts fragmented
(and compressed) messages back together with the suite's own inflater, and checks every frame the
peer sends against RFC 6455: a masked frame from a server, an unmasked one from a client, reserved
bits or opcodes, a fragmented or oversized control frame, a malformed close frame. Such a frame
ends the case as FAILED, whatever the case was about: the peer broke a MUST in front of us.

The judgements every section uses:

    echo()       the messages come back as sent (pongs too, where pings were sent)
    refused()    the peer fails the connection: a close frame with the code the RFC names (OK), with
                 another code or none, or TCP dropped without a close frame (NON-STRICT), the bad
                 input echoed or accepted, or nothing at all in time (FAILED)
    goodbye()    the close handshake at the end of a case (not judged: section 7 judges it)
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass

from wsplay.check.compress import Agreement, Inflater
from wsplay.check.report import Outcome, failed, informational, non_strict, ok
from wsplay.check.wire import EOF, SILENCE, Peer, WireFrame, close_payload

__all__ = ["Broken", "Closed", "Control", "Conversation", "Message", "Silence", "Stop", "show"]

CODE_NAMES = {
    1000: "normal closure", 1001: "going away", 1002: "protocol error", 1003: "unsupported data",
    1005: "no status", 1006: "abnormal closure", 1007: "invalid payload data", 1008: "policy violation",
    1009: "message too big", 1010: "mandatory extension", 1011: "internal error",
}  # fmt: skip


def wire_code_allowed(code: int) -> bool:
    """Close codes that may be sent in a close frame (RFC 6455 7.4.1 and 7.4.2, IANA's 1012-1014)."""
    return 1000 <= code <= 1003 or 1007 <= code <= 1014 or 3000 <= code <= 4999


def code_text(code: int | None) -> str:
    if code is None:
        return "no code"
    name = CODE_NAMES.get(code)
    return f"{code} ({name})" if name else str(code)


def show(opcode: int, payload: bytes, limit: int = 24) -> str:
    """'TEXT 5 bytes "hello"' / 'BINARY 3 bytes 00 ff 10'."""
    kind = {0: "CONTINUE", 1: "TEXT", 2: "BINARY", 8: "CLOSE", 9: "PING", 10: "PONG"}.get(opcode, f"opcode {opcode}")
    if not payload:
        return f"{kind} 0 bytes"
    if opcode == 1:
        text = payload[:limit].decode("utf-8", "replace")
        more = "…" if len(payload) > limit else ""
        return f"{kind} {len(payload)} bytes {text!r}{more}"
    return f"{kind} {len(payload)} bytes {payload[:8].hex(' ')}{' …' if len(payload) > 8 else ''}"


class Stop(Exception):
    """End the case now with this outcome (a failed handshake, a peer that broke a MUST)."""

    def __init__(self, outcome: Outcome) -> None:
        super().__init__(outcome.actual)
        self.outcome = outcome


# -- what a conversation hands a case -------------------------------------------------------------------


@dataclass
class Message:
    opcode: int
    payload: bytes
    frames: int = 1
    compressed: bool = False

    def __str__(self) -> str:
        return show(self.opcode, self.payload) + (f" in {self.frames} frames" if self.frames > 1 else "") + (" (compressed)" if self.compressed else "")


def close_text(wf: WireFrame) -> str:
    """'close 1002 (protocol error) "the reason"', or 'close no code'."""
    code, reason = wf.close()
    return f"close {code_text(code)}" + (f" {reason.decode('utf-8', 'replace')!r}" if reason else "")


@dataclass
class Control:
    frame: WireFrame

    def __str__(self) -> str:
        return close_text(self.frame) if self.frame.opcode == 8 else self.frame.describe()


@dataclass
class Closed:
    reset: bool = False

    def __str__(self) -> str:
        return "the TCP connection was reset" if self.reset else "the TCP connection was closed"


@dataclass
class Silence:
    seconds: float

    def __str__(self) -> str:
        return f"nothing within {self.seconds:.1f} s"


@dataclass
class Broken:
    problem: str
    rfc: str

    def __str__(self) -> str:
        return f"{self.problem} ({self.rfc})"


Event = Message | Control | Closed | Silence | Broken


class Conversation:
    """One WebSocket connection of a case, past its opening handshake.

    Args:
        peer: the connection.
        peer_is_client: whose frames these are (a client's must be masked, a server's must not).
        agreement: permessage-deflate as agreed in the handshake, or None.
        wait: seconds to wait for an answer the peer owes.
        quiet: seconds of silence that show the peer is not going to answer.
    """

    def __init__(self, peer: Peer, *, peer_is_client: bool, agreement: Agreement | None = None, wait: float = 5.0, quiet: float = 0.5) -> None:
        self.peer = peer
        self.peer_is_client = peer_is_client
        self.agreement = agreement
        self.wait = wait
        self.quiet = quiet
        self.inflater: Inflater | None = None
        if agreement is not None:
            if peer_is_client:
                bits, reset = agreement.client_max_window_bits or 15, agreement.client_no_context_takeover
            else:
                bits, reset = agreement.server_max_window_bits or 15, agreement.server_no_context_takeover
            self.inflater = Inflater(bits, reset)
        self.auto_pong = True
        self.pings: list[bytes] = []  # pings the peer sent us
        self.close_received: WireFrame | None = None
        self.close_sent = False
        self._fragments: list[WireFrame] = []
        self._ended: Event | None = None  # Closed or Broken: every later read returns it

    @property
    def who(self) -> str:
        return "the client" if self.peer_is_client else "the server"

    def deadline(self, seconds: float | None = None) -> float:
        return asyncio.get_running_loop().time() + (self.wait if seconds is None else seconds)

    # -- sending ---------------------------------------------------------------------------------

    async def send(self, opcode: int, payload: bytes = b"", **options: object) -> None:
        """Send one frame (masked with a fresh key when the suite is the client), options as `wire.frame()`."""
        if opcode == 8:
            self.close_sent = True
        await self.peer.send_frame(opcode, payload, **options)

    async def send_text(self, text: str | bytes) -> None:
        await self.send(1, text.encode("utf-8") if isinstance(text, str) else text)

    # -- reading ---------------------------------------------------------------------------------

    def _check(self, wf: WireFrame) -> Broken | None:
        """What is wrong with a frame from the peer, if anything (RFC 6455 5.1-5.5, 7.4; RFC 7692 6.1)."""
        if self.peer_is_client and not wf.masked:
            return Broken("an unmasked frame from the client", "RFC 6455 5.1: a client MUST mask every frame")
        if not self.peer_is_client and wf.masked:
            return Broken("a masked frame from the server", "RFC 6455 5.1: a server MUST NOT mask")
        if wf.opcode not in (0, 1, 2, 8, 9, 10):
            return Broken(f"a frame with the reserved opcode {wf.opcode:#x}", "RFC 6455 5.2")
        if wf.rsv & 3:
            return Broken("RSV2 or RSV3 set, with no extension that defines them", "RFC 6455 5.2")
        if wf.rsv & 4:
            if self.agreement is None:
                return Broken("RSV1 set, with no extension negotiated", "RFC 6455 5.2")
            if wf.opcode not in (1, 2):
                return Broken(f"RSV1 set on a {wf.name} frame", "RFC 7692 6.1: only the first frame of a compressed message")
        if wf.control:
            if not wf.fin:
                return Broken(f"a fragmented {wf.name} frame", "RFC 6455 5.5: control frames MUST NOT be fragmented")
            if wf.length > 125:
                return Broken(f"a {wf.name} frame with a {wf.length}-byte payload", "RFC 6455 5.5: 125 bytes at most")
            if wf.opcode == 8:
                code, reason = wf.close()
                if len(wf.payload) == 1:
                    return Broken("a close frame with a 1-byte payload", "RFC 6455 5.5.1")
                if code is not None and not wire_code_allowed(code):
                    return Broken(f"close code {code}, which may not be sent", "RFC 6455 7.4")
                try:
                    reason.decode("utf-8")
                except UnicodeDecodeError:
                    return Broken("a close reason that is not UTF-8", "RFC 6455 5.5.1")
        elif wf.opcode == 0 and not self._fragments:
            return Broken("a continuation frame with no message started", "RFC 6455 5.4")
        elif wf.opcode in (1, 2) and self._fragments:
            return Broken(f"a new {wf.name} frame inside a fragmented message", "RFC 6455 5.4")
        if not wf.minimal_length:
            return Broken(f"a {wf.length}-byte payload length in the {wf.length_form}-bit form", "RFC 6455 5.2: the minimal number of bytes MUST be used")
        return None

    async def next(self, deadline: float | None = None) -> Event:
        """The next message (fragments joined, inflated), control frame, the TCP close, or silence.

        Pings from the peer are answered (when `auto_pong`) and returned too.
        """
        if self._ended is not None:
            return self._ended
        end = self.deadline() if deadline is None else deadline
        loop = asyncio.get_running_loop()
        start = loop.time()
        while True:
            got = await self.peer.next_frame(end)
            if got is EOF:
                self._ended = Closed(self.peer.reset)
                return self._ended
            if got is SILENCE:
                declared = self.peer.declared()
                if declared is not None and declared >> 63:
                    self._ended = Broken("a 64-bit payload length with its most significant bit set", "RFC 6455 5.2")
                    return self._ended
                return Silence(loop.time() - start)
            assert isinstance(got, WireFrame)
            problem = self._check(got)
            if problem is not None:
                self._ended = problem
                return problem
            if got.control:
                if got.opcode == 8:
                    self.close_received = got
                elif got.opcode == 9:
                    self.pings.append(got.payload)
                    if self.auto_pong and not self.close_sent:
                        await self.peer.send_frame(10, got.payload)
                return Control(got)
            self._fragments.append(got)
            if not got.fin:
                continue
            parts, self._fragments = self._fragments, []
            payload = b"".join(p.payload for p in parts)
            compressed = bool(parts[0].rsv & 4)
            if compressed:
                assert self.inflater is not None
                try:
                    payload = self.inflater.message(payload)
                except ValueError as exc:
                    self._ended = Broken(f"a compressed message that {exc}", "RFC 7692 7.2.2")
                    return self._ended
                self.peer.trace.note(f"the compressed message inflates to {len(payload)} bytes", "in", self.peer.connection)
            return Message(parts[0].opcode, payload, len(parts), compressed)

    async def next_message(self, deadline: float | None = None) -> Event:
        """Like `next()`, skipping pongs and the pings already answered."""
        end = self.deadline() if deadline is None else deadline
        while True:
            event = await self.next(end)
            if isinstance(event, Control) and event.frame.opcode in (9, 10):
                continue
            return event

    # -- closing ---------------------------------------------------------------------------------

    async def goodbye(self, code: int | None = 1000) -> None:
        """End the case politely: our close (if none went yet), the peer's, then TCP. Not judged."""
        peer = self.peer
        if self._ended is None and not self.close_sent:
            await self.send(8, close_payload(code))
        end = self.deadline(min(self.wait, 1.0))
        while self._ended is None and self.close_received is None:
            event = await self.next(end)
            if isinstance(event, Silence):
                break
        if self.peer_is_client:
            peer.close()  # the server closes TCP first (RFC 6455 7.1.1)
        else:
            await peer.wait_eof(self.deadline(min(self.quiet, 0.5)))
            peer.abort()

    async def answer_close(self) -> None:
        """Answer the peer's close frame with one of ours (echoing its code, when it may be sent)."""
        if self.close_sent or self.close_received is None:
            return
        code, _ = self.close_received.close()
        await self.send(8, close_payload(code if code is not None and wire_code_allowed(code) else None))


# -- the common judgements ------------------------------------------------------------------------------


def _same(event: Event, want: tuple[int, bytes]) -> bool:
    return isinstance(event, Message) and event.opcode == want[0] and event.payload == want[1]


async def echo(conv: Conversation, sent: Sequence[tuple[int, bytes]], pongs: Sequence[bytes] = (), expected: str = "") -> Outcome | None:
    """Wait for the echo of each message in `sent` (in order) and a pong for each payload in `pongs`.

    Returns None when everything came back as sent, else the FAILED outcome.
    """
    want = list(sent)
    pending = list(pongs)
    expected = expected or "the echo of " + "; ".join(show(*m) for m in want) + (f", and {len(pongs)} pong(s)" if pongs else "")
    end = conv.deadline()
    while want or pending:
        event = await conv.next(end)
        if isinstance(event, Message):
            if not want:
                return failed(expected, f"an extra message: {event}")
            if not _same(event, want[0]):
                return failed(expected, f"{event} instead of {show(*want[0])}")
            want.pop(0)
        elif isinstance(event, Control):
            if event.frame.opcode == 10 and event.frame.payload in pending:
                pending.remove(event.frame.payload)
            elif event.frame.opcode == 8:
                missing = show(*want[0]) if want else "a pong"
                if event.frame.close()[0] == 1009 and want:  # a limit below this message: the RFC allows one
                    await conv.answer_close()
                    return informational(expected, f"{close_text(event.frame)} before {missing}",
                                         f"{conv.who}'s message limit is below {len(want[0][1])} bytes (RFC 6455 10.4 lets it have one)")  # fmt: skip
                return failed(expected, f"{close_text(event.frame)} before {missing}")
        elif isinstance(event, Broken):
            return failed(expected, f"{conv.who} sent {event.problem}", event.rfc)
        else:
            missing = show(*want[0]) if want else "a pong"
            return failed(expected, f"{event} before {missing}")
    return None


async def refused(
    conv: Conversation,
    codes: Sequence[int],
    why: str,
    *,
    echoes: Sequence[tuple[int, bytes]] = (),
    no_pong: bool = False,
    deadline: float | None = None,
) -> Outcome:
    """Judge a peer that must fail the connection (RFC 6455 7.1.7) with one of `codes`.

    Args:
        why: the rule broken on purpose, for the expected text ("an unmasked frame").
        echoes: messages sent before the bad frame, whose echoes may come first.
        no_pong: a ping was sent after the bad frame; a pong to it means the peer went on.
    """
    want = " or ".join(str(c) for c in codes)
    expected = f"close {want} (the connection failed: {why})"
    allowed = list(echoes)
    end = conv.deadline() if deadline is None else deadline
    while True:
        event = await conv.next(end)
        if isinstance(event, Message):
            if allowed and _same(event, allowed[0]):
                allowed.pop(0)
                continue
            return failed(expected, f"{event}: {conv.who} accepted it and went on")
        if isinstance(event, Control):
            wf = event.frame
            if wf.opcode == 10 and no_pong:
                return failed(expected, f"a pong: {conv.who} went on reading after the error")
            if wf.opcode != 8:
                continue
            code, _ = wf.close()
            got = close_text(wf)
            await conv.answer_close()
            if code in codes:
                return ok(expected, got)
            if code == 1000:
                note = "1000 says all went well; RFC 6455 7.4.1 names the code for this error"
            else:
                note = "RFC 6455 7.1.7 asks for a close frame with the code that fits (7.4.1 names them)"
            return non_strict(expected, got, note)
        if isinstance(event, Closed):
            return non_strict(expected, f"{event}, with no close frame", "RFC 6455 7.1.7: an endpoint SHOULD send a close frame before failing the connection")
        if isinstance(event, Broken):
            return failed(expected, f"{conv.who} sent {event.problem}", event.rfc)
        return failed(expected, f"{conv.who} neither answered nor closed: {event}")


async def quiet(conv: Conversation, seconds: float | None = None) -> Event | None:
    """Read for `seconds` (the conversation's quiet time); the first thing that came, or None."""
    event = await conv.next(conv.deadline(conv.quiet if seconds is None else seconds))
    return None if isinstance(event, Silence) else event
