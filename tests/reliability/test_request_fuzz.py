"""Mutated upgrade requests: every one gets an HTTP answer (or 101), and nothing escapes into the loop.

Headers are duplicated, dropped, corrupted byte by byte, upper-cased, padded past the size limit,
and the request line swapped for odd ones. Each connection must get a status line back; the loop's
exception handler must stay silent (an exception escaping a protocol callback drops the client
without an answer).
"""

from __future__ import annotations

import collections
import os
import random
import socket

REQUESTS = 1500
ODD_LINES = [
    "Origin: null", "Origin: http://x", "Origin:", "Host:", "Sec-WebSocket-Protocol: a, b,,",
    'Sec-WebSocket-Extensions: permessage-deflate; x="', "Connection: keep-alive, Upgrade",
    "Upgrade: websocket, h2c", "Transfer-Encoding: chunked", "Content-Length: 5", "X: \x00\x01",
    "Sec-WebSocket-Version: 13, 8",
]
REQUEST_LINES = [
    "GET /?a=%ff HTTP/1.1", "GET http://x/ HTTP/1.1", "GET * HTTP/1.1", "POST / HTTP/1.1", "GET / HTTP/1.0",
    "GET / HTTP/2.0", "GET  / HTTP/1.1", "get / HTTP/1.1", "GET /\x00 HTTP/1.1", "GET / HTTP/1.1 x",
]


def mutate(rng: random.Random, lines: list[str]) -> list[str]:
    lines = list(lines)
    for _ in range(rng.randint(1, 3)):
        j = rng.randrange(len(lines))
        k = rng.random()
        if k < 0.2:
            lines.insert(j, lines[j])  # a duplicate header (Host, Origin, the key ...)
        elif k < 0.35 and len(lines) > 1:
            del lines[j]
        elif k < 0.5 and lines[j]:
            b = bytearray(lines[j].encode("latin-1"))
            b[rng.randrange(len(b))] = rng.randrange(256)
            lines[j] = b.decode("latin-1")
        elif k < 0.6:
            lines[j] = lines[j].encode("latin-1").upper().decode("latin-1")  # ASCII only: "ÿ".upper() is not latin-1
        elif k < 0.7:
            lines.insert(j, rng.choice(ODD_LINES))
        elif k < 0.8:
            lines[j] += rng.choice([" ", "\t", "\r", ";", "\x7f", "é"])
        elif k < 0.9:
            lines[0] = rng.choice(REQUEST_LINES)
        else:
            lines.insert(max(j, 1), "X-" + "a" * rng.randint(1, 9000) + ": v")
    return lines


def test_mutated_upgrade_requests_always_get_an_http_answer(hosts, rel, loop_errors) -> None:
    unit = rel.UNIT
    host = hosts(configure=lambda h: h.handshake_timeout(1 * unit).max_request_size(8 * 1024))
    port = host.bound_port
    seed = int(os.environ.get("WSPLAY_FUZZ_SEED", random.randrange(1 << 30)))
    rng = random.Random(seed)
    base = rel.upgrade_request(port, origin="http://localhost:1").decode("latin-1").split("\r\n")[:-2]
    statuses: collections.Counter = collections.Counter()
    for _ in range(REQUESTS):
        request = ("\r\n".join(mutate(rng, base)) + "\r\n\r\n").encode("latin-1")
        with socket.create_connection(("127.0.0.1", port), timeout=3 * unit) as sock:
            try:
                sock.sendall(request)
            except OSError:
                pass  # answered and closed before the whole request was sent
            answer = b""
            while b"\r\n" not in answer:
                try:
                    chunk = sock.recv(4096)
                except ConnectionResetError:
                    chunk = b""
                if not chunk:
                    break
                answer += chunk
        assert answer.startswith(b"HTTP/1.1 "), f"no HTTP answer (seed {seed}): {request[:200]!r} -> {answer!r}"
        statuses[int(answer.split(b" ", 2)[1])] += 1
    print(f"request fuzz (seed {seed}): {dict(sorted(statuses.items()))}")
    assert not loop_errors, loop_errors[:2]
    assert set(statuses) <= {101, 400, 403, 404, 405, 408, 414, 426, 431, 505}, statuses
    assert statuses[101] and statuses[400]
    assert rel.wait_for(lambda: not host.server.handshaking, 5 * unit)
