"""The benchmark's other servers, each run as its own process; the first stdout line is the ws:// URL.

    python benchmarks/servers.py websockets [--port 0]   the baseline: websockets' asyncio server
    python benchmarks/servers.py reference  [--port 0]   the load generator's ceiling (not a WebSocket server)

The reference server does no WebSocket work at all: it answers the handshake, then for every whole
client message's worth of bytes received it sends the precomputed echo bytes of that message (it
knows the workload from the request path the load generator uses). It costs about one `recv` and one
`send` per batch, so what the load generator achieves against it is the generator's own ceiling.
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

from loadgen import CLOSE_1000, ring_for  # this directory is on sys.path when run as a script


def _raise_fd_limit() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


# -- websockets ---------------------------------------------------------------------------------------


async def websockets_main(port: int) -> None:
    from websockets.asyncio.server import serve

    async def echo(ws):  # type: ignore[no-untyped-def]
        async for message in ws:
            await ws.send(message)

    stop = asyncio.get_running_loop().create_future()
    for sig in (signal.SIGINT, signal.SIGTERM):
        asyncio.get_running_loop().add_signal_handler(sig, lambda: stop.done() or stop.set_result(None))
    async with serve(echo, "127.0.0.1", port, compression=None, max_size=16 * 2**20) as server:
        bound = server.sockets[0].getsockname()[1]
        print(f"ws://127.0.0.1:{bound}/", flush=True)
        await stop


# -- reference (load generator ceiling) -------------------------------------------------------------------


class Reference(asyncio.Protocol):
    rings: dict[str, object] = {}

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport
        transport.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.head = b""
        self.ring = None
        self.received = 0  # bytes of client messages
        self.answered = 0  # messages echoed
        self.closing = False

    def data_received(self, data: bytes) -> None:
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
            if workload not in self.rings:
                self.rings[workload] = ring_for(workload)
            self.ring = self.rings[workload]
            self.first = int(first or 0)
            self.transport.write(
                b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                + f"Sec-WebSocket-Accept: {accept}\r\n\r\n".encode()
            )
            data = self.head[end + 4 :]
            if not data:
                return
        ring = self.ring
        self.received += len(data)
        whole = self.received // ring.clen
        if whole > self.answered:
            n, first = whole - self.answered, self.first + self.answered
            while n:  # client and server rings hold the same messages in the same order
                i = first % ring.count
                k = min(n, ring.count - i)
                self.transport.write(ring.server2[i * ring.slen : (i + k) * ring.slen])
                first += k
                n -= k
            self.answered = whole
        # The load generator's close frame (8 bytes) leaves a remainder that is not a message.
        if self.received - whole * ring.clen == 8 and data.endswith(CLOSE_1000) and not self.closing:
            self.closing = True
            self.transport.write(b"\x88\x02\x03\xe8")
            self.transport.close()


async def reference_main(port: int) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(Reference, "127.0.0.1", port, backlog=4096)
    stop = loop.create_future()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, lambda: stop.done() or stop.set_result(None))
    print(f"ws://127.0.0.1:{server.sockets[0].getsockname()[1]}/", flush=True)
    await stop
    server.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("kind", choices=["websockets", "reference"])
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    _raise_fd_limit()
    if args.kind == "websockets":
        asyncio.run(websockets_main(args.port))
    else:
        asyncio.run(reference_main(args.port))
    return 0


if __name__ == "__main__":
    sys.exit(main())
