"""Soak: 1,000 concurrent connections echoing, with random abrupt disconnects, for a bounded time.

The load runs in a separate process (loadgen.py), so it has a core of its own and the memory
measured here is the server's alone. Asserted: not one echo lost or corrupted on a healthy
connection, every connection gone afterwards (no SocketConnection or transport object left alive),
and bounded memory:

- VmRSS growth over the soak, once glibc has handed freed memory back (`malloc_trim(0)`), below
  RSS_BOUND_MIB: this is what the server still holds.
- raw VmRSS growth (no trim) below RAW_RSS_BOUND_MIB: freed 64 KiB receive buffers of 1,000 connections
  stay cached in the loop thread's malloc arena (measured: ~100-160 MiB raw, ~15 MiB after the trim,
  and no further growth over repeated soaks).
"""

from __future__ import annotations

import ctypes
import gc
import json
import os
import random
import time

from wsplay.core.stream import Stream
from wsplay.engine.connection import SocketConnection
from wsplay.engine.http import HttpProtocol


def trimmed_rss_mib(rel) -> float:
    """VmRSS once glibc has returned its free heap memory to the system."""
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc: measure as it is
        pass
    return rel.rss_mib()

SOAK_SECONDS = 15.0
CONNECTIONS = 1000
RSS_BOUND_MIB = 100  # VmRSS growth over the soak after malloc_trim(0)
RAW_RSS_BOUND_MIB = 300  # VmRSS growth over the soak as it is


def test_soak_1000_connections_with_abrupt_disconnects(hosts, rel, processes) -> None:
    unit = rel.UNIT
    host = hosts(configure=lambda h: h.close_timeout(2 * unit))
    rss_before = trimmed_rss_mib(rel)
    seed = int(os.environ.get("WSPLAY_SOAK_SEED", random.randrange(1 << 20)))
    load = processes(
        "soak", host.url, "--connections", str(CONNECTIONS), "--seconds", str(SOAK_SECONDS), "--seed", str(seed)
    )
    peak_server = 0
    rss_peak = rss_before
    started = time.monotonic()
    while load.poll() is None and time.monotonic() - started < SOAK_SECONDS + 60 * unit:
        peak_server = max(peak_server, len(host.connections))
        if int(time.monotonic() - started) % 3 == 0:
            rss_peak = max(rss_peak, rel.rss_mib())
        time.sleep(0.25)
    out, err = load.communicate(timeout=30 * unit)
    assert load.returncode == 0, err[-3000:]
    result = json.loads(out.strip().splitlines()[-1])
    stats = result["stats"]
    assert rel.wait_for(lambda: not host.connections, 10 * unit), f"{len(host.connections)} connections left"
    assert rel.wait_for(lambda: not host.server.handshaking, 5 * unit)
    rss_after = rel.rss_mib()
    rss_trimmed = trimmed_rss_mib(rel)

    def alive_objects() -> list:
        gc.collect()
        return [o for o in gc.get_objects() if isinstance(o, (SocketConnection, Stream, HttpProtocol))]

    # A connection accepted in the last instant exists before connection_made registers it: give the
    # loop a moment to finish it before counting what is left.
    rel.wait_for(lambda: not alive_objects(), 5 * unit)
    alive = alive_objects()
    closes = host.recorder.events("close")
    print(
        f"soak (seed {seed}): {stats.get('echoes', 0)} echoes ({stats.get('echo_bytes', 0) / 2**20:.0f} MiB), "
        f"{stats.get('connections', 0)} connections, vanished abort/rst/half-frame "
        f"{stats.get('vanished_abort', 0)}/{stats.get('vanished_rst', 0)}/{stats.get('vanished_half-frame', 0)}, "
        f"peak open {result['peak_open']} (server saw {peak_server}), {result['elapsed']:.1f} s; "
        f"RSS {rss_before:.1f} -> peak {rss_peak:.1f} -> after {rss_after:.1f} (trimmed {rss_trimmed:.1f}) MiB"
    )
    assert result["failure_count"] == 0, result["failures"]
    assert stats.get("lost", 0) == 0 and stats.get("corrupted", 0) == 0
    assert stats.get("echoes", 0) > 10_000
    assert result["peak_open"] >= CONNECTIONS * 0.95 and peak_server >= CONNECTIONS * 0.9
    assert sum(stats.get(f"vanished_{how}", 0) for how in ("abort", "rst", "half-frame")) > 100
    assert stats.get("healthy_close_other", 0) == 0
    assert host.errors == []
    assert closes  # recorded, bounded by the recorder's size
    # Not one: a refused handshake once kept its connection alive until the next refusal (through a
    # traceback on the shared handshake object), which only showed after a full test session.
    assert not alive, f"{len(alive)} connection objects still alive: {alive[:3]}"
    assert rss_trimmed - rss_before < RSS_BOUND_MIB, (rss_before, rss_trimmed)
    assert rss_after - rss_before < RAW_RSS_BOUND_MIB, (rss_before, rss_after)
