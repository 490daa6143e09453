"""Run the echo benchmark: every server in its own process, workloads in interleaved rounds.

    python benchmarks/run.py                      # 3 rounds, every server and workload (~15 min)
    python benchmarks/run.py --quick --rounds 1   # a smoke run (~1-2 min)
    python benchmarks/run.py --only W1,W3 --servers wsplay-reactive,websockets --json out.json
    python benchmarks/run.py --alloc              # also the allocation measurement (benchmarks/alloc.py)

For each round, for each workload, each server is started afresh (so one workload's heap does not
flatter the next, which matters for W6's RSS), its URL is read from its first stdout line, the load
generator runs the workload against it in another process, and the server is stopped by PID:
round 1 runs W1 on A, B, C ..., then W2 on A, B, C ...; round 2 again. With `taskset` the server is
pinned to CPU 0 and the load generator to CPU 1. The table shows medians over rounds and the ratio to
the `websockets` baseline of the same run (for latency and memory, lower is better).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import shutil
import signal
import statistics
import select
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
PY = sys.executable
WSPLAY = [PY, "-m", "wsplay", "serve", "--example", "echo", "--port", "0"]
OTHER = [PY, str(HERE / "servers.py")]

# name -> command. "reference" is not a WebSocket implementation: it is the load generator's ceiling.
# The wsplay servers run with the library's defaults (recording on; no development mode, no log line
# per connection); "-dev" is the command line's own default, with the client page and pitfall reports.
BENCH = ["--quiet", "--no-development"]
SERVERS: dict[str, list[str]] = {
    "wsplay-reactive": [*WSPLAY, *BENCH, "--flavor", "reactive"],
    "wsplay-functional": [*WSPLAY, *BENCH, "--flavor", "functional"],
    "wsplay-imperative": [*WSPLAY, *BENCH, "--flavor", "imperative"],
    "wsplay-legacy": [*WSPLAY, *BENCH, "--flavor", "legacy"],
    "wsplay-reactive-noalloc": [*WSPLAY, *BENCH, "--flavor", "reactive", "--no-allocate"],
    "wsplay-reactive-norecord": [*WSPLAY, *BENCH, "--flavor", "reactive", "--no-record"],
    "wsplay-reactive-dev": [*WSPLAY, "--flavor", "reactive"],
    # wsplay-reactive plus an open server panel (benchmarks/panel.py): what a displayed panel costs
    "wsplay-reactive-panel": [PY, str(HERE / "panel.py")],
    "websockets": [*OTHER, "websockets"],
    "reference": [*OTHER, "reference"],
}
BASELINE = "websockets"
WORKLOADS = ["W1", "W2", "W3", "W4", "W5", "W6"]

# (workload, result key, column title, higher is better)
METRICS = [
    ("W1", "messages_per_s", "W1 msg/s", True),
    ("W2", "p50_us", "W2 p50 µs", False),
    ("W2", "p99_us", "W2 p99 µs", False),
    ("W3", "MB_per_s", "W3 MB/s", True),
    ("W4", "MB_per_s", "W4 MB/s", True),
    ("W5", "connections_per_s", "W5 conn/s", True),
    ("W6", "bytes_per_connection", "W6 B/conn", False),
]


def pinned(cpu: int, command: list[str], pin: bool) -> list[str]:
    return ["taskset", "-c", str(cpu), *command] if pin else command


class Server:
    """A server process: started, its URL read from its first stdout line, stopped by PID."""

    def __init__(self, name: str, command: list[str], pin: bool, logdir: Path) -> None:
        self.name = name
        self.log = open(logdir / f"{name}.log", "ab")
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        self.proc = subprocess.Popen(
            pinned(0, command, pin), stdout=subprocess.PIPE, stderr=self.log, env=env, cwd=HERE.parent
        )  # taskset execs the server, so this PID is the server's own
        ready, _, _ = select.select([self.proc.stdout], [], [], 60)
        line = self.proc.stdout.readline().decode().strip() if ready else ""  # type: ignore[union-attr]
        if not line.startswith("ws://"):
            self.stop()
            raise RuntimeError(f"{name} did not print its URL (got {line!r}); see {self.log.name}")
        self.url = line
        # Keep draining stdout so a chatty server never blocks on a full pipe.
        self._drain = threading.Thread(target=self.proc.stdout.read, daemon=True)  # type: ignore[union-attr]
        self._drain.start()

    @property
    def pid(self) -> int:
        return self.proc.pid

    def stop(self) -> int | None:
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        if hasattr(self, "_drain"):
            self._drain.join(5)
        self.log.close()
        return self.proc.returncode


def run_loadgen(url: str, pid: int, workload: str, quick: bool, pin: bool, duration: float | None) -> dict:
    command = [PY, str(HERE / "loadgen.py"), "--url", url, "--server-pid", str(pid), "--workloads", workload]
    if quick:
        command.append("--quick")
    if duration:
        command += ["--duration", str(duration)]
    done = subprocess.run(pinned(1, command, pin), capture_output=True, text=True, timeout=300)
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if not lines:
        return {"workload": workload, "errors": 1, "first_error": f"load generator failed: {done.stderr.strip()[-300:]}"}
    return json.loads(lines[-1])


def fmt(value: float | None) -> str:
    if value is None:
        return "-"
    if value >= 1000:
        return f"{value:,.0f}"
    if value >= 100:
        return f"{value:.0f}"
    return f"{value:.1f}"


def table(summary: dict, servers: list[str], workloads: list[str]) -> str:
    metrics = [m for m in METRICS if m[0] in workloads]
    head = ["server", *[m[2] for m in metrics], "errors"]
    rows = [head]
    base = summary.get(BASELINE, {})
    for name in servers:
        row = [name]
        for workload, key, _, _ in metrics:
            value = summary.get(name, {}).get(workload, {}).get(key)
            ref = base.get(workload, {}).get(key)
            cell = fmt(value)
            if value is not None and ref and name != BASELINE:
                cell += f" ({value / ref:.2f}x)"
            row.append(cell)
        row.append(str(sum(w.get("errors", 0) for w in summary.get(name, {}).values())))
        rows.append(row)
    widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
    lines = ["| " + " | ".join(c.ljust(w) for c, w in zip(r, widths)) + " |" for r in rows]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)


def cpu_table(summary: dict, servers: list[str], workloads: list[str]) -> str:
    lines = ["CPU use (fraction of one core, median), server / load generator:"]
    for name in servers:
        cells = []
        for w in workloads:
            r = summary.get(name, {}).get(w, {})
            if "server_cpu" in r or "loadgen_cpu" in r:
                cells.append(f"{w} {r.get('server_cpu', 0):.2f}/{r.get('loadgen_cpu', 0):.2f}")
        lines.append(f"  {name:26} " + "  ".join(cells))
    return "\n".join(lines)


def summarize(results: list[dict]) -> dict:
    """Median of every numeric field per server and workload; errors are summed, first errors kept."""
    grouped: dict[str, dict[str, list[dict]]] = {}
    for r in results:
        grouped.setdefault(r["server"], {}).setdefault(r["workload"], []).append(r)
    out: dict = {}
    for name, per in grouped.items():
        for workload, runs in per.items():
            merged: dict = {"rounds": len(runs)}
            keys = {k for r in runs for k, v in r.items() if isinstance(v, (int, float)) and k not in ("round",)}
            for k in sorted(keys):
                values = [r[k] for r in runs if isinstance(r.get(k), (int, float))]
                merged[k] = sum(values) if k in ("errors", "mismatches") else statistics.median(values)
            firsts = [r["first_error"] for r in runs if r.get("first_error")]
            if firsts:
                merged["first_error"] = firsts[0]
            out.setdefault(name, {})[workload] = merged
    return out


def machine() -> dict:
    model = ""
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    def git(*args: str) -> str:
        try:
            return subprocess.run(["git", *args], capture_output=True, text=True, cwd=HERE.parent, timeout=10).stdout
        except (OSError, subprocess.SubprocessError):
            return ""

    # The code measured: HEAD, plus a hash of uncommitted changes to wsplay/ if there are any.
    diff = git("diff", "HEAD", "--", "wsplay")
    revision = git("rev-parse", "--short", "HEAD").strip() or "unknown"
    if diff:
        revision += "+dirty-" + hashlib.sha1(diff.encode()).hexdigest()[:8]
    return {
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "revision": revision,
        "nproc": os.cpu_count(),
        "cpu": model,
        "python": platform.python_version(),
        "loadavg_start": os.getloadavg(),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (default 3)")
    parser.add_argument("--quick", action="store_true", help="short durations: a smoke run")
    parser.add_argument("--duration", type=float, help="seconds per timed workload (overrides the defaults)")
    parser.add_argument("--only", default=",".join(WORKLOADS), help="workloads, e.g. W1,W3 (default: all)")
    parser.add_argument("--servers", default=",".join(SERVERS), help="servers, comma-separated (default: all): " + ", ".join(SERVERS))
    parser.add_argument("--json", metavar="FILE", help="write every result, the medians and the machine to FILE")
    parser.add_argument("--alloc", action="store_true", help="also run benchmarks/alloc.py and report it")
    parser.add_argument("--no-pin", action="store_true", help="do not pin with taskset")
    args = parser.parse_args(argv)

    workloads = [w.strip().upper() for w in args.only.split(",") if w.strip()]
    servers = [s.strip() for s in args.servers.split(",") if s.strip()]
    unknown = [w for w in workloads if w not in WORKLOADS] + [s for s in servers if s not in SERVERS]
    if unknown:
        parser.error(f"unknown workload or server: {', '.join(unknown)}")
    pin = not args.no_pin and shutil.which("taskset") is not None and (os.cpu_count() or 1) >= 2
    info = machine()
    info["pinned"] = pin
    logdir = Path(tempfile.mkdtemp(prefix="wsplay-bench-"))
    print(f"# {info['date']}  wsplay {info['revision']}  nproc {info['nproc']}  {info['cpu']}  Python {info['python']}  "
          f"load {' '.join(f'{x:.2f}' for x in info['loadavg_start'])}  pinned {pin}  logs {logdir}", flush=True)

    results: list[dict] = []
    failures = 0
    for rnd in range(1, args.rounds + 1):
        for workload in workloads:
            for name in servers:
                try:
                    server = Server(name, SERVERS[name], pin, logdir)
                except RuntimeError as exc:
                    results.append({"server": name, "workload": workload, "round": rnd, "errors": 1, "first_error": str(exc)})
                    failures += 1
                    continue
                try:
                    r = run_loadgen(server.url, server.pid, workload, args.quick, pin, args.duration)
                finally:
                    code = server.stop()
                if code not in (0, -signal.SIGTERM):
                    r["errors"] = r.get("errors", 0) + 1
                    r.setdefault("first_error", f"server exited with {code}; see {logdir / (name + '.log')}")
                r.update(server=name, round=rnd)
                results.append(r)
                failures += bool(r.get("errors"))
                short = {k: v for k, v in r.items() if k not in ("server", "workload", "round")}
                print(f"round {rnd} {workload} {name}: {json.dumps(short)}", flush=True)

    summary = summarize(results)
    info["loadavg_end"] = os.getloadavg()
    print()
    print(table(summary, servers, workloads))
    print()
    print(cpu_table(summary, servers, workloads))
    for name in servers:
        for w, r in summary.get(name, {}).items():
            if r.get("first_error"):
                print(f"  first error, {name} {w}: {r['first_error']}")
    alloc = None
    if args.alloc:
        done = subprocess.run([PY, str(HERE / "alloc.py"), "--json"] + (["--quick"] if args.quick else []),
                              capture_output=True, text=True, cwd=HERE.parent)
        print()
        print(done.stderr.strip() if done.returncode else "")
        lines = done.stdout.strip().splitlines()
        alloc = json.loads(lines[-1]) if lines and lines[-1].startswith("{") else None
        print("\n".join(lines[:-1]))
        if alloc is None:
            failures += 1
    print(f"\n# load average at the end: {' '.join(f'{x:.2f}' for x in info['loadavg_end'])}")
    if args.json:
        Path(args.json).write_text(json.dumps(
            {"machine": info, "command": " ".join([Path(PY).name, *sys.argv]), "results": results,
             "medians": summary, "alloc": alloc}, indent=1))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
