"""What a server case works with: the target, connections with hand-built requests, a judged 101.

Each case opens its own connections with the suite's own client (hand-built requests and frames,
`wire.Peer`), so what it sends is exactly what the case is about and what it judges is exactly what
came back.
"""

from __future__ import annotations

import asyncio
import ssl as ssl_module
import urllib.parse
from collections.abc import Mapping, Sequence

from wsplay.check.compress import NAME as DEFLATE
from wsplay.check.compress import Agreement, parse_extensions
from wsplay.check.judge import Conversation, Stop
from wsplay.check.report import failed
from wsplay.check.wire import HttpHead, Peer, Trace, accept_key, new_key

__all__ = ["ServerContext", "Target", "check_101"]


class Target:
    """Where the server is: host, port, the request target, TLS."""

    def __init__(self, url: str) -> None:
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("ws", "wss") or not parts.hostname:
            raise ValueError(f"check.server() needs a ws:// or wss:// URL, not {url!r}")
        self.url = url
        self.secure = parts.scheme == "wss"
        self.host = parts.hostname
        self.port = parts.port or (443 if self.secure else 80)
        self.path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        default = 443 if self.secure else 80
        name = f"[{self.host}]" if ":" in self.host else self.host
        self.netloc = name if self.port == default else f"{name}:{self.port}"


def check_101(head: HttpHead, key: str, offered_extensions: str | None = None, offered_protocols: Sequence[str] = ()) -> tuple[str, str] | Agreement | None:
    """Judge a server's answer to an upgrade as a strict client must (RFC 6455 4.1, RFC 7692 5 and 7.1).

    Returns:
        (what is wrong, the rule) for a bad answer; else the permessage-deflate agreement, or None.
    """
    if head.status != 101:
        return f"the server answered {head.first_line!r}, not 101 Switching Protocols", "RFC 6455 4.1"
    if "websocket" not in head.tokens("Upgrade"):
        return f"the 101 has Upgrade: {head.get('Upgrade')}", "RFC 6455 4.1: the client MUST fail unless it is 'websocket'"
    if "upgrade" not in head.tokens("Connection"):
        return f"the 101 has Connection: {head.get('Connection')}", "RFC 6455 4.1: the client MUST fail unless it has 'Upgrade'"
    got = head.get_all("Sec-WebSocket-Accept")
    if got != [accept_key(key)]:
        return f"Sec-WebSocket-Accept is {got or 'missing'}, not {accept_key(key)!r}", "RFC 6455 4.1: the client MUST fail"
    protocols = head.get_all("Sec-WebSocket-Protocol")
    if protocols and (len(protocols) > 1 or protocols[0] not in offered_protocols):
        return f"the 101 names the subprotocol {', '.join(protocols)}, which was not offered", "RFC 6455 4.1: the client MUST fail"
    answered = parse_extensions(head.get_all("Sec-WebSocket-Extensions"))
    if not answered:
        return None
    offers = parse_extensions([offered_extensions] if offered_extensions else [])
    names = [name for name, _ in answered]
    if any(name not in [o for o, _ in offers] for name in names):
        return f"the 101 answers with extensions that were not offered: {head.get('Sec-WebSocket-Extensions')}", "RFC 6455 4.1: the client MUST fail"
    if len(names) != 1 or names[0] != DEFLATE:
        return f"the 101 answers with {head.get('Sec-WebSocket-Extensions')}", "RFC 7692 5: one permessage-deflate answer at most"
    try:
        agreement = Agreement.from_params(answered[0][1])
    except ValueError as exc:
        return f"the permessage-deflate answer is invalid: {exc}", "RFC 7692 7.1"
    # What this answer may say depends on what the offers asked for (RFC 7692 7.1.1, 7.1.2).
    valid = [o for o in offers if o[0] == DEFLATE]
    asked = [dict(params) for _, params in valid]
    if agreement.client_max_window_bits is not None and not any("client_max_window_bits" in a for a in asked):
        return "the answer has client_max_window_bits, which no offer had", "RFC 7692 7.1.2.2: the client MUST fail"
    if asked and all("server_no_context_takeover" in a for a in asked) and not agreement.server_no_context_takeover:
        return "server_no_context_takeover was asked for and not granted", "RFC 7692 7.1.1.1: a server accepting the offer includes it"
    bits = [a.get("server_max_window_bits") for a in asked]
    if asked and all(b is not None for b in bits):
        limit = max(int(b) for b in bits if b is not None and b.isdigit()) if any(b and b.isdigit() for b in bits) else 15
        if agreement.server_max_window_bits is None or agreement.server_max_window_bits > limit:
            return f"server_max_window_bits={limit} was asked for; the answer says {agreement.server_max_window_bits}", "RFC 7692 7.1.2.1"
    return agreement


class ServerContext:
    """What a server case works with: connections to the target, judged handshakes, its timeouts.

    Attributes:
        wait: seconds to wait for an answer the server owes.
        quiet: seconds of silence that show the server is not going to answer.
    """

    def __init__(self, target: Target, trace: Trace, *, wait: float, quiet: float, headers: Sequence[tuple[str, str]] = (),
                 ssl: ssl_module.SSLContext | None = None, subprotocols: Sequence[str] = ()) -> None:  # fmt: skip
        self.target = target
        self.subprotocols = list(subprotocols)
        self.trace = trace
        self.wait = wait
        self.quiet = quiet
        self.headers = list(headers)
        self.ssl = ssl
        self.peers: list[Peer] = []

    def deadline(self, seconds: float | None = None) -> float:
        return asyncio.get_running_loop().time() + (self.wait if seconds is None else seconds)

    async def tcp(self) -> Peer:
        """A new TCP (or TLS) connection to the server, no handshake yet."""
        t = self.target
        context = self.ssl if self.ssl is not None else (ssl_module.create_default_context() if t.secure else None)
        reader, writer = await asyncio.open_connection(t.host, t.port, ssl=context, server_hostname=t.host if context else None)
        peer = Peer(reader, writer, self.trace, connection=len(self.peers) + 1, client=True)
        self.peers.append(peer)
        return peer

    def request(self, key: str, *, extensions: str | None = None, protocols: Sequence[str] = (), method: str = "GET", version: str = "HTTP/1.1",
                replace: Mapping[str, str | None] | None = None, extra: Sequence[tuple[str, str]] = ()) -> bytes:  # fmt: skip
        """An upgrade request, valid unless told otherwise.

        Args:
            replace: header name -> value to send instead, or None to leave that header out.
            extra: header lines added at the end (a second Sec-WebSocket-Key, say).
        """
        headers: list[tuple[str, str]] = [
            ("Host", self.target.netloc),
            ("Upgrade", "websocket"),
            ("Connection", "Upgrade"),
            ("Sec-WebSocket-Key", key),
            ("Sec-WebSocket-Version", "13"),
            *self.headers,
        ]
        if extensions:
            headers.append(("Sec-WebSocket-Extensions", extensions))
        offered = list(protocols) + [p for p in self.subprotocols if p not in protocols]
        if offered:
            headers.append(("Sec-WebSocket-Protocol", ", ".join(offered)))
        for name, value in (replace or {}).items():
            at = [i for i, (k, _) in enumerate(headers) if k.lower() == name.lower()]
            for i in reversed(at):
                del headers[i]
            if value is not None:
                headers.insert(at[0] if at else len(headers), (name, value))
        headers += list(extra)
        lines = [f"{method} {self.target.path} {version}"] + [f"{k}: {v}" for k, v in headers]
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")

    async def ask(self, peer: Peer, request: bytes, *, then: bytes = b"") -> HttpHead | None:
        """Send a request (and `then` right behind it, in the same write) and read the answer's head."""
        self.trace.note("HTTP request:\n" + request.decode("latin-1").rstrip().replace("\r\n", "\n"), "out", peer.connection)
        await peer.send_bytes(request + then, record=None)
        head = await peer.read_head(self.deadline())
        if head is None:
            self.trace.note("no HTTP answer" + (" (the connection was closed)" if peer.eof else ""), "in", peer.connection)
        else:
            self.trace.note("HTTP answer:\n" + head.raw.decode("latin-1").replace("\r\n", "\n"), "in", peer.connection)
        return head

    async def connect(self, *, extensions: str | None = None, protocols: Sequence[str] = (), then: bytes = b"") -> Conversation:
        """Open a connection and do a valid opening handshake; a refused or invalid one ends the case.

        Raises:
            Stop: FAILED, saying what was wrong with the server's answer.
        """
        peer = await self.tcp()
        key = new_key()
        head = await self.ask(peer, self.request(key, extensions=extensions, protocols=protocols), then=then)
        if head is None:
            raise Stop(failed("101 Switching Protocols", "no answer to the upgrade request" + (": the connection was closed" if peer.eof else "")))
        judged = check_101(head, key, extensions, list(protocols) + self.subprotocols)
        if isinstance(judged, tuple):
            raise Stop(failed("a valid 101 Switching Protocols", judged[0], judged[1]))
        return Conversation(peer, peer_is_client=False, agreement=judged, wait=self.wait, quiet=self.quiet)

    async def close(self) -> None:
        for peer in self.peers:
            peer.abort()
