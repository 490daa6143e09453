"""Random and mutated bytes after a valid handshake, on many connections at once, against a real echo host.

For FUZZ_SECONDS, FUZZ_WORKERS tasks on a loop of their own keep opening connections, each sending one
helping of garbage (pure random bytes, or valid masked frames with bits flipped, cut short, repeated,
spliced and unmasked) in random chunks. Each connection must end with the server's close frame (its
code is collected) or with the TCP connection dropped; one that goes silent is sent EOF and must then
be dropped. Meanwhile a `websockets` client on the same endpoint echoes random messages, every one
checked byte for byte. The seed is printed, so a failure can be replayed with WSPLAY_FUZZ_SEED.
"""

from __future__ import annotations

import asyncio
import collections
import os
import random
import struct
import time


FUZZ_SECONDS = 10.0
FUZZ_WORKERS = 40
SERVER_CODES = {1002, 1007, 1009}  # what the server itself may fail a connection with


def valid_frames(rng: random.Random, mask_frame) -> bytes:
    """A few well-formed masked frames: text (multi-byte UTF-8), binary, fragments, pings, a close."""
    out = []
    for _ in range(rng.randint(1, 5)):
        kind = rng.random()
        if kind < 0.3:
            out.append(mask_frame(1, "".join(rng.choice("ab€😀é") for _ in range(rng.randint(0, 80))).encode(), mask=rng.randbytes(4)))
        elif kind < 0.55:
            out.append(mask_frame(2, rng.randbytes(rng.choice([0, 3, 125, 126, 300, 70000])), mask=rng.randbytes(4)))
        elif kind < 0.75:
            text = "€".encode() * rng.randint(1, 30)
            cut = rng.randint(0, len(text))
            out.append(mask_frame(1, text[:cut], fin=False, mask=rng.randbytes(4)))
            out.append(mask_frame(9, rng.randbytes(rng.randint(0, 125)), mask=rng.randbytes(4)))
            out.append(mask_frame(0, text[cut:], mask=rng.randbytes(4)))
        elif kind < 0.9:
            out.append(mask_frame(rng.choice([9, 10]), rng.randbytes(rng.randint(0, 125)), mask=rng.randbytes(4)))
        else:
            code = rng.choice([1000, 1001, 1003, 3000, 4999, 999, 1005, 1016, 5000])
            out.append(mask_frame(8, struct.pack("!H", code) + b"bye", mask=rng.randbytes(4)))
    return b"".join(out)


def garbage(rng: random.Random, mask_frame) -> tuple[str, bytes]:
    """One helping of hostile bytes and the name of how it was made."""
    if rng.random() < 0.15:
        return "random", rng.randbytes(rng.randint(1, 3000))
    data = bytearray(valid_frames(rng, mask_frame))
    names = []
    for _ in range(rng.randint(1, 4)):
        if not data:
            break
        kind = rng.choice(["flip", "flip", "truncate", "duplicate", "insert", "unmask", "length"])
        names.append(kind)
        i = rng.randrange(len(data))
        if kind == "flip":
            data[i] ^= 1 << rng.randrange(8)
        elif kind == "truncate":
            del data[i:]
        elif kind == "duplicate":
            j = rng.randint(i, len(data))
            data[j:j] = data[i:j]
        elif kind == "insert":
            data[i:i] = rng.randbytes(rng.randint(1, 16))
        elif kind == "unmask":
            if len(data) > 1:
                data[1] &= 0x7F
        else:  # declare a huge 64-bit length on the first frame
            data[1:2] = bytes([0x80 | 127]) + struct.pack("!Q", rng.randint(1 << 20, (1 << 63) - 1))
    return "+".join(names) or "valid", bytes(data)


async def one_connection(port: int, rng: random.Random, rel, outcomes: collections.Counter, problems: list[str]) -> None:
    unit = rel.UNIT
    reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), 3 * unit)
    try:
        writer.write(rel.upgrade_request(port))
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 3 * unit)
        if b" 101 " not in head.split(b"\r\n", 1)[0]:
            problems.append(f"handshake refused: {head[:80]!r}")
            return
        how, data = garbage(rng, rel.mask_frame)
        try:
            pos = 0
            while pos < len(data) and not writer.transport.is_closing():
                step = rng.choice([1, 2, 7, 64, 1000, len(data)])
                writer.write(data[pos : pos + step])
                pos += step
                if rng.random() < 0.2:
                    await asyncio.sleep(0)
            await writer.drain()
        except (ConnectionError, OSError):
            pass  # the server may have dropped us mid-send; what it sent first is read below
        received = b""
        eof_sent = False
        deadline = time.monotonic() + 4 * unit
        code = None
        while True:
            wait = 0.3 * unit if not eof_sent else deadline - time.monotonic()
            try:
                chunk = await asyncio.wait_for(reader.read(65536), max(wait, 0.01))
            except asyncio.TimeoutError:
                if time.monotonic() >= deadline:
                    problems.append(f"no close and no drop within {4 * unit} s after {how}")
                    return
                if not eof_sent:
                    # Silence: the bytes left a frame incomplete (or were harmless). Hang up our side;
                    # the server must then drop the connection.
                    try:
                        writer.write_eof()
                    except (ConnectionError, OSError):
                        pass
                    eof_sent = True
                continue
            except (ConnectionError, OSError):
                chunk = b""
            if not chunk:
                outcomes["drop after our EOF" if eof_sent else "drop"] += 1
                return
            received += chunk
            frames, _ = rel.parse_server_frames(received)
            for b0, opcode, masked, payload in frames:
                if masked or b0 & 0x70 or opcode not in (1, 2, 8, 9, 10):
                    problems.append(f"malformed frame from the server: {b0:#x} masked={masked}")
            closes = [f for f in frames if f[1] == 8]
            if closes:
                code = rel.close_code_of(closes[0][3])
                outcomes[code if code is not None else "close without code"] += 1
                if code is not None and not (code in SERVER_CODES or 1000 <= code < 5000 and code not in (1011, 1006)):
                    problems.append(f"close code {code} after {how}")
                return
    finally:
        writer.transport.abort()


async def fuzz(port: int, seed: int, rel, seconds: float, outcomes, problems) -> int:
    stop = time.monotonic() + seconds
    count = 0

    async def worker(n: int) -> None:
        nonlocal count
        rng = random.Random(seed * 1000 + n)
        while time.monotonic() < stop:
            count += 1
            try:
                await one_connection(port, rng, rel, outcomes, problems)
            except (asyncio.TimeoutError, ConnectionError, OSError, asyncio.IncompleteReadError) as exc:
                problems.append(f"connection failed before the fuzz bytes: {exc!r}")
            except Exception as exc:  # a bug in this test: report it, keep the other workers going
                problems.append(f"fuzz client error: {exc!r}")

    await asyncio.gather(*(worker(n) for n in range(FUZZ_WORKERS)))
    return count


def test_mutated_bytes_on_many_connections_never_hurt_the_server(hosts, rel, async_thread, loop_errors) -> None:
    unit = rel.UNIT
    seed = int(os.environ.get("WSPLAY_FUZZ_SEED", random.randrange(1 << 30)))
    print(f"fuzz seed {seed} (replay with WSPLAY_FUZZ_SEED={seed})")
    host = hosts(rel.echo_builder().max_message_size(256 * 1024))
    port = host.bound_port
    outcomes: collections.Counter = collections.Counter()
    problems: list[str] = []
    future = asyncio.run_coroutine_threadsafe(fuzz(port, seed, rel, FUZZ_SECONDS * unit, outcomes, problems), async_thread.loop)

    rng = random.Random(seed)
    echoes = 0
    with rel.ws_client(host.url, max_size=None) as healthy:
        while not future.done():
            echoes += rel.check_echo(healthy, rng)
        connections = future.result(10 * unit)
        echoes += rel.check_echo(healthy, rng, rounds=20)  # and still fine afterwards
        print(f"{connections} fuzzed connections; outcomes {dict(outcomes)}; {echoes} healthy echoes, all intact")
        assert not problems, problems[:10]
        assert connections > 100, "the fuzz hardly ran"
        assert sum(outcomes.values()) == connections
        assert rel.wait_for(lambda: len(host.connections) == 1, 5 * unit), host.connections
    assert host.running
    assert host.errors == [], host.errors  # bad input never reaches a handler as an exception
    assert not loop_errors, loop_errors[:3]
    assert rel.wait_for(lambda: not host.connections and not host.server.handshaking, 5 * unit)
    # Each code the server fails a connection with is one RFC 6455 assigns to bad input.
    assert {1002}.issubset(outcomes), outcomes
    for code in (c for c in outcomes if isinstance(c, int) and c not in SERVER_CODES):
        assert 1000 <= code < 5000
