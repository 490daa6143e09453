"""W9: does the notebook stay responsive while the server it started is at full load?

    python benchmarks/kernel.py --server wsplay-reactive [--quick] [--duration S] [--pin]

Starts a real Jupyter kernel (ipykernel, through `jupyter_client`, as a notebook front end does),
executes a cell that starts an echo server in it, then measures the latency of executing a trivial
cell (`1+1`: from the execute request until the kernel reports idle again, which is when a notebook
shows the cell as done), first with the server idle, then while the load generator runs W1 (16
connections, 32 messages in flight each) against it. Prints one JSON line: cell latency p50/p99 in ms
idle and loaded, and the W1 result against the kernel's server (its errors count as W9's errors).

The servers, each started the way a notebook user would start it (public names only):
- `wsplay-*`: `Host.create().handler(build_example("echo", flavor)).port(0).defaults().start()`;
  the host runs on wsplay's background loop thread, so the kernel's own loop stays free (but the
  two threads share the GIL);
- `websockets`, `aiohttp`, `picows`: the same servers as benchmarks/servers.py, started with `await`
  in the cell, so they run on the kernel's own asyncio loop, between the cells it executes.

With `--pin` (run.py passes it when it pins), the kernel and every thread it starts run on CPU 0, as
a server does in the other workloads; this process and the load generator stay on CPU 1.
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
CELL_GAP = 0.01  # seconds between probe cells: a user runs cells now and then, not back to back


def wsplay_cell(flavor: str, *, no_allocate: bool = False, record: bool = True) -> tuple[str, str]:
    options = "" if record else ".record(False)"
    start = (
        "from wsplay import Host\n"
        "from wsplay.examples import build_example\n"
        f"_bench_host = Host.create().handler(build_example('echo', {flavor!r}, no_allocate={no_allocate!r}))"
        f".port(0).defaults(){options}.start()\n"
        "print(_bench_host.url)\n"
    )
    return start, "_bench_host.stop()\n"


def peer_cell(kind: str) -> tuple[str, str]:
    start = (
        f"import sys; sys.path.insert(0, {str(HERE)!r})\n"
        "import servers as _bench_servers\n"
        f"_bench_url, _bench_stop = await _bench_servers.start({kind!r})\n"
        "print(_bench_url)\n"
    )
    return start, "await _bench_stop()\n"


# server name (as in run.py) -> (cell that starts it and prints its URL, cell that stops it)
CELLS = {
    "wsplay-reactive": wsplay_cell("reactive"),
    "wsplay-reactive-norecord": wsplay_cell("reactive", record=False),
    "websockets": peer_cell("websockets"),
    "aiohttp": peer_cell("aiohttp"),
    "picows": peer_cell("picows"),
}


class Kernel:
    """A kernel started through jupyter_client, and a client that times cells."""

    def __init__(self, pin: bool) -> None:
        import zmq
        from jupyter_client import KernelManager
        from jupyter_client.kernelspec import KernelSpec, KernelSpecManager

        class ThisPython(KernelSpecManager):  # type: ignore[misc]
            """This interpreter's ipykernel, whatever "python3" kernelspec the user has installed."""

            def get_kernel_spec(self, kernel_name: str) -> KernelSpec:
                return KernelSpec(argv=[sys.executable, "-Xfrozen_modules=off", "-m", "ipykernel_launcher",
                                        "-f", "{connection_file}"], display_name="wsplay benchmark",
                                  language="python", resource_dir=str(HERE))

        self.manager = KernelManager(kernel_name="python3", kernel_spec_manager=ThisPython())
        self.manager.start_kernel()
        self.pid = self.manager.provisioner.process.pid  # type: ignore[union-attr]
        self.client = self.manager.client()
        try:
            self.client.start_channels()
            self.client.wait_for_ready(timeout=60)
            if pin:
                for task in os.listdir(f"/proc/{self.pid}/task"):  # every thread it has started so far
                    os.sched_setaffinity(int(task), {0})
        except BaseException:
            self.shutdown(now=True)  # never leave a kernel behind
            raise
        self.poller = zmq.Poller()
        self.poller.register(self.client.shell_channel.socket, zmq.POLLIN)
        self.poller.register(self.client.iopub_channel.socket, zmq.POLLIN)

    def execute(self, code: str, timeout: float = 60) -> tuple[float, str, str | None]:
        """Run `code`; return (seconds until the kernel is idle again, its stdout, an error or None).

        Seconds are counted until both the reply (shell) and the idle status (IOPub) have arrived.
        """
        import zmq

        client = self.client
        t0 = time.perf_counter()
        msg_id = client.execute(code, store_history=False)
        shell, iopub = client.shell_channel.socket, client.iopub_channel.socket
        replied = idle = False
        out: list[str] = []
        error = None
        deadline = t0 + timeout
        while not (replied and idle):
            left = deadline - time.perf_counter()
            if left <= 0:
                return time.perf_counter() - t0, "".join(out), f"no answer to {code[:40]!r} after {timeout:.0f} s"
            ready = dict(self.poller.poll(int(left * 1000) + 1))
            while shell in ready and shell.poll(0, zmq.POLLIN):
                msg = client.get_shell_msg(timeout=0)
                if msg["parent_header"].get("msg_id") == msg_id:
                    replied = True
                    if msg["content"]["status"] != "ok":
                        error = f"{msg['content'].get('ename')}: {msg['content'].get('evalue')}"
            while iopub in ready and iopub.poll(0, zmq.POLLIN):
                msg = client.get_iopub_msg(timeout=0)
                if msg["parent_header"].get("msg_id") != msg_id:
                    continue
                kind, content = msg["msg_type"], msg["content"]
                if kind == "status" and content["execution_state"] == "idle":
                    idle = True
                elif kind == "stream":
                    out.append(content["text"])
                elif kind == "execute_result":
                    out.append(content["data"].get("text/plain", ""))
        return time.perf_counter() - t0, "".join(out), error

    def probe(self, until: threading.Event | float, errors: list[str]) -> list[float]:
        """Time `1+1` cells, CELL_GAP apart, until the event is set or for that many seconds."""
        samples = []
        end = time.perf_counter() + until if isinstance(until, float) else None
        while not (until.is_set() if isinstance(until, threading.Event) else time.perf_counter() >= end):  # type: ignore[operator]
            seconds, out, error = self.execute("1+1", timeout=30)
            if error or out.strip() != "2":
                errors.append(error or f"1+1 gave {out!r}")
                break
            samples.append(seconds)
            time.sleep(CELL_GAP)
        return samples

    def shutdown(self, now: bool = False) -> None:
        self.client.stop_channels()
        self.manager.shutdown_kernel(now=now)


def percentiles(samples: list[float], prefix: str) -> dict:
    if not samples:
        return {}
    s = sorted(samples)
    return {f"{prefix}cells": len(s), f"{prefix}p50_ms": round(s[len(s) // 2] * 1000, 2),
            f"{prefix}p99_ms": round(s[min(len(s) - 1, int(len(s) * 0.99))] * 1000, 2),
            f"{prefix}mean_ms": round(statistics.fmean(s) * 1000, 2)}


def loaded(kernel: Kernel, url: str, duration: float, pin: bool, errors: list[str]) -> tuple[list[float], dict]:
    """Run W1 against the kernel's server and probe cells while its clock runs."""
    command = [sys.executable, str(HERE / "loadgen.py"), "--url", url, "--workloads", "W1", "--marks",
               "--server-pid", str(kernel.pid), "--duration", str(duration)]
    if pin:
        command = ["taskset", "-c", "1", *command]
    gen = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines: queue.Queue[str] = queue.Queue()
    started, stopped = threading.Event(), threading.Event()

    def read() -> None:
        for line in gen.stdout:  # type: ignore[union-attr]
            if line.startswith("# clock started"):
                started.set()
            elif line.startswith("# clock stopped"):
                stopped.set()
            else:
                lines.put(line)
        started.set()
        stopped.set()  # the generator ended (or failed) without its marks

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    samples: list[float] = []
    try:
        if started.wait(60) and not stopped.is_set():
            samples = kernel.probe(stopped, errors)
    finally:  # the generator ends by itself after its duration; wait for it (stop it if it hangs)
        try:
            gen.wait(120)
        except subprocess.TimeoutExpired:
            gen.kill()
            gen.wait()
            errors.append("load generator did not finish in 120 s")
    reader.join(5)
    result_lines = [line for line in iter_queue(lines) if line.startswith("{")]
    if not result_lines:
        errors.append(f"load generator failed: {gen.stderr.read()[-300:] if gen.stderr else ''}")
        return samples, {}
    return samples, json.loads(result_lines[-1])


def iter_queue(q: queue.Queue[str]) -> list[str]:
    items = []
    while True:
        try:
            items.append(q.get_nowait())
        except queue.Empty:
            return items


def measure(server: str, duration: float, idle_seconds: float, pin: bool) -> dict:
    start, stop = CELLS[server]
    errors: list[str] = []
    result: dict = {"workload": "W9"}
    kernel = Kernel(pin)
    try:
        seconds, out, error = kernel.execute(start)
        url = out.strip().splitlines()[-1] if out.strip() else ""
        if error or not url.startswith("ws://"):
            errors.append(f"the start cell failed: {error or out[-300:]!r}")
        else:
            result["start_cell_ms"] = round(seconds * 1000, 1)
            kernel.probe(0.2, errors)  # warm-up
            result.update(percentiles(kernel.probe(idle_seconds, errors), "idle_"))
            samples, w1 = loaded(kernel, url, duration, pin, errors)
            result.update(percentiles(samples, ""))
            for key in ("messages_per_s", "messages_per_server_cpu_s", "server_cpu", "loadgen_cpu"):
                if key in w1:
                    result[key] = w1[key]
            result["mismatches"] = w1.get("mismatches", 0)
            if w1.get("errors"):
                errors.append(f"W1 against the kernel's server: {w1.get('first_error')}")
            if not samples and not errors:
                errors.append("no cell completed while the load ran")
            _, _, error = kernel.execute(stop)
            if error:
                errors.append(f"the stop cell failed: {error}")
    finally:
        kernel.shutdown()
    result["errors"] = len(errors)
    result.setdefault("mismatches", 0)
    if errors:
        result["first_error"] = errors[0]
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--server", required=True, choices=sorted(CELLS))
    parser.add_argument("--duration", type=float, help="seconds of W1 load (default 5; --quick 1)")
    parser.add_argument("--quick", action="store_true", help="short: a smoke run")
    parser.add_argument("--pin", action="store_true", help="kernel on CPU 0, this process and the load generator on CPU 1")
    args = parser.parse_args(argv)
    duration = args.duration or (1.0 if args.quick else 5.0)
    result = measure(args.server, duration, 0.5 if args.quick else 1.5, args.pin)
    print(json.dumps(result), flush=True)
    return 1 if result["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
