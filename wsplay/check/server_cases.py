"""The server suite's frame-level cases: sections 1-7 and 9, in Autobahn|Testsuite's grouping.

Each case connects with the suite's own client, sends what it is about (broken frames built by hand)
and judges the raw answer with `judge`. A server that echoes is assumed (text as text, binary as
binary); the close handshake that ends a case is not judged except in section 7.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from wsplay.check.judge import Closed, Control, Conversation, Message, Silence, code_text, echo, quiet, refused, show
from wsplay.check.report import Case, Outcome, Verdict, failed, informational, non_strict, ok
from wsplay.check.server_suite import ServerContext
from wsplay.check.wire import Out, close_payload, frame

__all__ = ["CASES"]

CASES: list[Case] = []
Run = Callable[[ServerContext], Awaitable[Outcome]]

TEXT, BINARY, CONT, CLOSE, PING, PONG = 1, 2, 0, 8, 9, 10


def case(case_id: str, title: str, rfc: str) -> Callable[[Run], Run]:
    def register(run: Run) -> Run:
        CASES.append(Case(case_id, title, rfc, run))
        return run

    return register


def sample(n: int, binary: bool = False) -> bytes:
    """n bytes of recognisable payload: text that cycles 'a'-'z', or every byte value for binary."""
    if binary:
        return bytes(i % 256 for i in range(n))
    return bytes(97 + i % 26 for i in range(n))


async def echoed(ctx: ServerContext, conv: Conversation, outs: Sequence[Out], messages: Sequence[tuple[int, bytes]],
                 *, pongs: Sequence[bytes] = (), chunk: int | None = None, expected: str = "") -> Outcome:  # fmt: skip
    """Send `outs` (in one write, or `chunk` bytes at a time) and expect `messages` (and `pongs`) back."""
    await conv.peer.send(*outs, chunk=chunk)
    bad = await echo(conv, messages, pongs, expected)
    if bad is not None:
        return bad
    await conv.goodbye()
    what = "; ".join(show(*m) for m in messages) + (f"; {len(pongs)} pong(s)" if pongs else "")
    return ok(expected or "the echo", f"echoed: {what}" if messages else f"answered: {what}")


def echo_case(case_id: str, title: str, rfc: str, build: Callable[[Conversation], list[Out]], messages: list[tuple[int, bytes]],
              pongs: Sequence[bytes] = (), chunk: int | None = None) -> None:  # fmt: skip
    async def run(ctx: ServerContext) -> Outcome:
        conv = await ctx.connect()
        return await echoed(ctx, conv, build(conv), messages, pongs=pongs, chunk=chunk)

    case(case_id, title, rfc)(run)


def refuse_case(case_id: str, title: str, rfc: str, build: Callable[[Conversation], list[Out]], codes: Sequence[int], why: str,
                echoes: Sequence[tuple[int, bytes]] = (), no_pong: bool = False) -> None:  # fmt: skip
    async def run(ctx: ServerContext) -> Outcome:
        conv = await ctx.connect()
        await conv.peer.send(*build(conv))
        return await refused(conv, codes, why, echoes=echoes, no_pong=no_pong)

    case(case_id, title, rfc)(run)


def o(conv: Conversation, opcode: int, payload: bytes = b"", **options: Any) -> Out:
    return conv.peer.out(opcode, payload, **options)


def one(opcode: int, payload: bytes = b"", **options: Any) -> Callable[[Conversation], list[Out]]:
    """A builder of one frame (made on the case's connection: masked with a fresh key)."""
    return lambda c: [o(c, opcode, payload, **options)]


# -- 1 Framing --------------------------------------------------------------------------------------

for i, n in enumerate((0, 125, 126, 65535, 65536), 1):
    form = "7-bit" if n < 126 else "16-bit" if n < 65536 else "64-bit"
    echo_case(f"1.1.{i}", f"a {n}-byte text message ({form} length) is echoed", "RFC 6455 5.2",
              one(TEXT, sample(n)), [(TEXT, sample(n))])  # fmt: skip
for i, n in enumerate((0, 125, 65536), 1):
    echo_case(f"1.2.{i}", f"a {n}-byte binary message is echoed", "RFC 6455 5.6",
              one(BINARY, sample(n, True)), [(BINARY, sample(n, True))])  # fmt: skip
echo_case("1.3.1", "a frame written one byte at a time is echoed", "RFC 6455 5.2",
          lambda c: [o(c, TEXT, b"one byte at a time")], [(TEXT, b"one byte at a time")], chunk=1)  # fmt: skip
echo_case("1.3.2", "two messages in one write are both echoed, in order", "RFC 6455 5.2",
          lambda c: [o(c, TEXT, b"first"), o(c, BINARY, b"second")], [(TEXT, b"first"), (BINARY, b"second")])  # fmt: skip
echo_case("1.3.3", "a frame masked with the key 00 00 00 00 is echoed", "RFC 6455 5.3",
          lambda c: [o(c, TEXT, b"zero key", key=b"\0\0\0\0")], [(TEXT, b"zero key")])  # fmt: skip
refuse_case("1.4.1", "an unmasked client frame fails the connection", "RFC 6455 5.1",
            lambda c: [frame(TEXT, b"not masked")], [1002], "a client frame that is not masked")  # fmt: skip


@case("1.4.2", "a 64-bit length with its most significant bit set fails the connection", "RFC 6455 5.2")
async def msb_length(ctx: ServerContext) -> Outcome:
    conv = await ctx.connect()
    await conv.peer.send(o(conv, BINARY, b"12345", length=(1 << 63) | 5, form=64))
    return await refused(conv, [1002], "the most significant bit of a 64-bit length MUST be 0")


@case("1.4.3", "a length not in its shortest form (5 bytes in the 16-bit form)", "RFC 6455 5.2")
async def long_form(ctx: ServerContext) -> Outcome:
    conv = await ctx.connect()
    expected = "either: the sender broke 5.2's MUST, and the RFC does not say what a receiver does"
    await conv.peer.send(o(conv, TEXT, b"short", form=16))
    event = await conv.next_message()
    if isinstance(event, Message) and event.opcode == TEXT and event.payload == b"short":
        await conv.goodbye()
        return informational(expected, "echoed: the server accepts lengths in a longer form", "lenient; RFC 6455 5.2 binds the sender only")
    if isinstance(event, Control) and event.frame.opcode == CLOSE:
        await conv.answer_close()
        return informational(expected, f"refused: {event}", "strict; RFC 6455 5.2 binds the sender only")
    if isinstance(event, Closed):
        return informational(expected, f"refused: {event}", "strict; RFC 6455 5.2 binds the sender only")
    return failed(expected, str(event))


# -- 2 Pings and pongs ------------------------------------------------------------------------------

echo_case("2.1", "a ping with no payload is answered with a pong", "RFC 6455 5.5.2",
          lambda c: [o(c, PING)], [], pongs=[b""])  # fmt: skip
echo_case("2.2", "a ping with 125 bytes of text is answered with a pong with the same payload", "RFC 6455 5.5.3",
          lambda c: [o(c, PING, sample(125))], [], pongs=[sample(125)])  # fmt: skip
echo_case("2.3", "a ping with a binary payload is answered with the same payload", "RFC 6455 5.5.3",
          lambda c: [o(c, PING, bytes(range(256))[-125:])], [], pongs=[bytes(range(256))[-125:]])  # fmt: skip
refuse_case("2.4", "a ping with a 126-byte payload fails the connection", "RFC 6455 5.5",
            lambda c: [o(c, PING, sample(126))], [1002], "a control frame of more than 125 bytes", no_pong=True)  # fmt: skip
echo_case("2.5", "an unsolicited pong is ignored (a message after it is echoed)", "RFC 6455 5.5.3",
          lambda c: [o(c, PONG, b"unsolicited"), o(c, TEXT, b"after the pong")], [(TEXT, b"after the pong")])  # fmt: skip
echo_case("2.6", "a ping written one byte at a time is answered", "RFC 6455 5.5.2",
          lambda c: [o(c, PING, b"slow ping")], [], pongs=[b"slow ping"], chunk=1)  # fmt: skip


@case("2.7", "ten pings in a row are answered (at least the last one)", "RFC 6455 5.5.3")
async def ten_pings(ctx: ServerContext) -> Outcome:
    conv = await ctx.connect()
    payloads = [f"ping {i}".encode() for i in range(10)]
    await conv.peer.send(*(o(conv, PING, p) for p in payloads), o(conv, TEXT, b"after the pings"))
    expected = "a pong for each ping, or at least for the last (RFC 6455 5.5.3 allows answering only the most recent)"
    got: list[bytes] = []
    end = conv.deadline()
    while True:
        event = await conv.next(end)
        if isinstance(event, Control) and event.frame.opcode == PONG:
            got.append(event.frame.payload)
        elif isinstance(event, Message) and event.payload == b"after the pings":
            break
        elif not isinstance(event, Control):
            return failed(expected, f"{len(got)} pong(s), then {event}")
    if payloads[-1] not in got:  # the pong may also follow the echo
        event = await conv.next(conv.deadline(conv.quiet))
        if isinstance(event, Control) and event.frame.opcode == PONG:
            got.append(event.frame.payload)
    await conv.goodbye()
    if got == payloads:
        return ok(expected, "ten pongs, in order")
    if payloads[-1] in got:
        return ok(expected, f"{len(got)} pong(s), the last ping's among them", "allowed: only the most recent ping needs a pong")
    return failed(expected, f"{len(got)} pong(s), none for the last ping")


# -- 3 Reserved bits --------------------------------------------------------------------------------

for i, (rsv, opcode, name) in enumerate([(4, TEXT, "RSV1"), (2, TEXT, "RSV2"), (1, TEXT, "RSV3"), (7, BINARY, "RSV1-3")], 1):
    kind = "text" if opcode == TEXT else "binary"
    refuse_case(f"3.{i}", f"{name} set on a {kind} frame, no extension negotiated, fails the connection", "RFC 6455 5.2",
                one(opcode, b"reserved bits", rsv=rsv), [1002],
                f"{name} set with no extension that defines it")  # fmt: skip
refuse_case("3.5", "RSV2 set on a ping fails the connection (no pong)", "RFC 6455 5.2",
            lambda c: [o(c, PING, b"rsv2", rsv=2)], [1002], "RSV2 set with no extension that defines it", no_pong=True)  # fmt: skip
refuse_case("3.6", "a message, then RSV3 set, then a ping: the echo, then the connection fails before the pong", "RFC 6455 5.2",
            lambda c: [o(c, TEXT, b"fine"), o(c, TEXT, b"rsv3", rsv=1), o(c, PING, b"too late")], [1002],
            "RSV3 set with no extension that defines it", echoes=[(TEXT, b"fine")], no_pong=True)  # fmt: skip

# -- 4 Opcodes ----------------------------------------------------------------------------------------

for i, opcode in enumerate(range(3, 8), 1):
    refuse_case(f"4.1.{i}", f"a frame with the reserved data opcode {opcode:#x} fails the connection", "RFC 6455 5.2",
                one(opcode, b"reserved"), [1002], f"the reserved opcode {opcode:#x}")  # fmt: skip
for i, opcode in enumerate(range(11, 16), 1):
    refuse_case(f"4.2.{i}", f"a frame with the reserved control opcode {opcode:#x} fails the connection", "RFC 6455 5.2",
                one(opcode, b"reserved"), [1002], f"the reserved opcode {opcode:#x}")  # fmt: skip
refuse_case("4.3", "a message, then opcode 0x5, then a ping: the echo, then the connection fails before the pong", "RFC 6455 5.2",
            lambda c: [o(c, TEXT, b"fine"), o(c, 5, b"reserved"), o(c, PING, b"too late")], [1002],
            "the reserved opcode 0x5", echoes=[(TEXT, b"fine")], no_pong=True)  # fmt: skip

# -- 5 Fragmentation ----------------------------------------------------------------------------------

echo_case("5.1", "a text message in two fragments is echoed whole", "RFC 6455 5.4",
          lambda c: [o(c, TEXT, b"frag", fin=False), o(c, CONT, b"mented")], [(TEXT, b"fragmented")])  # fmt: skip
echo_case("5.2", "a binary message in 16 one-byte fragments is echoed whole", "RFC 6455 5.4",
          lambda c: [o(c, BINARY if i == 0 else CONT, bytes([i]), fin=i == 15) for i in range(16)], [(BINARY, bytes(range(16)))])  # fmt: skip
echo_case("5.3", "empty fragments (text 0 bytes, continuation 0 bytes, continuation 'end')", "RFC 6455 5.4",
          lambda c: [o(c, TEXT, b"", fin=False), o(c, CONT, b"", fin=False), o(c, CONT, b"end")], [(TEXT, b"end")])  # fmt: skip
echo_case("5.4", "a ping between two fragments is answered, and the message echoed whole", "RFC 6455 5.4",
          lambda c: [o(c, TEXT, b"before ", fin=False), o(c, PING, b"in between"), o(c, CONT, b"after")],
          [(TEXT, b"before after")], pongs=[b"in between"])  # fmt: skip
echo_case("5.5", "fragments and a ping between them, written one byte at a time", "RFC 6455 5.4",
          lambda c: [o(c, TEXT, b"slow ", fin=False), o(c, PING, b"ping"), o(c, CONT, b"fragments")],
          [(TEXT, b"slow fragments")], pongs=[b"ping"], chunk=1)  # fmt: skip
refuse_case("5.6", "a fragmented ping fails the connection", "RFC 6455 5.5",
            lambda c: [o(c, PING, b"frag", fin=False), o(c, CONT, b"mented")], [1002], "a control frame with FIN 0", no_pong=True)  # fmt: skip
refuse_case("5.7", "a continuation frame with no message started fails the connection", "RFC 6455 5.4",
            lambda c: [o(c, CONT, b"nothing to continue")], [1002], "a continuation with no message started")  # fmt: skip
refuse_case("5.8", "a message, then a final continuation frame: the echo, then the connection fails", "RFC 6455 5.4",
            lambda c: [o(c, TEXT, b"complete"), o(c, CONT, b"stray")], [1002], "a continuation with no message started",
            echoes=[(TEXT, b"complete")])  # fmt: skip
refuse_case("5.9", "a new text frame while a fragmented message is open fails the connection", "RFC 6455 5.4",
            lambda c: [o(c, TEXT, b"open", fin=False), o(c, TEXT, b"new")], [1002], "a new data frame inside a fragmented message")  # fmt: skip
refuse_case("5.10", "a binary frame while a fragmented text message is open fails the connection", "RFC 6455 5.4",
            lambda c: [o(c, TEXT, b"open", fin=False), o(c, BINARY, b"new")], [1002], "a new data frame inside a fragmented message")  # fmt: skip


@case("5.11", "a close between two fragments is answered with a close", "RFC 6455 5.4, 5.5.1")
async def close_between_fragments(ctx: ServerContext) -> Outcome:
    conv = await ctx.connect()
    await conv.peer.send(o(conv, TEXT, b"never ", fin=False), o(conv, CLOSE, close_payload(1000)))
    conv.close_sent = True
    expected = "a close frame (control frames may come between fragments; the open message is dropped)"
    event = await conv.next_message()
    if isinstance(event, Control) and event.frame.opcode == CLOSE:
        code, _ = event.frame.close()
        if code in (None, 1000):
            await conv.goodbye()
            return ok(expected, str(event))
        return non_strict(expected, str(event), "a close in the middle of a message is allowed (RFC 6455 5.4); the answer should echo 1000")
    return failed(expected, str(event))


# -- 6 UTF-8 --------------------------------------------------------------------------------------------

VALID = [
    ("2- and 3-byte characters", "κόσμε Hello-µ@ßöäüàá-UTF-8!! €".encode()),
    ("4-byte characters", "😀 𝄞 \U0010ffff".encode()),
    ("the boundaries of each length", "".join(map(chr, (0x7F, 0x80, 0x7FF, 0x800, 0xD7FF, 0xE000, 0xFFFD, 0xFFFF, 0x10000))).encode()),
    ("noncharacters U+FFFE and U+FDD0, which are valid UTF-8", "\ufffe\ufdd0".encode()),
]
for i, (what, data) in enumerate(VALID, 1):
    echo_case(f"6.1.{i}", f"valid UTF-8 is echoed: {what}", "RFC 6455 5.6, RFC 3629",
              one(TEXT, data), [(TEXT, data)])  # fmt: skip

INVALID = [
    ("a lone continuation byte 80", b"abc\x80def"),
    ("the overlong 2-byte '/' C0 AF", b"\xc0\xaf"),
    ("the overlong 3-byte '/' E0 80 AF", b"\xe0\x80\xaf"),
    ("a UTF-16 surrogate ED A0 80", "κόσμε".encode() + b"\xed\xa0\x80edited"),
    ("a code point above U+10FFFF (F4 90 80 80)", "κόσμε".encode() + b"\xf4\x90\x80\x80edited"),
    ("the bytes FE and FF", b"\xfe\xff"),
    ("a character cut at the end of the message", "κόσμε".encode() + b"\xe2\x82"),
    ("an old 5-byte form F8 88 80 80 80", b"text \xf8\x88\x80\x80\x80"),
]
for i, (what, data) in enumerate(INVALID, 1):
    refuse_case(f"6.2.{i}", f"invalid UTF-8 in a text message fails the connection: {what}", "RFC 6455 8.1",
                one(TEXT, data), [1007], "a text message that is not UTF-8")  # fmt: skip

SPLIT = "κόσμε".encode()
echo_case("6.3.1", "a character split across two fragments is echoed", "RFC 6455 8.1",
          lambda c: [o(c, TEXT, SPLIT[:3], fin=False), o(c, CONT, SPLIT[3:])], [(TEXT, SPLIT)])  # fmt: skip
echo_case("6.3.2", "a 4-byte character in four one-byte fragments is echoed", "RFC 6455 8.1",
          lambda c: [o(c, TEXT if i == 0 else CONT, "😀".encode()[i : i + 1], fin=i == 3) for i in range(4)], [(TEXT, "😀".encode())])  # fmt: skip
refuse_case("6.3.3", "an invalid sequence split across fragments fails the connection", "RFC 6455 8.1",
            lambda c: [o(c, TEXT, SPLIT + b"\xf4", fin=False), o(c, CONT, b"\x90\x80\x80", fin=False), o(c, CONT, b"edited")],
            [1007], "a text message that is not UTF-8")  # fmt: skip
refuse_case("6.3.4", "a character cut by the end of the last fragment fails the connection", "RFC 6455 8.1",
            lambda c: [o(c, TEXT, SPLIT, fin=False), o(c, CONT, b"\xe2\x82")], [1007], "a text message that ends inside a character")  # fmt: skip


async def fail_fast(conv: Conversation, what: str, send_rest: Callable[[], Awaitable[None]]) -> Outcome:
    """The invalid bytes are out and the rest of `what` is not: judge when the server fails the connection."""
    expected = f"close 1007 as soon as the invalid bytes arrive, before {what} is complete"
    event = await quiet(conv)
    if event is None:  # nothing yet: send the rest, and see whether the failure comes then
        conv.peer.trace.note(f"nothing within {conv.quiet} s of the invalid bytes: sending the rest of {what}")
        await send_rest()
        outcome = await refused(conv, [1007], "a text message that is not UTF-8")
        if outcome.verdict is not Verdict.OK:
            return outcome
        return non_strict(expected, f"{outcome.actual}, only once {what} was complete",
                          "RFC 6455 8.1 fails the connection on invalid UTF-8; waiting for the rest of "
                          f"{what} first is allowed, failing fast is preferred (Autobahn's 'fail fast')")  # fmt: skip
    if isinstance(event, Control) and event.frame.opcode == CLOSE:
        code, _ = event.frame.close()
        await conv.answer_close()
        if code == 1007:
            return ok(expected, f"{event}, before the rest of {what} was sent")
        return non_strict(expected, f"{event}, before the rest of {what} was sent", "RFC 6455 7.4.1 names 1007 for this")
    if isinstance(event, Closed):
        return non_strict(expected, f"{event} with no close frame", "RFC 6455 7.1.7: an endpoint SHOULD send a close frame")
    return failed(expected, str(event))


@case("6.4.1", "fail fast: invalid UTF-8 in the first fragment fails the connection before the last one arrives", "RFC 6455 8.1")
async def fail_fast_fragment(ctx: ServerContext) -> Outcome:
    conv = await ctx.connect()
    await conv.peer.send(o(conv, TEXT, SPLIT + b"\xf4\x90\x80\x80", fin=False))
    return await fail_fast(conv, "the message", lambda: conv.peer.send(o(conv, CONT, b"edited")))


@case("6.4.2", "fail fast: invalid UTF-8 in the middle of one frame fails the connection before the frame is complete", "RFC 6455 8.1")
async def fail_fast_frame(ctx: ServerContext) -> Outcome:
    conv = await ctx.connect()
    whole = o(conv, TEXT, SPLIT + b"\xf4\x90\x80\x80" + b"edited" * 20)
    cut = len(whole.header) + len(SPLIT) + 4
    ctx.trace.sent(whole, conv.peer.connection)  # traced once, as the frame it is
    await conv.peer.send_bytes(whole.wire[:cut], record=f"the frame's first {cut} bytes: the header, valid text and the invalid bytes")
    return await fail_fast(conv, "the frame", lambda: conv.peer.send_bytes(whole.wire[cut:], record="the rest of the frame"))


echo_case("6.5.1", "invalid UTF-8 in a binary message is echoed (binary is not text)", "RFC 6455 5.6",
          lambda c: [o(c, BINARY, b"\xff\xfe\xc0\xaf")], [(BINARY, b"\xff\xfe\xc0\xaf")])  # fmt: skip
echo_case("6.5.2", "invalid UTF-8 in a ping's payload is echoed in the pong (control payloads are not text)", "RFC 6455 5.5.2",
          lambda c: [o(c, PING, b"\xff\xfe")], [], pongs=[b"\xff\xfe"])  # fmt: skip

# -- 7 Close ----------------------------------------------------------------------------------------------


async def close_reply(conv: Conversation, expected: str, valid: bool = True) -> tuple[Outcome | None, int | None]:
    """Read up to the server's close frame; (FAILED outcome or None, its code)."""
    event = await conv.next_message()
    if isinstance(event, Control) and event.frame.opcode == CLOSE:
        return None, event.frame.close()[0]
    if isinstance(event, Closed):
        return failed(expected, f"{event} with no close frame", "RFC 6455 5.5.1: an endpoint MUST answer a close frame with one"), None
    return failed(expected, str(event)), None


@case("7.1.1", "a close 1000 is answered with a close frame", "RFC 6455 5.5.1")
async def close_normal(ctx: ServerContext) -> Outcome:
    conv = await ctx.connect()
    await conv.send(CLOSE, close_payload(1000, "bye"))
    expected = "a close frame echoing 1000"
    bad, code = await close_reply(conv, expected)
    if bad is not None:
        return bad
    await conv.goodbye()
    if code == 1000:
        return ok(expected, "close 1000")
    return non_strict(expected, f"close {code_text(code)}", "RFC 6455 5.5.1: the answer typically echoes the code received")


@case("7.1.2", "after the close handshake the server closes the TCP connection first", "RFC 6455 7.1.1")
async def close_tcp(ctx: ServerContext) -> Outcome:
    conv = await ctx.connect()
    await conv.send(CLOSE, close_payload(1000))
    expected = "the server closes TCP once both close frames are out"
    bad, _ = await close_reply(conv, expected)
    if bad is not None:
        return bad
    if await conv.peer.wait_eof(conv.deadline(min(conv.wait, 2.0))):
        return ok(expected, "the server closed TCP")
    conv.peer.abort()
    return non_strict(expected, "the server left TCP open for the client to close", "RFC 6455 7.1.1: the server SHOULD close the TCP connection first")


@case("7.1.3", "a close with no payload is answered with a close frame", "RFC 6455 5.5.1")
async def close_empty(ctx: ServerContext) -> Outcome:
    conv = await ctx.connect()
    await conv.send(CLOSE, b"")
    expected = "a close frame, with no code or 1000"
    bad, code = await close_reply(conv, expected)
    if bad is not None:
        return bad
    await conv.goodbye()
    if code in (None, 1000):
        return ok(expected, f"close {code_text(code)}")
    return non_strict(expected, f"close {code_text(code)}", "a close with no code answered with an error code")


@case("7.1.4", "a close with a 123-byte UTF-8 reason is answered", "RFC 6455 5.5")
async def close_long_reason(ctx: ServerContext) -> Outcome:
    conv = await ctx.connect()
    reason = ("é" * 61 + "!").encode()
    assert len(reason) == 123
    await conv.send(CLOSE, close_payload(1000, reason))
    expected = "a close frame (a 125-byte close payload is the largest allowed)"
    bad, code = await close_reply(conv, expected)
    if bad is not None:
        return bad
    await conv.goodbye()
    return ok(expected, f"close {code_text(code)}") if code in (None, 1000) else failed(expected, f"close {code_text(code)}: a valid close was refused")


@case("7.1.5", "a message after the close frame is not echoed", "RFC 6455 5.5.1, 1.4")
async def data_after_close(ctx: ServerContext) -> Outcome:
    conv = await ctx.connect()
    await conv.peer.send(o(conv, CLOSE, close_payload(1000)), o(conv, TEXT, b"after the close"))
    conv.close_sent = True
    expected = "a close frame, and no echo of the message that followed it"
    answered = False
    end = conv.deadline()
    while True:
        event = await conv.next(conv.deadline(conv.quiet) if answered else end)
        if isinstance(event, Message):
            if answered:
                return failed(expected, f"the close, then {event}", "RFC 6455 5.5.1: no data frames after a close frame")
            return non_strict(expected, f"{event} before the close answer", "data after a close should be ignored")
        if isinstance(event, Control) and event.frame.opcode == CLOSE:
            answered = True
            continue
        if isinstance(event, (Closed, Silence)) and answered:
            conv.peer.abort()
            return ok(expected, "the close, and nothing after it")
        if not isinstance(event, Control):
            return failed(expected, str(event))


refuse_case("7.2.1", "a close frame with a 1-byte payload fails the connection", "RFC 6455 5.5.1",
            lambda c: [o(c, CLOSE, b"\x03")], [1002], "a close payload of 1 byte")  # fmt: skip
refuse_case("7.2.2", "a close frame with a 124-byte reason (126-byte payload) fails the connection", "RFC 6455 5.5",
            lambda c: [o(c, CLOSE, close_payload(1000, b"r" * 124))], [1002], "a control frame of more than 125 bytes")  # fmt: skip
refuse_case("7.2.3", "a close reason that is not UTF-8 fails the connection", "RFC 6455 5.5.1",
            lambda c: [o(c, CLOSE, close_payload(1000, b"\xce\xba\xff"))], [1007], "a close reason that is not UTF-8")  # fmt: skip


def close_code_case(case_id: str, code: int, registered_later: bool = False) -> None:
    @case(case_id, f"close code {code} is valid and answered with a close frame", "RFC 6455 7.4" + (", IANA" if registered_later else ""))
    async def run(ctx: ServerContext) -> Outcome:
        conv = await ctx.connect()
        await conv.send(CLOSE, close_payload(code, "check"))
        expected = f"a close frame (echoing {code}, or 1000)"
        bad, got = await close_reply(conv, expected)
        if bad is not None:
            return bad
        await conv.goodbye()
        if got in (code, 1000):
            return ok(expected, f"close {code_text(got)}")
        if registered_later and got == 1002:
            return informational(expected, f"close {code_text(got)}", f"{code} was registered with IANA after RFC 6455; a server that keeps to the RFC's list refuses it")
        if got == 1002:
            return failed(expected, f"close {code_text(got)}: a valid close code was refused")
        return non_strict(expected, f"close {code_text(got)}", "RFC 6455 5.5.1: the answer typically echoes the code received")


for i, code in enumerate((1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 3000, 3999, 4000, 4999), 1):
    close_code_case(f"7.3.{i}", code)
for i, code in enumerate((1012, 1013, 1014), 14):
    close_code_case(f"7.3.{i}", code, registered_later=True)
for i, code in enumerate((0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535), 1):
    refuse_case(f"7.4.{i}", f"close code {code} may not be sent, and fails the connection", "RFC 6455 7.4",
                one(CLOSE, close_payload(code)), [1002], f"the close code {code}, which may not be sent")  # fmt: skip

# -- 9 Limits -------------------------------------------------------------------------------------------------


async def big(ctx: ServerContext, outs: Callable[[Conversation], list[Out]], message: tuple[int, bytes], what: str) -> Outcome:
    conv = await ctx.connect()
    expected = f"the echo of {what}, or close 1009 if that is over the server's limit"
    await conv.peer.send(*outs(conv))
    event = await conv.next_message()
    if isinstance(event, Message) and event.opcode == message[0] and event.payload == message[1]:
        await conv.goodbye()
        return ok(expected, f"echoed {what}")
    if isinstance(event, Control) and event.frame.opcode == CLOSE:
        code, _ = event.frame.close()
        await conv.answer_close()
        if code == 1009:
            return informational(expected, str(event), f"the server's message limit is below {what}")
        return non_strict(expected, str(event), "RFC 6455 7.4.1 names 1009 for a message too big to process")
    if isinstance(event, Message):
        return failed(expected, f"{event} instead of the echo")
    return failed(expected, str(event))


MIB = 1 << 20
case("9.1.1", "a 1 MiB text message is echoed (or refused with 1009)", "RFC 6455 5.2, 10.4")(
    lambda ctx: big(ctx, lambda c: [o(c, TEXT, sample(MIB))], (TEXT, sample(MIB)), "1 MiB of text"))  # fmt: skip
case("9.1.2", "a 1 MiB binary message in 16 fragments is echoed (or refused with 1009)", "RFC 6455 5.4, 10.4")(
    lambda ctx: big(ctx, lambda c: [o(c, BINARY if i == 0 else CONT, sample(MIB, True)[i * 65536 : (i + 1) * 65536], fin=i == 15) for i in range(16)],
                    (BINARY, sample(MIB, True)), "1 MiB in 64 KiB fragments"))  # fmt: skip


@case("9.2.1", "a frame that declares 2^62 bytes is refused at its header, not waited for", "RFC 6455 10.4")
async def huge_declared(ctx: ServerContext) -> Outcome:
    conv = await ctx.connect()
    head = o(conv, BINARY, b"x" * 1024, length=1 << 62)
    await conv.peer.send(head)
    expected = "close 1009 once the header is read (a declared length is not trusted or allocated)"
    event = await conv.next_message(conv.deadline(min(conv.wait, max(2.0, conv.quiet * 4))))
    if isinstance(event, Control) and event.frame.opcode == CLOSE:
        code, _ = event.frame.close()
        await conv.answer_close()
        if code == 1009:
            return ok(expected, str(event))
        return non_strict(expected, str(event), "RFC 6455 7.4.1 names 1009 for a message too big to process")
    if isinstance(event, Closed):
        return non_strict(expected, f"{event} with no close frame", "RFC 6455 7.1.7: an endpoint SHOULD send a close frame")
    if isinstance(event, Silence):
        return non_strict(expected, f"{event}: the server waits for 4 EiB", "RFC 6455 10.4: implementations SHOULD impose a limit on frame and message sizes")
    return failed(expected, str(event))
