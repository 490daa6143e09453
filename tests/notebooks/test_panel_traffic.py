"""Comm traffic of a live panel in a real kernel while 10,000 frames a second flow for 5 seconds.

jupyter_server drops IOPub messages above 1000/s; the panel promises at most ten pushes a second,
each one comm message, and bounded bytes. This starts a real kernel (jupyter_client), runs a host,
a panel and a client pumping 10,000 frames/s into the echo server (20,000 recorded frames/s), and
reads every IOPub message the kernel sends with the kernel's own timestamps.
"""

from __future__ import annotations

import datetime
import json
import time
from pathlib import Path

import pytest

DURATION = 5.0
RATE = 10_000

CODE = f"""
import asyncio, json, time
import wsplay
from wsplay import Host
from wsplay.examples import echo
from wsplay.widgets import ServerPanel
host = Host.create().handler(echo()).port(0).start()
panel = ServerPanel(host)
client = wsplay.connect(host.url, queue=False)
time.sleep(0.5)

async def pump(seconds, rate):
    loop = asyncio.get_running_loop()
    start, sent = loop.time(), 0
    while (elapsed := loop.time() - start) < seconds:
        due = int(elapsed * rate)
        while sent < due:
            await client.send(f"frame {{sent}}")
            sent += 1
        await asyncio.sleep(0.002)
    return sent, loop.time() - start

print("PANEL", panel.comm.comm_id)
t0 = time.time()
sent, took = asyncio.run_coroutine_threadsafe(pump({DURATION}, {RATE}), wsplay.runtime.get_loop()).result()
t1 = time.time()
time.sleep(3.0)  # the backlog drains and the last pushes go out
print("RESULT", json.dumps({{"sent": sent, "took": took, "t0": t0, "t1": t1, "recorded": host.recorder.recorded}}))
client.close()
host.stop()
"""


def _when(msg: dict) -> float:
    date = msg["header"]["date"]
    if isinstance(date, str):
        date = datetime.datetime.fromisoformat(date)
    return date.timestamp()


def _max_in_window(points: list[tuple[float, int]], start: float, end: float) -> tuple[int, int]:
    """The most messages, and the most bytes, in any one-second window between start and end."""
    inside = sorted(p for p in points if start <= p[0] <= end)
    best_n = best_b = 0
    lo = 0
    total = 0
    for hi, (t, size) in enumerate(inside):
        total += size
        while inside[lo][0] < t - 1.0:
            total -= inside[lo][1]
            lo += 1
        best_n, best_b = max(best_n, hi - lo + 1), max(best_b, total)
    return best_n, best_b


@pytest.mark.timeout(120)
def test_a_panel_under_10000_frames_a_second(kernel_env: Path) -> None:
    from jupyter_client.manager import start_new_kernel

    km, kc = start_new_kernel(kernel_name="python3", startup_timeout=60)
    try:
        msg_id = kc.execute(CODE)
        comm_msgs: list[tuple[float, str, int]] = []
        stdout, errors = [], []
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            msg = kc.get_iopub_msg(timeout=30)
            kind = msg["msg_type"]
            if kind == "comm_msg":
                size = len(json.dumps(msg["content"])) + sum(len(b) for b in msg.get("buffers") or [])
                comm_msgs.append((_when(msg), msg["content"]["comm_id"], size))
            elif kind == "stream":
                stdout.append(msg["content"]["text"])
            elif kind == "error":
                errors.append("\n".join(msg["content"]["traceback"]))
            elif kind == "status" and msg["parent_header"].get("msg_id") == msg_id and msg["content"]["execution_state"] == "idle":
                break
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
    assert errors == [], errors[0][-3000:]
    out = "".join(stdout)
    panel_id = out.split("PANEL ", 1)[1].split()[0]
    result = json.loads(out.split("RESULT ", 1)[1].splitlines()[0])
    assert result["sent"] >= 0.9 * RATE * DURATION, result  # the load really was 10,000 frames/s
    assert result["recorded"] >= 2 * result["sent"]  # and the echo doubled it

    mine = [(t, size) for t, comm, size in comm_msgs if comm == panel_id]
    start, end = result["t0"], result["t1"] + 3.0
    during = [(t, s) for t, s in mine if start <= t <= end]
    per_second, bytes_window = _max_in_window(mine, start, end)
    figures = {
        "frames_sent_per_s": round(result["sent"] / result["took"]),
        "panel_messages": len(during),
        "panel_messages_per_s_avg": round(len(during) / (end - start), 2),
        "panel_messages_max_in_1s": per_second,
        "panel_bytes_per_s_avg": round(sum(s for _, s in during) / (end - start)),
        "panel_bytes_max_in_1s": bytes_window,
        "other_comm_messages": len([c for c in comm_msgs if c[1] != panel_id]),
    }
    Path("artifacts").mkdir(exist_ok=True)
    Path("artifacts/panel-traffic.json").write_text(json.dumps(figures, indent=1))
    print(figures)
    assert per_second <= 10, figures  # at most ten updates a second
    # Bounded: at most 500 rows of about 100 bytes a push, ten pushes a second (and the traits).
    assert bytes_window <= 800_000, figures
