"""The client suite: the server suite's mirror, a scripted server that a client under test connects to.

Same sections, same verdicts: the server sends what a case is about (masked frames, reserved bits,
bad UTF-8, broken close frames, wrong answers to the upgrade) and judges what the client sends
back, byte by byte. Every frame the client sends must be masked (RFC 6455 5.1); a client that sends
one unmasked, or with reserved bits, fails whatever case it happens in.
"""

from __future__ import annotations

import base64
import binascii
import os
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from wsplay.check.client_suite import ClientContext
from wsplay.check.compress import NAME as DEFLATE
from wsplay.check.compress import Deflater, bomb
from wsplay.check.judge import Closed, Control, Conversation, Message, Silence, Stop, code_text, echo, quiet, refused, show
from wsplay.check.report import Case, Outcome, Verdict, failed, informational, non_strict, ok
from wsplay.check.wire import Out, accept_key, close_payload, frame

__all__ = ["CASES"]

CASES: list[Case] = []
Run = Callable[[ClientContext], Awaitable[Outcome]]

TEXT, BINARY, CONT, CLOSE, PING, PONG = 1, 2, 0, 8, 9, 10


def case(case_id: str, title: str, rfc: str) -> Callable[[Run], Run]:
    def register(run: Run) -> Run:
        CASES.append(Case(case_id, title, rfc, run))
        return run

    return register


def sample(n: int, binary: bool = False) -> bytes:
    if binary:
        return bytes(i % 256 for i in range(n))
    return bytes(97 + i % 26 for i in range(n))


def s(opcode: int, payload: bytes = b"", **options: Any) -> Out:
    """A server frame: unmasked unless a key is given."""
    return frame(opcode, payload, **options)


async def echoed(conv: Conversation, outs: Sequence[Out], messages: Sequence[tuple[int, bytes]], *, pongs: Sequence[bytes] = (),
                 chunk: int | None = None, expected: str = "") -> Outcome:  # fmt: skip
    await conv.peer.send(*outs, chunk=chunk)
    bad = await echo(conv, messages, pongs, expected)
    if bad is not None:
        return bad
    await conv.goodbye()
    what = "; ".join(show(*m) for m in messages) + (f"; {len(pongs)} pong(s)" if pongs else "")
    return ok(expected or "the echo", f"echoed: {what}" if messages else f"answered: {what}")


def echo_case(case_id: str, title: str, rfc: str, outs: list[Out], messages: list[tuple[int, bytes]], pongs: Sequence[bytes] = (),
              chunk: int | None = None) -> None:  # fmt: skip
    async def run(ctx: ClientContext) -> Outcome:
        conv = await ctx.accept()
        return await echoed(conv, outs, messages, pongs=pongs, chunk=chunk)

    case(case_id, title, rfc)(run)


def refuse_case(case_id: str, title: str, rfc: str, outs: list[Out], codes: Sequence[int], why: str,
                echoes: Sequence[tuple[int, bytes]] = (), no_pong: bool = False) -> None:  # fmt: skip
    async def run(ctx: ClientContext) -> Outcome:
        conv = await ctx.accept()
        await conv.peer.send(*outs)
        outcome = await refused(conv, codes, why, echoes=echoes, no_pong=no_pong)
        conv.peer.abort()  # the server closes TCP (RFC 6455 7.1.1)
        return outcome

    case(case_id, title, rfc)(run)


# -- 1 Framing -------------------------------------------------------------------------------------------

for i, n in enumerate((0, 125, 126, 65535, 65536), 1):
    echo_case(f"1.1.{i}", f"a {n}-byte text message from the server is echoed", "RFC 6455 5.2", [s(TEXT, sample(n))], [(TEXT, sample(n))])
for i, n in enumerate((0, 125, 65536), 1):
    echo_case(f"1.2.{i}", f"a {n}-byte binary message is echoed", "RFC 6455 5.6", [s(BINARY, sample(n, True))], [(BINARY, sample(n, True))])
echo_case("1.3.1", "a frame written one byte at a time is echoed", "RFC 6455 5.2",
          [s(TEXT, b"one byte at a time")], [(TEXT, b"one byte at a time")], chunk=1)  # fmt: skip
echo_case("1.3.2", "two messages in one write are both echoed, in order", "RFC 6455 5.2",
          [s(TEXT, b"first"), s(BINARY, b"second")], [(TEXT, b"first"), (BINARY, b"second")])  # fmt: skip


@case("1.3.3", "the client masks each frame with a fresh key", "RFC 6455 5.3")
async def fresh_keys(ctx: ClientContext) -> Outcome:
    conv = await ctx.accept()
    messages = [(TEXT, f"message {i}".encode()) for i in range(6)]
    expected = "every frame masked, each with a new unpredictable key"
    await conv.peer.send(*(s(*m) for m in messages))
    bad = await echo(conv, messages)
    if bad is not None:
        return bad
    keys = [e.frame.key for e in ctx.trace.frames if e.direction == "in" and e.frame is not None and e.frame.key is not None]
    await conv.goodbye()
    if len(set(keys)) < len(keys):
        return failed(expected, f"{len(keys)} frames, {len(set(keys))} different keys: {', '.join(k.hex() for k in keys)}",
                      "RFC 6455 5.3: the client MUST pick a fresh masking key for each frame")  # fmt: skip
    return ok(expected, f"{len(keys)} frames, {len(keys)} different keys")


refuse_case("1.4.1", "a masked frame from the server fails the connection", "RFC 6455 5.1",
            [s(TEXT, b"masked by the server", key=b"\x01\x02\x03\x04")], [1002], "a server frame that is masked")  # fmt: skip
refuse_case("1.4.2", "a 64-bit length with its most significant bit set fails the connection", "RFC 6455 5.2",
            [s(BINARY, b"12345", length=(1 << 63) | 5, form=64)], [1002], "the most significant bit of a 64-bit length MUST be 0")  # fmt: skip


@case("1.4.3", "a length not in its shortest form (5 bytes in the 16-bit form)", "RFC 6455 5.2")
async def long_form(ctx: ClientContext) -> Outcome:
    conv = await ctx.accept()
    expected = "either: the server broke 5.2's MUST, and the RFC does not say what a receiver does"
    await conv.peer.send(s(TEXT, b"short", form=16))
    event = await conv.next_message()
    if isinstance(event, Message) and event.payload == b"short":
        await conv.goodbye()
        return informational(expected, "echoed: the client accepts lengths in a longer form", "lenient; RFC 6455 5.2 binds the sender only")
    if isinstance(event, (Control, Closed)):
        await conv.answer_close()
        conv.peer.abort()
        return informational(expected, f"refused: {event}", "strict; RFC 6455 5.2 binds the sender only")
    return failed(expected, str(event))


# -- 2 Pings and pongs -------------------------------------------------------------------------------------

echo_case("2.1", "a ping with no payload is answered with a pong", "RFC 6455 5.5.2", [s(PING)], [], pongs=[b""])
echo_case("2.2", "a ping with 125 bytes is answered with the same payload", "RFC 6455 5.5.3", [s(PING, sample(125, True)[-125:])], [],
          pongs=[sample(125, True)[-125:]])  # fmt: skip
echo_case("2.3", "an unsolicited pong is ignored (a message after it is echoed)", "RFC 6455 5.5.3",
          [s(PONG, b"unsolicited"), s(TEXT, b"after the pong")], [(TEXT, b"after the pong")])  # fmt: skip
refuse_case("2.4", "a ping with a 126-byte payload fails the connection", "RFC 6455 5.5",
            [s(PING, sample(126))], [1002], "a control frame of more than 125 bytes", no_pong=True)  # fmt: skip


@case("2.5", "ten pings in a row are answered (at least the last one)", "RFC 6455 5.5.3")
async def ten_pings(ctx: ClientContext) -> Outcome:
    conv = await ctx.accept()
    payloads = [f"ping {i}".encode() for i in range(10)]
    await conv.peer.send(*(s(PING, p) for p in payloads), s(TEXT, b"after the pings"))
    expected = "a pong for each ping, or at least for the last"
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
    if payloads[-1] not in got:
        event = await conv.next(conv.deadline(conv.quiet))
        if isinstance(event, Control) and event.frame.opcode == PONG:
            got.append(event.frame.payload)
    await conv.goodbye()
    if got == payloads:
        return ok(expected, "ten pongs, in order")
    if payloads[-1] in got:
        return ok(expected, f"{len(got)} pong(s), the last ping's among them", "allowed: only the most recent ping needs a pong")
    return failed(expected, f"{len(got)} pong(s), none for the last ping")


# -- 3 Reserved bits and 4 opcodes ---------------------------------------------------------------------------

refuse_case("3.1", "RSV1 set on a text frame, no extension negotiated, fails the connection", "RFC 6455 5.2",
            [s(TEXT, b"rsv1", rsv=4)], [1002], "RSV1 set with no extension that defines it")  # fmt: skip
refuse_case("3.2", "RSV2 set on a text frame fails the connection", "RFC 6455 5.2",
            [s(TEXT, b"rsv2", rsv=2)], [1002], "RSV2 set with no extension that defines it")  # fmt: skip
refuse_case("3.3", "RSV3 set on a ping fails the connection (no pong)", "RFC 6455 5.2",
            [s(PING, b"rsv3", rsv=1)], [1002], "RSV3 set with no extension that defines it", no_pong=True)  # fmt: skip
refuse_case("4.1", "a frame with the reserved data opcode 0x3 fails the connection", "RFC 6455 5.2",
            [s(3, b"reserved")], [1002], "the reserved opcode 0x3")  # fmt: skip
refuse_case("4.2", "a frame with the reserved control opcode 0xb fails the connection", "RFC 6455 5.2",
            [s(11, b"reserved")], [1002], "the reserved opcode 0xb")  # fmt: skip
refuse_case("4.3", "a message, then opcode 0x7, then a ping: the echo, then the connection fails before the pong", "RFC 6455 5.2",
            [s(TEXT, b"fine"), s(7, b"reserved"), s(PING, b"too late")], [1002], "the reserved opcode 0x7",
            echoes=[(TEXT, b"fine")], no_pong=True)  # fmt: skip

# -- 5 Fragmentation ------------------------------------------------------------------------------------------

echo_case("5.1", "a text message in two fragments is echoed whole", "RFC 6455 5.4",
          [s(TEXT, b"frag", fin=False), s(CONT, b"mented")], [(TEXT, b"fragmented")])  # fmt: skip
echo_case("5.2", "a ping between two fragments is answered, and the message echoed whole", "RFC 6455 5.4",
          [s(TEXT, b"before ", fin=False), s(PING, b"in between"), s(CONT, b"after")], [(TEXT, b"before after")], pongs=[b"in between"])  # fmt: skip
echo_case("5.3", "empty fragments and a binary message in one-byte fragments", "RFC 6455 5.4",
          [s(BINARY, b"", fin=False)] + [s(CONT, bytes([i]), fin=i == 7) for i in range(8)], [(BINARY, bytes(range(8)))])  # fmt: skip
refuse_case("5.4", "a fragmented ping fails the connection", "RFC 6455 5.5",
            [s(PING, b"frag", fin=False), s(CONT, b"mented")], [1002], "a control frame with FIN 0", no_pong=True)  # fmt: skip
refuse_case("5.5", "a continuation frame with no message started fails the connection", "RFC 6455 5.4",
            [s(CONT, b"nothing to continue")], [1002], "a continuation with no message started")  # fmt: skip
refuse_case("5.6", "a new text frame while a fragmented message is open fails the connection", "RFC 6455 5.4",
            [s(TEXT, b"open", fin=False), s(TEXT, b"new")], [1002], "a new data frame inside a fragmented message")  # fmt: skip

# -- 6 UTF-8 ----------------------------------------------------------------------------------------------------

WORDS = "κόσμε Hello-µ@ßöäüàá-UTF-8!! €".encode()
echo_case("6.1.1", "valid UTF-8 is echoed: 2- and 3-byte characters", "RFC 6455 5.6", [s(TEXT, WORDS)], [(TEXT, WORDS)])
echo_case("6.1.2", "valid UTF-8 is echoed: 4-byte characters", "RFC 6455 5.6",
          [s(TEXT, "😀 𝄞 \U0010ffff".encode())], [(TEXT, "😀 𝄞 \U0010ffff".encode())])  # fmt: skip
for i, (what, data) in enumerate([("a lone continuation byte 80", b"abc\x80def"), ("a UTF-16 surrogate ED A0 80", b"\xed\xa0\x80"),
                                  ("a code point above U+10FFFF", "κόσμε".encode() + b"\xf4\x90\x80\x80edited")], 1):  # fmt: skip
    refuse_case(f"6.2.{i}", f"invalid UTF-8 in a text message fails the connection: {what}", "RFC 6455 8.1",
                [s(TEXT, data)], [1007], "a text message that is not UTF-8")  # fmt: skip
SPLIT = "κόσμε".encode()
echo_case("6.3.1", "a character split across two fragments is echoed", "RFC 6455 8.1",
          [s(TEXT, SPLIT[:3], fin=False), s(CONT, SPLIT[3:])], [(TEXT, SPLIT)])  # fmt: skip
refuse_case("6.3.2", "an invalid sequence split across fragments fails the connection", "RFC 6455 8.1",
            [s(TEXT, SPLIT + b"\xf4", fin=False), s(CONT, b"\x90\x80\x80edited")], [1007], "a text message that is not UTF-8")  # fmt: skip


@case("6.4.1", "fail fast: invalid UTF-8 in the first fragment fails the connection before the last one arrives", "RFC 6455 8.1")
async def fail_fast(ctx: ClientContext) -> Outcome:
    conv = await ctx.accept()
    expected = "close 1007 as soon as the invalid bytes arrive, before the message is complete"
    await conv.peer.send(s(TEXT, SPLIT + b"\xf4\x90\x80\x80", fin=False))
    event = await quiet(conv)
    if event is None:
        ctx.trace.note(f"nothing within {conv.quiet} s of the invalid bytes: sending the rest of the message")
        await conv.peer.send(s(CONT, b"edited"))
        outcome = await refused(conv, [1007], "a text message that is not UTF-8")
        conv.peer.abort()
        if outcome.verdict is not Verdict.OK:
            return outcome
        return non_strict(expected, f"{outcome.actual}, only once the message was complete",
                          "RFC 6455 8.1; waiting for the rest of the message first is allowed, failing fast is preferred")  # fmt: skip
    if isinstance(event, Control) and event.frame.opcode == CLOSE:
        code, _ = event.frame.close()
        await conv.answer_close()
        conv.peer.abort()
        if code == 1007:
            return ok(expected, f"{event}, before the rest was sent")
        return non_strict(expected, f"{event}, before the rest was sent", "RFC 6455 7.4.1 names 1007 for this")
    if isinstance(event, Closed):
        return non_strict(expected, f"{event} with no close frame", "RFC 6455 7.1.7: an endpoint SHOULD send a close frame")
    return failed(expected, str(event))


# -- 7 Close -------------------------------------------------------------------------------------------------------


async def client_close(conv: Conversation, expected: str) -> tuple[Outcome | None, int | None]:
    """Read up to the client's close frame: (a FAILED outcome or None, its code)."""
    event = await conv.next_message()
    if isinstance(event, Control) and event.frame.opcode == CLOSE:
        return None, event.frame.close()[0]
    if isinstance(event, Closed):
        return failed(expected, f"{event} with no close frame", "RFC 6455 5.5.1: an endpoint MUST answer a close frame with one"), None
    return failed(expected, str(event)), None


def server_close_case(case_id: str, title: str, payload: bytes, want: Sequence[int | None]) -> None:
    @case(case_id, title, "RFC 6455 5.5.1")
    async def run(ctx: ClientContext) -> Outcome:
        conv = await ctx.accept()
        await conv.send(CLOSE, payload)
        expected = "a close frame in answer (" + " or ".join(code_text(c) for c in want) + ")"
        bad, code = await client_close(conv, expected)
        conv.peer.abort()  # the server closes TCP first (RFC 6455 7.1.1)
        if bad is not None:
            return bad
        if code in want:
            return ok(expected, f"close {code_text(code)}")
        return non_strict(expected, f"close {code_text(code)}", "RFC 6455 5.5.1: the answer typically echoes the code received")


server_close_case("7.1.1", "a close 1000 from the server is answered with a close frame", close_payload(1000, "bye"), [1000])
server_close_case("7.1.2", "a close with no payload is answered with a close frame", b"", [None, 1000])
server_close_case("7.1.3", "a close 3000 is answered with a close frame", close_payload(3000, "registered"), [3000, 1000])


@case("7.1.4", "a message after the server's close frame is not echoed", "RFC 6455 5.5.1, 1.4")
async def data_after_close(ctx: ClientContext) -> Outcome:
    conv = await ctx.accept()
    await conv.peer.send(s(CLOSE, close_payload(1000)), s(TEXT, b"after the close"))
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


@case("7.1.5", "a server that never closes TCP after the close handshake: the client closes it", "RFC 6455 7.1.1")
async def never_closes(ctx: ClientContext) -> Outcome:
    conv = await ctx.accept()
    await conv.send(CLOSE, close_payload(1000))
    expected = "the client closes TCP itself after a while (the server never does)"
    bad, _ = await client_close(conv, expected)
    if bad is not None:
        return bad
    start = conv.peer.trace.now()
    if await conv.peer.wait_eof(conv.deadline()):
        return ok(expected, f"the client closed TCP {conv.peer.trace.now() - start:.2f} s after its close frame")
    return non_strict(expected, f"the connection was still open {conv.wait:.1f} s after the close handshake",
                      "RFC 6455 7.1.1: a client MAY close TCP if the server has not in a reasonable time; one that never does holds the connection forever")  # fmt: skip


refuse_case("7.2.1", "a close frame with a 1-byte payload fails the connection", "RFC 6455 5.5.1", [s(CLOSE, b"\x03")], [1002], "a close payload of 1 byte")
for i, code in enumerate((1005, 999, 1016), 2):
    refuse_case(f"7.2.{i}", f"close code {code} may not be sent, and fails the connection", "RFC 6455 7.4",
                [s(CLOSE, close_payload(code))], [1002], f"the close code {code}")  # fmt: skip
refuse_case("7.2.5", "a close reason that is not UTF-8 fails the connection", "RFC 6455 5.5.1",
            [s(CLOSE, close_payload(1000, b"\xce\xba\xff"))], [1007], "a close reason that is not UTF-8")  # fmt: skip
refuse_case("7.2.6", "a close frame with a 126-byte payload fails the connection", "RFC 6455 5.5",
            [s(CLOSE, close_payload(1000, b"r" * 124))], [1002], "a control frame of more than 125 bytes")  # fmt: skip

# -- 9 Limits -----------------------------------------------------------------------------------------------------


@case("9.1.1", "a 1 MiB text message is echoed (or refused with 1009)", "RFC 6455 10.4")
async def one_mib(ctx: ClientContext) -> Outcome:
    conv = await ctx.accept()
    data = sample(1 << 20)
    expected = "the echo of 1 MiB of text, or close 1009 if that is over the client's limit"
    await conv.peer.send(s(TEXT, data))
    event = await conv.next_message()
    if isinstance(event, Message) and event.payload == data:
        await conv.goodbye()
        return ok(expected, "echoed 1 MiB")
    if isinstance(event, Control) and event.frame.opcode == CLOSE:
        code, _ = event.frame.close()
        await conv.answer_close()
        conv.peer.abort()
        if code == 1009:
            return informational(expected, str(event), "the client's message limit is below 1 MiB")
        return non_strict(expected, str(event), "RFC 6455 7.4.1 names 1009 for a message too big to process")
    return failed(expected, str(event))


@case("9.2.1", "a frame that declares 2^62 bytes is refused at its header, not waited for", "RFC 6455 10.4")
async def huge_declared(ctx: ClientContext) -> Outcome:
    conv = await ctx.accept()
    await conv.peer.send(s(BINARY, b"x" * 1024, length=1 << 62))
    expected = "close 1009 once the header is read"
    event = await conv.next_message(conv.deadline(min(conv.wait, max(2.0, conv.quiet * 4))))
    conv.peer.abort()
    if isinstance(event, Control) and event.frame.opcode == CLOSE:
        code, _ = event.frame.close()
        if code == 1009:
            return ok(expected, str(event))
        return non_strict(expected, str(event), "RFC 6455 7.4.1 names 1009 for a message too big to process")
    if isinstance(event, Closed):
        return non_strict(expected, f"{event} with no close frame", "RFC 6455 7.1.7: an endpoint SHOULD send a close frame")
    if isinstance(event, Silence):
        return non_strict(expected, f"{event}: the client waits for 4 EiB", "RFC 6455 10.4: implementations SHOULD impose a limit")
    return failed(expected, str(event))


# -- 11 Opening handshake -----------------------------------------------------------------------------------------


@case("11.1.1", "the client's upgrade request is valid", "RFC 6455 4.1")
async def valid_request(ctx: ClientContext) -> Outcome:
    r = ctx.request
    problems = []
    if r.method != "GET" or r.version != "HTTP/1.1":
        problems.append(f"the request line is {r.first_line!r}")
    if len(r.get_all("Host")) != 1:
        problems.append("no single Host header")
    if "websocket" not in r.tokens("Upgrade"):
        problems.append(f"Upgrade: {r.get('Upgrade')}")
    if "upgrade" not in r.tokens("Connection"):
        problems.append(f"Connection: {r.get('Connection')}")
    if r.get_all("Sec-WebSocket-Version") != ["13"]:
        problems.append(f"Sec-WebSocket-Version: {r.get('Sec-WebSocket-Version')}")
    keys = r.get_all("Sec-WebSocket-Key")
    try:
        good_key = len(keys) == 1 and len(base64.b64decode(keys[0], validate=True)) == 16
    except binascii.Error:
        good_key = False
    if not good_key:
        problems.append(f"Sec-WebSocket-Key: {', '.join(keys) or 'missing'} (16 random bytes in base64 are required)")
    expected = "GET, HTTP/1.1, Host, Upgrade: websocket, Connection: Upgrade, a 16-byte key, version 13"
    conv = await ctx.accept()
    outcome = await echoed(conv, [s(TEXT, b"hello")], [(TEXT, b"hello")])
    if problems:
        return failed(expected, "; ".join(problems))
    if outcome.verdict is not Verdict.OK:
        return outcome
    return ok(expected, "a valid request")


def accepted_case(case_id: str, title: str, rfc: str, make: Callable[[ClientContext], bytes], then_frame: bool = False) -> None:
    @case(case_id, title, rfc)
    async def run(ctx: ClientContext) -> Outcome:
        first = s(TEXT, b"right behind the 101")
        await ctx.answer(make(ctx), first.wire if then_frame else b"")
        conv = Conversation(ctx.peer, peer_is_client=True, wait=ctx.wait, quiet=ctx.quiet)
        if then_frame:
            ctx.trace.sent(first, ctx.peer.connection)
            return await echoed(conv, [], [(TEXT, b"right behind the 101")], expected="the echo of the frame sent with the 101")
        return await echoed(conv, [s(TEXT, b"hello")], [(TEXT, b"hello")], expected="the client accepts the 101 and echoes")


accepted_case("11.1.2", "a 101 with header values in other cases (Upgrade: WebSocket, connection: upgrade) is accepted", "RFC 6455 4.1",
              lambda c: c.response(replace={"Upgrade": "WebSocket", "Connection": None}, extra=["connection: upgrade", "Server: wsplay-check"]))  # fmt: skip
accepted_case("11.1.3", "a frame right behind the 101, in the same write, is read", "RFC 6455 4.1",
              lambda c: c.response(), then_frame=True)  # fmt: skip


def bad_answer_case(case_id: str, title: str, rfc: str, make: Callable[[ClientContext], bytes], why: str,
                    needs: Callable[[ClientContext], None] | None = None) -> None:  # fmt: skip
    """The server answers the upgrade wrongly, then sends a frame: the client must not take it up."""

    @case(case_id, title, rfc)
    async def run(ctx: ClientContext) -> Outcome:
        if needs is not None:
            needs(ctx)
        probe = s(TEXT, b"are you there?")
        await ctx.answer(make(ctx), probe.wire)
        ctx.trace.sent(probe, ctx.peer.connection)
        conv = Conversation(ctx.peer, peer_is_client=True, wait=ctx.wait, quiet=ctx.quiet)
        expected = f"the client fails the connection (closes TCP, sends nothing): {why}"
        event = await conv.next()
        if isinstance(event, Closed):
            return ok(expected, f"{event}, nothing sent")
        if isinstance(event, Control) and event.frame.opcode == CLOSE:
            return non_strict(expected, f"{event}: the client treated the connection as open long enough to close it",
                              "RFC 6455 4.1: before the handshake succeeds there is no WebSocket connection to close")  # fmt: skip
        if isinstance(event, Message):
            return failed(expected, f"{event}: the client accepted the answer and echoed")
        if isinstance(event, Silence) and ctx.running is not None and ctx.running.future.done():
            return non_strict(expected, f"the driver {ctx.running.outcome()}, but the TCP connection stayed open",
                              "RFC 6455 4.1: _Fail the WebSocket Connection_ closes it")  # fmt: skip
        return failed(expected, str(event))


bad_answer_case("11.2.1", "a 101 with the wrong Sec-WebSocket-Accept is refused", "RFC 6455 4.1",
                lambda c: c.response(accept=accept_key("AAAAAAAAAAAAAAAAAAAAAA==")), "the accept key does not match")  # fmt: skip
bad_answer_case("11.2.2", "a 101 without Sec-WebSocket-Accept is refused", "RFC 6455 4.1",
                lambda c: c.response(replace={"Sec-WebSocket-Accept": None}), "no accept key")  # fmt: skip
bad_answer_case("11.2.3", "a 101 without Upgrade: websocket is refused", "RFC 6455 4.1",
                lambda c: c.response(replace={"Upgrade": None}), "no Upgrade header")  # fmt: skip
bad_answer_case("11.2.4", "a 101 whose Connection header lacks 'Upgrade' is refused", "RFC 6455 4.1",
                lambda c: c.response(replace={"Connection": "keep-alive"}), "Connection: keep-alive")  # fmt: skip
bad_answer_case("11.2.5", "200 OK instead of 101 is refused", "RFC 6455 4.1",
                lambda c: c.response(status="200 OK", extra=["Content-Length: 0"]), "the status is not 101")  # fmt: skip
bad_answer_case("11.2.6", "a 101 naming a subprotocol the client did not offer is refused", "RFC 6455 4.1",
                lambda c: c.response(protocol="x-wsplay-unrequested"), "an unrequested subprotocol")  # fmt: skip
bad_answer_case("11.2.7", "a 101 with an extension the client did not offer is refused", "RFC 6455 4.1, 9.1",
                lambda c: c.response(extensions="x-wsplay-unrequested"), "an unrequested extension")  # fmt: skip

# -- 12 and 13 permessage-deflate ------------------------------------------------------------------------------------


def offered(ctx: ClientContext) -> None:
    if not ctx.deflate_offers:
        raise Stop(informational("a permessage-deflate offer", "the client offers no permessage-deflate", "the extension is optional: nothing to check"))


@case("13.1.1", "the client's permessage-deflate offer is valid", "RFC 7692 5, 7.1")
async def valid_offer(ctx: ClientContext) -> Outcome:
    offer = ctx.request.get("Sec-WebSocket-Extensions") or ""
    expected = "an offer with known parameters, each once, with valid values"
    conv = await ctx.accept()
    await conv.goodbye()
    if not ctx.deflate_offers:
        return informational(expected, "no permessage-deflate offer", "the extension is optional")
    for _, params in ctx.offers:
        names = [n for n, _ in params]
        for name, value in params:
            if name not in ("server_no_context_takeover", "client_no_context_takeover", "server_max_window_bits", "client_max_window_bits"):
                return failed(expected, f"{offer}: unknown parameter {name}")
            if names.count(name) > 1:
                return failed(expected, f"{offer}: {name} twice")
            if name == "server_max_window_bits" and (value is None or not value.isdigit() or not 8 <= int(value) <= 15):
                return failed(expected, f"{offer}: server_max_window_bits={value}")
            if name == "client_max_window_bits" and value is not None and (not value.isdigit() or not 8 <= int(value) <= 15):
                return failed(expected, f"{offer}: client_max_window_bits={value}")
    return ok(expected, f"Sec-WebSocket-Extensions: {offer}")


def without_client_bits(ctx: ClientContext) -> None:
    offered(ctx)
    if any("client_max_window_bits" in o for o in ctx.deflate_offers):
        raise Stop(informational("an offer without client_max_window_bits", "the client offers client_max_window_bits", "not applicable"))


bad_answer_case("13.2.1", "a permessage-deflate answer with server_max_window_bits=7 is refused", "RFC 7692 7.1.2.1",
                lambda c: c.response(extensions=f"{DEFLATE}; server_max_window_bits=7"), "a window below 8 bits", needs=offered)  # fmt: skip
bad_answer_case("13.2.2", "a permessage-deflate answer with an unknown parameter is refused", "RFC 7692 7.1",
                lambda c: c.response(extensions=f"{DEFLATE}; x-wsplay=1"), "an unknown parameter", needs=offered)  # fmt: skip
bad_answer_case("13.2.3", "a permessage-deflate answer with client_max_window_bits the client did not offer is refused", "RFC 7692 7.1.2.2",
                lambda c: c.response(extensions=f"{DEFLATE}; client_max_window_bits=10"), "client_max_window_bits was not offered",
                needs=without_client_bits)  # fmt: skip


def grant(ctx: ClientContext, **extra: object) -> str:
    """An answer that accepts the client's first permessage-deflate offer as it stands (RFC 7692 7.1):
    what it asked of the server is granted, the window it offered to keep to is taken; `extra`
    adds parameters a server may add on its own (client_no_context_takeover, a smaller client window)."""
    offer = ctx.deflate_offers[0]
    params: dict[str, object] = {}
    for name in ("server_no_context_takeover", "client_no_context_takeover"):
        if name in offer:
            params[name] = True
    if offer.get("server_max_window_bits"):
        params["server_max_window_bits"] = offer["server_max_window_bits"]
    if offer.get("client_max_window_bits"):
        params["client_max_window_bits"] = offer["client_max_window_bits"]
    for name, value in extra.items():
        if name == "client_max_window_bits" and "client_max_window_bits" in params:
            value = min(int(str(value)), int(str(params[name])))
        params[name] = value
    return "; ".join([DEFLATE] + [k if v is True else f"{k}={v}" for k, v in params.items()])


async def deflated(ctx: ClientContext, **extra: object) -> Conversation:
    offered(ctx)
    return await ctx.accept(extensions=grant(ctx, **extra))


def server_deflater(conv: Conversation) -> Deflater:
    a = conv.agreement
    assert a is not None
    return Deflater(a.server_max_window_bits or 15, a.server_no_context_takeover)


TEXT_4K = ("permessage-deflate makes repetitive text much smaller. " * 80).encode()[:4096]


def deflated_echo_case(case_id: str, title: str, rfc: str, messages: Sequence[tuple[int, bytes]], fragments: int = 1,
                       needs: Callable[[ClientContext], None] | None = None, **extra: object) -> None:  # fmt: skip
    @case(case_id, title, rfc)
    async def run(ctx: ClientContext) -> Outcome:
        if needs is not None:
            needs(ctx)
        conv = await deflated(ctx, **extra)
        z = server_deflater(conv)
        outs: list[Out] = []
        for opcode, data in messages:
            wire = z.message(data)
            step = len(wire) // fragments + 1
            parts = [wire[i : i + step] for i in range(0, len(wire), step)] or [b""]
            for i, part in enumerate(parts):
                outs.append(s(opcode if i == 0 else CONT, part, fin=i == len(parts) - 1, rsv=4 if i == 0 else 0,
                              note=f"compressed from {len(data)} bytes" if i == 0 else ""))  # fmt: skip
        return await echoed(conv, outs, messages, expected="the echo (compressed or not), compressed within the agreed parameters")


deflated_echo_case("12.1.1", "compressed text messages are echoed (context kept between messages)", "RFC 7692 7.2",
                   [(TEXT, b"Hello, compression"), (TEXT, b"Hello, compression"), (TEXT, TEXT_4K)])  # fmt: skip
deflated_echo_case("12.1.2", "a compressed message in three fragments (RSV1 on the first only) is echoed", "RFC 7692 6.1",
                   [(BINARY, os.urandom(64) * 64)], fragments=3)  # fmt: skip
deflated_echo_case("12.2.1", "with client_no_context_takeover in the answer, the client compresses each message alone", "RFC 7692 7.1.1.2",
                   [(TEXT, TEXT_4K), (TEXT, TEXT_4K), (TEXT, TEXT_4K)], client_no_context_takeover=True)  # fmt: skip


def client_window(ctx: ClientContext) -> None:
    offered(ctx)
    if not any("client_max_window_bits" in o for o in ctx.deflate_offers[:1]):
        raise Stop(informational("an offer with client_max_window_bits", "the client does not offer client_max_window_bits", "not applicable"))


deflated_echo_case("12.2.2", "with client_max_window_bits=10 in the answer, the client compresses within 1 KiB", "RFC 7692 7.1.2.2",
                   [(BINARY, os.urandom(1500) * 2)], needs=client_window, client_max_window_bits=10)  # fmt: skip


def deflated_refusal(case_id: str, title: str, rfc: str, outs: Callable[[Conversation], list[Out]], codes: Sequence[int], why: str) -> None:
    @case(case_id, title, rfc)
    async def run(ctx: ClientContext) -> Outcome:
        conv = await deflated(ctx)
        await conv.peer.send(*outs(conv))
        outcome = await refused(conv, codes, why)
        conv.peer.abort()
        return outcome


deflated_refusal("12.3.1", "RSV1 on a continuation frame fails the connection", "RFC 7692 6.1",
                 lambda c: [s(TEXT, server_deflater(c).message(b"first"), fin=False, rsv=4), s(CONT, b"\x00", rsv=4)], [1002],
                 "RSV1 set on a continuation frame")  # fmt: skip
deflated_refusal("12.3.2", "compressed data that does not inflate fails the connection", "RFC 7692 7.2.2",
                 lambda c: [s(BINARY, b"\xff\xff\xff\xff not deflate data", rsv=4)], [1007, 1002], "a payload that is not DEFLATE data")  # fmt: skip


@case("12.4.1", "a compression bomb (32 MiB of zeros in about 32 KiB) is refused at the limit", "RFC 7692 8.2, RFC 6455 10.4")
async def deflate_bomb(ctx: ClientContext) -> Outcome:
    conv = await deflated(ctx)
    size = 32 << 20
    await conv.peer.send(s(BINARY, bomb(size), rsv=4, note=f"inflates to {size} zero bytes"))
    expected = "close 1009 when the inflated message passes the client's limit"
    event = await conv.next_message()
    if isinstance(event, Control) and event.frame.opcode == CLOSE:
        code, _ = event.frame.close()
        await conv.answer_close()
        conv.peer.abort()
        if code == 1009:
            return ok(expected, str(event))
        return non_strict(expected, str(event), "RFC 6455 7.4.1 names 1009 for a message too big to process")
    if isinstance(event, Message) and event.payload == bytes(size):
        await conv.goodbye()
        return informational(expected, "echoed all 32 MiB", "the client has no message limit at 32 MiB")
    if isinstance(event, Closed):
        return non_strict(expected, f"{event} with no close frame", "RFC 6455 7.1.7: an endpoint SHOULD send a close frame")
    return failed(expected, str(event))
