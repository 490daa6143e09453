"""The benchmark's other servers, each run as its own process; the first stdout line is the ws:// URL.

    python benchmarks/servers.py websockets [--chat] [--compress] [--port 0]   the baseline: websockets' asyncio server
    python benchmarks/servers.py aiohttp    [--chat] [--compress]              aiohttp's web server, WebSocketResponse
    python benchmarks/servers.py picows     [--chat] [--uvloop]                picows (Cython), on asyncio's loop or uvloop
    python benchmarks/servers.py reference  [--port 0]                         the load generator's ceiling (not a WebSocket server)

Every peer runs the way its documentation shows, compression off (the benchmark measures WebSocket
work, not zlib), 16 MiB message limit; with `--compress` (W7 only) permessage-deflate is on with the
peer's own default settings: websockets' `compression="deflate"` (its default: 12-bit windows both
ways, memLevel 5), aiohttp's `compress=True` (15 bits; it compresses a message over 4 KiB on its
thread pool). picows has no permessage-deflate. The echo sends every message back whole (a fragmented
message comes back merged, as wsplay's echo and websockets do). `--chat` serves the seed's chat
instead (W8): every text message is written to every connected client, the sender included, as
"[n]: text", n being the sender's place in the list of clients in the order they connected:
websockets with its `broadcast()`, aiohttp and picows with a plain loop over their connections.

The reference server does no WebSocket work at all: it answers the handshake, then for every whole
client message's worth of bytes received it sends the precomputed echo bytes of that message (it
knows the workload from the request path the load generator uses; for W8 it writes them to every
connection). It costs about one `recv` and one `send` per batch, so what the load generator achieves
against it is the generator's own ceiling. For W7 it accepts permessage-deflate (15-bit windows, context
takeover) and sends each compressed client frame back unmasked, as it came: the client's compressed
stream is then the server's too, so the load generator inflates and checks every echo as it would a
real server's, and no compression is done on this side.

`start(kind, chat=..., port=..., compress=...)` starts a server on the running loop and returns its URL and a
coroutine function that stops it: benchmarks/kernel.py uses it to run a peer on a Jupyter kernel's loop.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import resource
import signal
import socket
import sys
import threading
from collections.abc import Awaitable, Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # loadgen, when imported from a kernel
from loadgen import CLOSE_1000, header, parse_frame, ring_for  # noqa: E402

KINDS = ("websockets", "aiohttp", "picows", "reference")
MAX_SIZE = 16 * 2**20
Stop = Callable[[], Awaitable[None]]


def _raise_fd_limit() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


# -- websockets ---------------------------------------------------------------------------------------


async def start_websockets(port: int, chat: bool, compress: bool) -> tuple[str, Stop]:
    from websockets.asyncio.server import broadcast, serve

    clients: list = []

    async def echo(ws):  # type: ignore[no-untyped-def]
        async for message in ws:
            await ws.send(message)

    async def chat_handler(ws):  # type: ignore[no-untyped-def]
        clients.append(ws)
        try:
            async for message in ws:
                broadcast(clients, f"[{clients.index(ws)}]: {message}")
        finally:
            clients.remove(ws)

    server = await serve(chat_handler if chat else echo, "127.0.0.1", port,
                         compression="deflate" if compress else None, max_size=MAX_SIZE)

    async def stop() -> None:
        server.close()
        await server.wait_closed()

    return f"ws://127.0.0.1:{server.sockets[0].getsockname()[1]}/", stop


# -- aiohttp ------------------------------------------------------------------------------------------


async def start_aiohttp(port: int, chat: bool, compress: bool) -> tuple[str, Stop]:
    from aiohttp import WSMsgType, web

    clients: list[web.WebSocketResponse] = []

    async def handler(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(compress=compress, max_msg_size=MAX_SIZE)
        await ws.prepare(request)
        if chat:
            clients.append(ws)
        try:
            async for msg in ws:
                if chat:
                    if msg.type is WSMsgType.TEXT:
                        text = f"[{clients.index(ws)}]: {msg.data}"
                        for client in list(clients):
                            try:
                                await client.send_str(text)
                            except ConnectionError:
                                pass  # that client is leaving; its own handler removes it
                elif msg.type is WSMsgType.TEXT:
                    await ws.send_str(msg.data)
                elif msg.type is WSMsgType.BINARY:
                    await ws.send_bytes(msg.data)
        finally:
            if chat:
                clients.remove(ws)
        return ws

    app = web.Application()
    app.router.add_get("/{tail:.*}", handler)
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", port, backlog=4096)
    await site.start()
    bound = runner.addresses[0][1]

    async def stop() -> None:
        await runner.cleanup()

    return f"ws://127.0.0.1:{bound}/", stop


# -- picows -------------------------------------------------------------------------------------------


async def start_picows(port: int, chat: bool, compress: bool) -> tuple[str, Stop]:
    from picows import WSListener, WSMsgType, ws_create_server

    if compress:
        raise ValueError("picows has no permessage-deflate")

    clients: list = []

    class Echo(WSListener):  # type: ignore[misc]
        """picows hands over frames, not messages: a fragmented message is merged here."""

        def __init__(self) -> None:
            self.parts: bytearray | None = None
            self.kind = WSMsgType.BINARY

        def on_ws_frame(self, transport, frame) -> None:  # type: ignore[no-untyped-def]
            kind = frame.msg_type
            if kind is WSMsgType.TEXT or kind is WSMsgType.BINARY:
                if frame.fin:
                    transport.send(kind, frame.get_payload_as_memoryview())
                else:
                    self.kind, self.parts = kind, bytearray(frame.get_payload_as_memoryview())
            elif kind is WSMsgType.CONTINUATION and self.parts is not None:
                self.parts += frame.get_payload_as_memoryview()
                if frame.fin:
                    transport.send(self.kind, self.parts)
                    self.parts = None
            elif kind is WSMsgType.CLOSE:
                transport.send_close(frame.get_close_code(), frame.get_close_message())
                transport.disconnect()

    class Chat(WSListener):  # type: ignore[misc]
        def on_ws_connected(self, transport) -> None:  # type: ignore[no-untyped-def]
            clients.append(transport)

        def on_ws_frame(self, transport, frame) -> None:  # type: ignore[no-untyped-def]
            kind = frame.msg_type
            if kind is WSMsgType.TEXT:
                data = b"[%d]: " % clients.index(transport) + frame.get_payload_as_bytes()
                for client in clients:
                    client.send(WSMsgType.TEXT, data)
            elif kind is WSMsgType.CLOSE:
                transport.send_close(frame.get_close_code(), frame.get_close_message())
                transport.disconnect()

        def on_ws_disconnected(self, transport) -> None:  # type: ignore[no-untyped-def]
            clients.remove(transport)

    listener = Chat if chat else Echo
    server = await ws_create_server(lambda request: listener(), "127.0.0.1", port,
                                    max_frame_size=MAX_SIZE, backlog=4096)

    async def stop() -> None:
        server.close()
        await server.wait_closed()

    return f"ws://127.0.0.1:{server.sockets[0].getsockname()[1]}/", stop


# -- reference (load generator ceiling) -------------------------------------------------------------------


class Reference(asyncio.Protocol):
    rings: dict[str, object] = {}
    members: list[Reference] = []  # W8: every connection gets every message

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport
        transport.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.head = b""
        self.ring = None
        self.received = 0  # bytes of client messages
        self.answered = 0  # messages echoed
        self.closing = False
        self.broadcast = False
        self.reflecting = False  # W7, after the handshake

    def data_received(self, data: bytes) -> None:
        if self.reflecting:
            return self._reflect(data)
        if self.ring is None:
            self.head += data
            end = self.head.find(b"\r\n\r\n")
            if end < 0:
                return

            head = self.head[:end].decode("latin-1")
            # The load generator asks for /<workload>/<index of its first message in the ring>.
            workload, _, first = head.split(" ", 2)[1].strip("/").partition("/")
            key = next(line.split(":", 1)[1].strip() for line in head.split("\r\n") if line.lower().startswith("sec-websocket-key"))
            accept = base64.b64encode(hashlib.sha1((key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").encode()).digest()).decode()
            reflect = workload == "W7"
            if workload not in self.rings:
                self.rings[workload] = b"" if reflect else ring_for(workload)
            self.ring = self.rings[workload]
            self.broadcast = workload == "W8"
            self.first = 0 if self.broadcast else int(first or 0)  # W8's sender always starts at 0
            if self.broadcast:
                self.members.append(self)
            self.transport.write(
                b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                + (b"Sec-WebSocket-Extensions: permessage-deflate\r\n" if reflect else b"")
                + f"Sec-WebSocket-Accept: {accept}\r\n\r\n".encode()
            )
            data = self.head[end + 4 :]
            if reflect:
                self.head, self.reflecting = b"", True
            if not data:
                return
            if reflect:
                return self._reflect(data)
        ring = self.ring
        self.received += len(data)
        whole = self.received // ring.clen
        if whole > self.answered:
            n, first = whole - self.answered, self.first + self.answered
            while n:  # client and server rings hold the same messages in the same order
                i = first % ring.count
                k = min(n, ring.count - i)
                chunk = ring.server2[i * ring.slen : (i + k) * ring.slen]
                for member in self.members if self.broadcast else (self,):
                    member.transport.write(chunk)
                first += k
                n -= k
            self.answered = whole
        # The load generator's close frame (8 bytes) leaves a remainder that is not a message.
        if self.received - whole * ring.clen == 8 and data.endswith(CLOSE_1000) and not self.closing:
            self.closing = True
            if self.broadcast:
                self.members.remove(self)
            self.transport.write(b"\x88\x02\x03\xe8")
            self.transport.close()

    def _reflect(self, data: bytes) -> None:
        """W7: send every client frame back unmasked, RSV1 (compressed) and all; answer a close."""
        self.head += data
        pos, out = 0, []
        while (found := parse_frame(self.head, pos)) is not None:
            opcode, _, payload, end = found
            if opcode == 8:
                self.transport.write(b"".join(out) + b"\x88\x02\x03\xe8")
                self.transport.close()
                return
            b0 = self.head[pos]
            out.append(header(b0 & 0x7F, len(payload), bool(b0 & 0x80)) + payload)
            pos = end
        self.head = self.head[pos:]
        if out:
            self.transport.write(b"".join(out))

    def connection_lost(self, exc: Exception | None) -> None:
        if self.broadcast and self in self.members:
            self.members.remove(self)


async def start_reference(port: int, chat: bool, compress: bool) -> tuple[str, Stop]:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(Reference, "127.0.0.1", port, backlog=4096)

    async def stop() -> None:
        server.close()

    return f"ws://127.0.0.1:{server.sockets[0].getsockname()[1]}/", stop


async def start(kind: str, chat: bool = False, port: int = 0, compress: bool = False) -> tuple[str, Stop]:
    """Start a `kind` server (echo, or the chat with `chat`; `compress`: permessage-deflate on) on the
    running loop: (URL, stop). The reference server ignores `compress` (W7's path tells it)."""
    starters = {"websockets": start_websockets, "aiohttp": start_aiohttp, "picows": start_picows,
                "reference": start_reference}
    return await starters[kind](port, chat, compress)


async def serve_until_signalled(kind: str, chat: bool, port: int, compress: bool) -> None:
    loop = asyncio.get_running_loop()
    stopping = loop.create_future()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, lambda: stopping.done() or stopping.set_result(None))
    url, stop = await start(kind, chat, port, compress)
    print(url, flush=True)
    await stopping
    await stop()


def until_signalled(url: str) -> None:
    """For a server on a thread of its own (a wsplay host): print its URL, block until SIGINT or SIGTERM."""
    stopping = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stopping.set())
    print(url, flush=True)
    while not stopping.wait(0.5):  # a timed wait keeps the main thread responsive to signals
        pass


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("kind", choices=KINDS)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--chat", action="store_true", help="serve the chat (W8) instead of the echo")
    parser.add_argument("--uvloop", action="store_true", help="run on uvloop instead of asyncio's own loop")
    parser.add_argument("--compress", action="store_true", help="permessage-deflate on, the peer's defaults (W7)")
    args = parser.parse_args()
    _raise_fd_limit()
    main_coroutine = serve_until_signalled(args.kind, args.chat, args.port, args.compress)
    if args.uvloop:
        import uvloop

        uvloop.run(main_coroutine)
    else:
        asyncio.run(main_coroutine)
    return 0


if __name__ == "__main__":
    sys.exit(main())
