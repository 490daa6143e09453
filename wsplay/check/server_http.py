"""The server suite's handshake and permessage-deflate cases: sections 11, 12 and 13.

11: the opening handshake (RFC 6455 4.2): valid requests in unusual spellings are accepted, broken
ones refused with an HTTP error, offers of unknown subprotocols and extensions not taken up.
12: compressed messages (RFC 7692 6-7): echoes with and without context takeover, within the window
the server agreed to, compressed fragments, bad compressed data, a bomb.
13: negotiation (RFC 7692 5, 7.1): what a server may and must answer to each offer.

A server that does not negotiate permessage-deflate gets INFORMATIONAL in sections 12 and 13 (the
extension is optional); one that negotiates it is held to everything it agreed.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence

from wsplay.check.compress import NAME as DEFLATE
from wsplay.check.compress import Agreement, Deflater, bomb
from wsplay.check.judge import Closed, Control, Conversation, Message, Silence, Stop, refused
from wsplay.check.report import Outcome, failed, informational, non_strict, ok
from wsplay.check.server_cases import CASES, case, echoed
from wsplay.check.server_suite import ServerContext, check_101
from wsplay.check.wire import HttpHead, Out, accept_key, frame, new_key

__all__ = ["CASES"]

TEXT, BINARY, CONT, PING = 1, 2, 0, 9

# -- 11 Opening handshake ---------------------------------------------------------------------------


async def upgrade_with(ctx: ServerContext, request: Callable[[str], bytes]) -> tuple[str, HttpHead | None]:
    """Send the request made by `request(key)`; return (key, the answer's HttpHead or None)."""
    peer = await ctx.tcp()
    key = new_key()
    head = await ctx.ask(peer, request(key))
    return key, head


def accepted_case(case_id: str, title: str, rfc: str, replace: Mapping[str, str | None], why: str) -> None:
    @case(case_id, title, rfc)
    async def run(ctx: ServerContext) -> Outcome:
        key, head = await upgrade_with(ctx, lambda k: ctx.request(k, replace={"Sec-WebSocket-Key": k, **replace}))
        expected = f"101 Switching Protocols ({why})"
        if head is None:
            return failed(expected, "no answer")
        judged = check_101(head, key, None, ctx.subprotocols)
        if isinstance(judged, tuple):
            return failed(expected, judged[0], judged[1])
        return ok(expected, head.first_line)


def refused_case(case_id: str, title: str, rfc: str, request: Callable[[ServerContext, str], bytes], if_accepted: str, why: str,
                 want: Sequence[int] = (), header: tuple[str, str] | None = None) -> None:  # fmt: skip
    """A request the server must refuse with an HTTP error (`want`: the preferred statuses).

    Args:
        if_accepted: the verdict when the server answers 101 anyway ("FAILED" or "NON-STRICT").
        header: a header the refusal must carry (426's Sec-WebSocket-Version: 13).
    """

    @case(case_id, title, rfc)
    async def run(ctx: ServerContext) -> Outcome:
        _, head = await upgrade_with(ctx, lambda k: request(ctx, k))
        preferred = " or ".join(str(s) for s in want) if want else "4xx"
        expected = f"an HTTP error ({preferred}{', with ' + ': '.join(header) if header else ''}), not 101: {why}"
        if head is None:
            return non_strict(expected, "the connection was closed with no HTTP answer", "a refusal should say why, with an HTTP status")
        status = head.status
        if status == 101:
            if if_accepted == "FAILED":
                return failed(expected, f"{head.first_line}: the server accepted it")
            return non_strict(expected, f"{head.first_line}: the server accepted it", f"lenient: RFC 6455 4.2.1 asks a server to refuse this ({why})")
        if status is None or not 400 <= status < 600:
            return failed(expected, f"{head.first_line!r}")
        if header is not None and head.get(header[0]) != header[1]:
            return non_strict(expected, f"{head.first_line}, without {header[0]}: {header[1]}", f"RFC 6455 4.2.2 asks for {header[0]} in this answer")
        return ok(expected, head.first_line)


@case("11.1.1", "a valid upgrade request gets a valid 101", "RFC 6455 4.2.2")
async def valid_upgrade(ctx: ServerContext) -> Outcome:
    key, head = await upgrade_with(ctx, lambda k: ctx.request(k))
    expected = "101 with Upgrade: websocket, Connection: Upgrade and the right Sec-WebSocket-Accept"
    if head is None:
        return failed(expected, "no answer")
    judged = check_101(head, key, None, ctx.subprotocols)
    if isinstance(judged, tuple):
        return failed(expected, judged[0], judged[1])
    return ok(expected, f"{head.first_line}, Sec-WebSocket-Accept: {accept_key(key)}")


accepted_case("11.1.2", "header values in any case are accepted: Upgrade: WebSocket, Connection: keep-alive, Upgrade", "RFC 6455 4.2.1",
              {"Upgrade": "WebSocket", "Connection": "keep-alive, Upgrade"}, "both are case-insensitive; Firefox sends 'keep-alive, Upgrade'")  # fmt: skip


@case("11.1.3", "header names in lower case are accepted", "RFC 6455 4.2.1, RFC 9110 5.1")
async def lower_names(ctx: ServerContext) -> Outcome:
    def request(k: str) -> bytes:
        raw = ctx.request(k).decode("latin-1").split("\r\n")
        head = [raw[0]] + [line.split(":", 1)[0].lower() + ":" + line.split(":", 1)[1] if ":" in line else line for line in raw[1:]]
        return "\r\n".join(head).encode("latin-1")

    key, head = await upgrade_with(ctx, request)
    expected = "101 Switching Protocols (header names are case-insensitive)"
    if head is None:
        return failed(expected, "no answer")
    judged = check_101(head, key, None, ctx.subprotocols)
    if isinstance(judged, tuple):
        return failed(expected, judged[0], judged[1])
    return ok(expected, head.first_line)


refused_case("11.2.1", "Sec-WebSocket-Version: 8 is refused with 426 and Sec-WebSocket-Version: 13", "RFC 6455 4.2.2",
             lambda c, k: c.request(k, replace={"Sec-WebSocket-Version": "8"}), "FAILED", "a version this server does not speak",
             want=[426], header=("Sec-WebSocket-Version", "13"))  # fmt: skip
refused_case("11.2.2", "a request without Sec-WebSocket-Version is refused", "RFC 6455 4.2.1",
             lambda c, k: c.request(k, replace={"Sec-WebSocket-Version": None}), "FAILED", "no version")  # fmt: skip
refused_case("11.2.3", "a request without Sec-WebSocket-Key is refused", "RFC 6455 4.2.1",
             lambda c, k: c.request(k, replace={"Sec-WebSocket-Key": None}), "FAILED", "no key", want=[400])  # fmt: skip
refused_case("11.2.4", "a Sec-WebSocket-Key that is not 16 bytes in base64 is refused", "RFC 6455 4.2.1",
             lambda c, k: c.request(k, replace={"Sec-WebSocket-Key": "bm90IDE2IGJ5dGVz"}), "NON-STRICT", "a key of 12 bytes", want=[400])  # fmt: skip
refused_case("11.2.5", "two Sec-WebSocket-Key headers are refused", "RFC 6455 4.2.1, 11.3.1",
             lambda c, k: c.request(k, extra=[("Sec-WebSocket-Key", new_key())]), "NON-STRICT", "the key appears twice", want=[400])  # fmt: skip
refused_case("11.2.6", "a POST upgrade request is refused", "RFC 6455 4.2.1",
             lambda c, k: c.request(k, method="POST"), "FAILED", "the method must be GET", want=[400, 405])  # fmt: skip
refused_case("11.2.7", "an HTTP/1.0 upgrade request is refused", "RFC 6455 4.2.1",
             lambda c, k: c.request(k, version="HTTP/1.0"), "NON-STRICT", "HTTP/1.1 or later is required", want=[400, 505])  # fmt: skip
refused_case("11.2.8", "a request without Host is refused", "RFC 6455 4.2.1, RFC 9112 3.2",
             lambda c, k: c.request(k, replace={"Host": None}), "NON-STRICT", "Host is required", want=[400])  # fmt: skip
refused_case("11.2.9", "a request without Upgrade: websocket is not upgraded", "RFC 6455 4.2.1",
             lambda c, k: c.request(k, replace={"Upgrade": None}), "FAILED", "no Upgrade header")  # fmt: skip
refused_case("11.2.10", "a request whose Connection header lacks 'Upgrade' is not upgraded", "RFC 6455 4.2.1",
             lambda c, k: c.request(k, replace={"Connection": "keep-alive"}), "NON-STRICT", "Connection must include Upgrade")  # fmt: skip


@case("11.3.1", "an offered subprotocol the server does not know is not answered with another", "RFC 6455 4.2.2")
async def unknown_protocol(ctx: ServerContext) -> Outcome:
    key, head = await upgrade_with(ctx, lambda k: ctx.request(k, protocols=["x-wsplay-check"]))
    expected = "101 without Sec-WebSocket-Protocol, or with x-wsplay-check (the only one offered)"
    if head is None:
        return failed(expected, "no answer")
    judged = check_101(head, key, None, ["x-wsplay-check", *ctx.subprotocols])
    if isinstance(judged, tuple):
        if head.status != 101:
            return informational(expected, f"{head.first_line}: the server requires a subprotocol it knows", "refusing is allowed")
        return failed(expected, judged[0], judged[1])
    chosen = head.get("Sec-WebSocket-Protocol")
    return ok(expected, f"101 with Sec-WebSocket-Protocol: {chosen}" if chosen else "101 without a subprotocol")


@case("11.3.2", "an offered extension the server does not know is not accepted", "RFC 6455 9.1")
async def unknown_extension(ctx: ServerContext) -> Outcome:
    offer = "x-wsplay-unknown; level=3"
    key, head = await upgrade_with(ctx, lambda k: ctx.request(k, extensions=offer))
    expected = "101 without x-wsplay-unknown in Sec-WebSocket-Extensions"
    if head is None:
        return failed(expected, "no answer")
    judged = check_101(head, key, offer, ctx.subprotocols)
    if isinstance(judged, tuple):
        return failed(expected, judged[0], judged[1])
    return ok(expected, head.first_line)


@case("11.4.1", "a frame sent right behind the request, in the same write, is echoed", "RFC 6455 4.1")
async def frame_behind_request(ctx: ServerContext) -> Outcome:
    out = frame(TEXT, b"early bird", key=os.urandom(4))
    expected = "the echo (the client did not wait for the 101, which RFC 6455 4.1 asks it to do)"
    try:
        conv = await ctx.connect(then=out.wire)
    except Stop as stop:
        return informational(expected, stop.outcome.actual, "the client broke 4.1: a server need not read early frames")
    ctx.trace.sent(out, conv.peer.connection)
    event = await conv.next_message()
    if isinstance(event, Message) and event.payload == b"early bird":
        await conv.goodbye()
        return ok(expected, f"echoed: {event}")
    return informational(expected, str(event), "the client broke 4.1: a server need not read early frames")


# -- 13 permessage-deflate: negotiation ---------------------------------------------------------------------


async def negotiate(ctx: ServerContext, offer: str) -> tuple[Agreement | tuple[str, str] | None, str]:
    """Offer `offer`; return (the check_101 verdict: Agreement, None or (problem, rule), the answer's extensions header)."""
    key, head = await upgrade_with(ctx, lambda k: ctx.request(k, extensions=offer))
    if head is None:
        raise Stop(failed("an answer to the upgrade", "no answer"))
    if head.status != 101:
        return ("refused", head.first_line), ""
    return check_101(head, key, offer, ctx.subprotocols), head.get("Sec-WebSocket-Extensions") or ""


def offer_case(case_id: str, title: str, rfc: str, offer: str, rule: str) -> None:
    @case(case_id, title, rfc)
    async def run(ctx: ServerContext) -> Outcome:
        judged, answer = await negotiate(ctx, offer)
        expected = f"to {offer!r}: an answer {rule}, or none (declined)"
        if isinstance(judged, tuple):
            if judged[0] == "refused":
                return failed(expected, f"{judged[1]}: the upgrade was refused", "an extension offer that is declined is left out of the answer, not refused")
            return failed(expected, judged[0], judged[1])
        if judged is None:
            return informational(expected, "declined: no permessage-deflate in the answer", "the extension is optional")
        return ok(expected, f"Sec-WebSocket-Extensions: {answer}")


offer_case("13.1.1", "a plain permessage-deflate offer", "RFC 7692 5, 7.1", DEFLATE, "with valid parameters")
offer_case("13.1.2", "the browsers' offer: permessage-deflate; client_max_window_bits", "RFC 7692 7.1.2.2",
           f"{DEFLATE}; client_max_window_bits", "with valid parameters")  # fmt: skip
offer_case("13.1.3", "an offer asking for server_no_context_takeover", "RFC 7692 7.1.1.1",
           f"{DEFLATE}; server_no_context_takeover", "that includes server_no_context_takeover")  # fmt: skip
offer_case("13.1.4", "an offer asking for server_max_window_bits=10", "RFC 7692 7.1.2.1",
           f"{DEFLATE}; server_max_window_bits=10", "with server_max_window_bits of 10 or less")  # fmt: skip
offer_case("13.1.5", "an offer of client_max_window_bits=10", "RFC 7692 7.1.2.2",
           f"{DEFLATE}; client_max_window_bits=10", "with client_max_window_bits of 10 or less, or none")  # fmt: skip
offer_case("13.1.6", "an offer of client_no_context_takeover", "RFC 7692 7.1.1.2",
           f"{DEFLATE}; client_no_context_takeover", "with valid parameters")  # fmt: skip


def invalid_offer_case(case_id: str, title: str, offer: str, why: str) -> None:
    @case(case_id, title, "RFC 7692 5")
    async def run(ctx: ServerContext) -> Outcome:
        judged, answer = await negotiate(ctx, offer)
        expected = f"the offer declined: a 101 without permessage-deflate ({why})"
        if isinstance(judged, tuple):
            if judged[0] == "refused":
                return non_strict(expected, f"{judged[1]}: the whole upgrade was refused", "RFC 7692 5: a server declines an invalid offer and goes on")
            return failed(expected, judged[0], judged[1])
        if judged is None:
            return ok(expected, "declined")
        return failed(expected, f"accepted: Sec-WebSocket-Extensions: {answer}", "RFC 7692 5: a server MUST decline it")


invalid_offer_case("13.2.1", "an offer with an unknown parameter is declined", f"{DEFLATE}; x-wsplay=1", "an unknown parameter")
invalid_offer_case("13.2.2", "an offer with server_max_window_bits=7 is declined", f"{DEFLATE}; server_max_window_bits=7", "a window below 8 bits")
invalid_offer_case("13.2.3", "an offer with a repeated parameter is declined", f"{DEFLATE}; server_no_context_takeover; server_no_context_takeover", "a parameter twice")
invalid_offer_case("13.2.4", "an offer of server_max_window_bits with no value is declined", f"{DEFLATE}; server_max_window_bits", "the value is required")


@case("13.3.1", "an invalid offer then a valid one: the valid one is taken (or both declined)", "RFC 7692 5")
async def second_offer(ctx: ServerContext) -> Outcome:
    offer = f"{DEFLATE}; server_max_window_bits=7, {DEFLATE}"
    judged, answer = await negotiate(ctx, offer)
    expected = "an answer to the second offer (plain permessage-deflate), or none"
    if isinstance(judged, tuple):
        return failed(expected, str(judged[0]), str(judged[1]))
    if judged is None:
        return informational(expected, "declined both", "a server may decline any offer")
    if isinstance(judged, Agreement) and judged.server_max_window_bits == 7:
        return failed(expected, f"Sec-WebSocket-Extensions: {answer}: the invalid offer was taken")
    return ok(expected, f"Sec-WebSocket-Extensions: {answer}")


# -- 12 permessage-deflate: messages ---------------------------------------------------------------------------


async def compressed(ctx: ServerContext, offer: str = f"{DEFLATE}; client_max_window_bits") -> Conversation:
    """Connect offering `offer`; a server that declines it ends the case as INFORMATIONAL."""
    conv = await ctx.connect(extensions=offer)
    if conv.agreement is None:
        await conv.goodbye()
        raise Stop(informational("a compressed connection", f"the server declined {offer!r}", "permessage-deflate is optional: nothing to check"))
    return conv


def deflater(conv: Conversation, reset: bool | None = None) -> Deflater:
    a = conv.agreement
    assert a is not None
    return Deflater(a.client_max_window_bits or 15, a.client_no_context_takeover if reset is None else reset)


def deflated_echo_case(case_id: str, title: str, rfc: str, messages: Sequence[tuple[int, bytes]], offer: str = f"{DEFLATE}; client_max_window_bits",
                       fragments: int = 1, check: Callable[[Agreement], Outcome | None] | None = None) -> None:  # fmt: skip
    @case(case_id, title, rfc)
    async def run(ctx: ServerContext) -> Outcome:
        conv = await compressed(ctx, offer)
        assert conv.agreement is not None
        if check is not None:
            bad = check(conv.agreement)
            if bad is not None:
                return bad
        z = deflater(conv)
        outs: list[Out] = []
        for opcode, data in messages:
            wire = z.message(data)
            if fragments == 1:
                outs.append(conv.peer.out(opcode, wire, rsv=4, note=f"compressed from {len(data)} bytes"))
            else:
                step = len(wire) // fragments + 1
                parts = [wire[i : i + step] for i in range(0, len(wire), step)]
                for i, part in enumerate(parts):
                    outs.append(conv.peer.out(opcode if i == 0 else CONT, part, fin=i == len(parts) - 1, rsv=4 if i == 0 else 0,
                                              note=f"compressed from {len(data)} bytes" if i == 0 else ""))  # fmt: skip
        return await echoed(ctx, conv, outs, messages, expected="the echo (compressed or not), inflating with the agreed parameters")


TEXT_4K = ("permessage-deflate makes repetitive text much smaller. " * 80).encode()[:4096]
RANDOM_REPEAT = os.urandom(1500) * 2  # a match 1500 bytes back: beyond a 10-bit (1024-byte) window
deflated_echo_case("12.1.1", "compressed text messages are echoed (context kept between messages)", "RFC 7692 7.2",
                   [(TEXT, b"Hello, compression"), (TEXT, b"Hello, compression"), (TEXT, TEXT_4K)])  # fmt: skip
deflated_echo_case("12.1.2", "a compressed 64 KiB binary message is echoed", "RFC 7692 7.2",
                   [(BINARY, (os.urandom(256) * 256))])  # fmt: skip
deflated_echo_case("12.1.3", "a compressed message in three fragments (RSV1 on the first only) is echoed", "RFC 7692 6.1",
                   [(TEXT, TEXT_4K)], fragments=3)  # fmt: skip


@case("12.1.4", "an uncompressed message on a compressed connection is echoed", "RFC 7692 6")
async def plain_on_compressed(ctx: ServerContext) -> Outcome:
    conv = await compressed(ctx)
    return await echoed(ctx, conv, [conv.peer.out(TEXT, b"not compressed")], [(TEXT, b"not compressed")])


def no_context(a: Agreement) -> Outcome | None:
    if not a.server_no_context_takeover:
        return failed("server_no_context_takeover granted", f"the answer: {a.header()}", "RFC 7692 7.1.1.1")
    return None


deflated_echo_case("12.2.1", "with no context takeover on both sides, each message stands alone", "RFC 7692 7.1.1",
                   [(TEXT, TEXT_4K), (TEXT, TEXT_4K), (TEXT, TEXT_4K)],
                   offer=f"{DEFLATE}; server_no_context_takeover; client_no_context_takeover", check=no_context)  # fmt: skip


def window_10(a: Agreement) -> Outcome | None:
    if a.server_max_window_bits is None or a.server_max_window_bits > 10:
        return failed("server_max_window_bits=10 or less", f"the answer: {a.header()}", "RFC 7692 7.1.2.1")
    return None


deflated_echo_case("12.2.2", "a server that agreed to a 10-bit window compresses within it", "RFC 7692 7.1.2.1",
                   [(BINARY, RANDOM_REPEAT)], offer=f"{DEFLATE}; server_max_window_bits=10", check=window_10)  # fmt: skip


def compressed_refusal(case_id: str, title: str, rfc: str, build: Callable[[Conversation], list[Out]], codes: Sequence[int], why: str,
                       no_pong: bool = False) -> None:  # fmt: skip
    @case(case_id, title, rfc)
    async def run(ctx: ServerContext) -> Outcome:
        conv = await compressed(ctx)
        await conv.peer.send(*build(conv))
        return await refused(conv, codes, why, no_pong=no_pong)


compressed_refusal("12.3.1", "RSV1 on a continuation frame fails the connection", "RFC 7692 6.1",
                   lambda c: [c.peer.out(TEXT, deflater(c).message(b"first"), fin=False, rsv=4), c.peer.out(CONT, b"\x00", rsv=4)],
                   [1002], "RSV1 set on a continuation frame")  # fmt: skip
compressed_refusal("12.3.2", "RSV1 on a ping fails the connection", "RFC 7692 6.1",
                   lambda c: [c.peer.out(PING, b"compressed?", rsv=4)], [1002], "RSV1 set on a control frame", no_pong=True)  # fmt: skip
compressed_refusal("12.3.3", "compressed data that does not inflate fails the connection", "RFC 7692 7.2.2",
                   lambda c: [c.peer.out(BINARY, b"\xff\xff\xff\xff not deflate data", rsv=4)], [1007, 1002],
                   "a payload that is not DEFLATE data")  # fmt: skip
compressed_refusal("12.3.4", "compressed text that inflates to invalid UTF-8 fails the connection", "RFC 7692 6, RFC 6455 8.1",
                   lambda c: [c.peer.out(TEXT, deflater(c).message(b"abc\xff\xfedef"), rsv=4)], [1007], "text that is not UTF-8")  # fmt: skip


@case("12.4.1", "a compression bomb (32 MiB of zeros in about 32 KiB) is refused at the limit", "RFC 7692 8.2, RFC 6455 10.4")
async def deflate_bomb(ctx: ServerContext) -> Outcome:
    conv = await compressed(ctx)
    size = 32 << 20
    payload = bomb(size)
    await conv.peer.send(conv.peer.out(BINARY, payload, rsv=4, note=f"inflates to {size} zero bytes"))
    expected = "close 1009 when the inflated message passes the server's limit"
    event = await conv.next_message()
    if isinstance(event, Control) and event.frame.opcode == 8:
        code, _ = event.frame.close()
        await conv.answer_close()
        if code == 1009:
            return ok(expected, str(event))
        return non_strict(expected, str(event), "RFC 6455 7.4.1 names 1009 for a message too big to process")
    if isinstance(event, Message) and event.payload == bytes(size):
        await conv.goodbye()
        return informational(expected, "echoed all 32 MiB", "the server has no message limit at 32 MiB (RFC 7692 8.2 warns of this)")
    if isinstance(event, Closed):
        return non_strict(expected, f"{event} with no close frame", "RFC 6455 7.1.7: an endpoint SHOULD send a close frame")
    if isinstance(event, Silence):
        return failed(expected, str(event))
    return failed(expected, str(event))
