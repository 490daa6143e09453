"""Run the benchmark: every server in its own process, workloads in interleaved rounds.

    python benchmarks/run.py                      # 3 rounds, every server and workload (~20 min)
    python benchmarks/run.py --quick --rounds 1   # a smoke run (~2.5 min with every server)
    python benchmarks/run.py --only W1,W3 --servers wsplay-reactive,websockets --json out.json
    python benchmarks/run.py --alloc              # also the allocation measurement (benchmarks/alloc.py)
    python benchmarks/run.py --wsplay ../main     # measure the wsplay package of another checkout

For each round, for each workload, each server is started afresh (so one workload's heap does not
flatter the next, which matters for W6's RSS), its URL is read from its first stdout line, the load
generator runs the workload against it in another process, and the server is stopped by PID:
round 1 runs W1 on A, B, C ..., then W2 on A, B, C ...; round 2 again. W7 (compressed echo) starts
the peers with permessage-deflate on and leaves out picows, which has none; W8 starts each server's chat
instead of its echo; W9 runs benchmarks/kernel.py, which starts the server inside a Jupyter kernel
(only for the servers it knows). With `taskset` the server is pinned to CPU 0 and the load generator
to CPU 1. The tables show medians over rounds and the ratio to the `websockets` baseline of the same
run (for latency and memory, lower is better); a "!" marks a result where the load generator used
0.9 of its core or more, so the client may have been the limit rather than the server, and a "~" a
throughput for which the server used less than 0.8 of its core (starved by something else, or waiting).
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
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
sys.path.insert(0, str(HERE))
from kernel import CELLS as KERNEL_SERVERS  # noqa: E402  (the servers W9 can start in a kernel)

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
    # the background loop on uvloop (wsplay[speed]): compare with picows-uvloop
    "wsplay-reactive-uvloop": [*WSPLAY, *BENCH, "--flavor", "reactive", "--loop", "uvloop"],
    # wsplay-reactive plus an open server panel (benchmarks/panel.py): what a displayed panel costs
    "wsplay-reactive-panel": [PY, str(HERE / "panel.py")],
    "websockets": [*OTHER, "websockets"],
    "aiohttp": [*OTHER, "aiohttp"],
    "picows": [*OTHER, "picows"],
    "picows-uvloop": [*OTHER, "picows", "--uvloop"],
    "reference": [*OTHER, "reference"],
}
# The peers' own packages (the bench extra): a server whose package is missing is left out of the default run.
NEEDS = {"aiohttp": ["aiohttp"], "picows": ["picows"], "picows-uvloop": ["picows", "uvloop"],
         "wsplay-reactive-uvloop": ["uvloop"]}
NO_DEFLATE = {"picows", "picows-uvloop"}  # no permessage-deflate: left out of W7
BASELINE = "websockets"
WORKLOADS = ["W1", "W2", "W3", "W4", "W5", "W6", "W7", "W8", "W9"]
LOADGEN_LIMIT = 0.9  # load generator CPU (fraction of its core) from which a result is flagged "!"
STARVED = 0.8  # server CPU below which a wall-clock throughput is flagged "~": something else had its core
THROUGHPUT = {"messages_per_s", "MB_per_s", "connections_per_s", "deliveries_per_s"}

# Tables: (title, [(workload, result key, column title)]), and which keys are better lower.
TABLES = [
    ("Throughput, latency and memory", [
        ("W1", "messages_per_s", "W1 msg/s"),
        ("W2", "p50_us", "W2 p50 µs"),
        ("W2", "p99_us", "W2 p99 µs"),
        ("W3", "MB_per_s", "W3 MB/s"),
        ("W4", "MB_per_s", "W4 MB/s"),
        ("W5", "connections_per_s", "W5 conn/s"),
        ("W6", "bytes_per_connection", "W6 B/conn"),
        ("W7", "MB_per_s", "W7 MB/s"),
    ]),
    ("Per second of server CPU (the work done in the timed part / the server's CPU seconds in it)", [
        ("W1", "messages_per_server_cpu_s", "W1 msg"),
        ("W3", "MB_per_server_cpu_s", "W3 MB"),
        ("W4", "MB_per_server_cpu_s", "W4 MB"),
        ("W5", "connections_per_server_cpu_s", "W5 conn"),
        ("W7", "MB_per_server_cpu_s", "W7 MB"),
        ("W8", "deliveries_per_server_cpu_s", "W8 deliveries"),
    ]),
    ("Broadcast (W8) and a notebook under load (W9)", [
        ("W8", "deliveries_per_s", "W8 deliveries/s"),
        ("W8", "p50_ms", "W8 last p50 ms"),
        ("W8", "p99_ms", "W8 last p99 ms"),
        ("W9", "idle_p50_ms", "W9 idle p50 ms"),
        ("W9", "idle_p99_ms", "W9 idle p99 ms"),
        ("W9", "p50_ms", "W9 load p50 ms"),
        ("W9", "p99_ms", "W9 load p99 ms"),
        ("W9", "messages_per_s", "W9 W1 msg/s"),
    ]),
]
LOWER_IS_BETTER = {"p50_us", "p99_us", "bytes_per_connection", "p50_ms", "p99_ms", "idle_p50_ms", "idle_p99_ms"}


def installed(name: str) -> bool:
    return all(importlib.util.find_spec(module) is not None for module in NEEDS.get(name, []))


def command_for(name: str, workload: str) -> list[str]:
    """The server's command for a workload: W7 turns the peers' compression on (wsplay's is on by
    default; the other workloads never offer it), W8 serves the chat instead of the echo."""
    command = list(SERVERS[name])
    if workload == "W7" and command[:2] == OTHER:
        command.append("--compress")
    if workload == "W8":
        if "--example" in command:
            command[command.index("--example") + 1] = "chat"
        else:
            command.append("--chat")
    return command


def pinned(cpu: int, command: list[str], pin: bool) -> list[str]:
    return ["taskset", "-c", str(cpu), *command] if pin else command


def checkout_env(root: Path) -> dict[str, str]:
    """The environment of every process that imports wsplay: the package in `root` (a checkout) comes
    first, whatever is installed; with `cwd=root` too, `python -m wsplay` finds the same one."""
    path = os.pathsep.join(filter(None, [str(root), os.environ.get("PYTHONPATH")]))
    return dict(os.environ, PYTHONUNBUFFERED="1", PYTHONPATH=path)


class Server:
    """A server process: started, its URL read from its first stdout line, stopped by PID."""

    def __init__(self, name: str, command: list[str], pin: bool, logdir: Path, root: Path = HERE.parent) -> None:
        self.name = name
        self.log = open(logdir / f"{name}.log", "ab")
        self.proc = subprocess.Popen(
            pinned(0, command, pin), stdout=subprocess.PIPE, stderr=self.log, env=checkout_env(root), cwd=root
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


def run_loadgen(url: str, pid: int, workload: str, quick: bool, pin: bool, duration: float | None,
                receivers: int | None) -> dict:
    command = [PY, str(HERE / "loadgen.py"), "--url", url, "--server-pid", str(pid), "--workloads", workload]
    if quick:
        command.append("--quick")
    if duration:
        command += ["--duration", str(duration)]
    if receivers:
        command += ["--receivers", str(receivers)]
    return last_json(workload, subprocess.run(pinned(1, command, pin), capture_output=True, text=True, timeout=300))


def run_kernel(name: str, quick: bool, pin: bool, duration: float | None, logdir: Path, root: Path) -> dict:
    """W9: benchmarks/kernel.py starts the server in a Jupyter kernel and drives W1 and the cells."""
    command = [PY, str(HERE / "kernel.py"), "--server", name] + (["--quick"] if quick else [])
    if duration:
        command += ["--duration", str(duration)]
    if pin:
        command.append("--pin")
    done = subprocess.run(pinned(1, command, pin), capture_output=True, text=True, timeout=300,
                          env=checkout_env(root), cwd=root)
    with open(logdir / f"{name}.W9.log", "a") as log:  # the kernel's own stderr
        log.write(done.stderr)
    return last_json("W9", done)


def last_json(workload: str, done: subprocess.CompletedProcess) -> dict:
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if not lines:
        program = next((Path(a).name for a in done.args if a.endswith(".py")), "the load generator")
        return {"workload": workload, "errors": 1, "first_error": f"{program} failed: {done.stderr.strip()[-300:]}"}
    return json.loads(lines[-1])


def fmt(value: float | None) -> str:
    if value is None:
        return "-"
    if value >= 1000:
        return f"{value:,.0f}"
    if value >= 100:
        return f"{value:.0f}"
    return f"{value:.1f}"


def table(summary: dict, servers: list[str], metrics: list[tuple[str, str, str]], errors: bool = True) -> str:
    head = ["server", *[m[2] for m in metrics]] + (["errors"] if errors else [])
    rows = [head]
    base = summary.get(BASELINE, {})
    for name in servers:
        row = [name]
        for workload, key, _ in metrics:
            result = summary.get(name, {}).get(workload, {})
            value = result.get(key)
            ref = base.get(workload, {}).get(key)
            cell = fmt(value)
            if value is not None and ref and name != BASELINE:
                cell += f" ({value / ref:.2f}x)"
            if value is not None and result.get("loadgen_cpu", 0) >= LOADGEN_LIMIT:
                cell += " !"
            if value is not None and key in THROUGHPUT and result.get("server_cpu", 1) < STARVED:
                cell += " ~"
            row.append(cell)
        if errors:
            row.append(str(sum(w.get("errors", 0) for w in summary.get(name, {}).values())))
        rows.append(row)
    widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
    lines = ["| " + " | ".join(c.ljust(w) for c, w in zip(r, widths)) + " |" for r in rows]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)


def tables(summary: dict, servers: list[str], workloads: list[str]) -> str:
    out = []
    for i, (title, metrics) in enumerate(TABLES):
        metrics = [m for m in metrics if m[0] in workloads]
        if metrics:
            out.append(f"{title}:\n\n{table(summary, servers, metrics, errors=i == 0)}")
    flagged = any(r.get("loadgen_cpu", 0) >= LOADGEN_LIMIT for per in summary.values() for r in per.values())
    if flagged:
        out.append(f"! the load generator used {LOADGEN_LIMIT} of its core or more (median): it may have been "
                   "the limit, not the server; compare the per-CPU-second figure")
    starved = any(k in THROUGHPUT and r.get("server_cpu", 1) < STARVED
                  for m in TABLES for w, k, _ in m[1] for per in summary.values() for r in [per.get(w, {})] if k in r)
    if starved:
        out.append(f"~ the server used less than {STARVED} of its core (median) in a throughput workload: it was "
                   "starved (a shared machine) or waiting; the per-CPU-second figure is the one to read")
    return "\n\n".join(out)


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


def machine(root: Path) -> dict:
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
            return subprocess.run(["git", *args], capture_output=True, text=True, cwd=root, timeout=10).stdout
        except (OSError, subprocess.SubprocessError):
            return ""

    # The code measured: the checkout's HEAD, plus a hash of uncommitted changes to wsplay/ if there are any.
    diff = git("diff", "HEAD", "--", "wsplay")
    revision = git("rev-parse", "--short", "HEAD").strip() or "unknown"
    if diff:
        revision += "+dirty-" + hashlib.sha1(diff.encode()).hexdigest()[:8]
    return {
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "revision": revision,
        "wsplay": str(root),
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
    parser.add_argument("--servers", help="servers, comma-separated (default: every one installed): " + ", ".join(SERVERS))
    parser.add_argument("--receivers", type=int, help="W8's receivers (default 1,000)")
    parser.add_argument("--json", metavar="FILE", help="write every result, the medians and the machine to FILE")
    parser.add_argument("--alloc", action="store_true", help="also run benchmarks/alloc.py and report it")
    parser.add_argument("--no-pin", action="store_true", help="do not pin with taskset")
    parser.add_argument("--wsplay", metavar="DIR", type=Path, default=HERE.parent,
                        help="the checkout whose wsplay package is measured (default: this one)")
    args = parser.parse_args(argv)
    root = args.wsplay.resolve()
    if not (root / "wsplay" / "__init__.py").is_file():
        parser.error(f"--wsplay {args.wsplay}: no wsplay package there")

    workloads = [w.strip().upper() for w in args.only.split(",") if w.strip()]
    if args.servers:
        servers = [s.strip() for s in args.servers.split(",") if s.strip()]
    else:
        servers = [s for s in SERVERS if installed(s)]
        left_out = [s for s in SERVERS if s not in servers]
        if left_out:
            print(f"# not installed, left out: {', '.join(left_out)} (pip install -e '.[bench]')", flush=True)
    unknown = [w for w in workloads if w not in WORKLOADS] + [s for s in servers if s not in SERVERS]
    if unknown:
        parser.error(f"unknown workload or server: {', '.join(unknown)}")
    missing = [s for s in servers if not installed(s)]
    if missing:
        parser.error(f"not installed: {', '.join(missing)} (pip install -e '.[bench]')")
    if "W9" in workloads and importlib.util.find_spec("ipykernel") is None:
        print("# ipykernel is not installed: W9 left out", flush=True)
        workloads.remove("W9")
    pin = not args.no_pin and shutil.which("taskset") is not None and (os.cpu_count() or 1) >= 2
    info = machine(root)
    info["pinned"] = pin
    logdir = Path(tempfile.mkdtemp(prefix="wsplay-bench-"))
    print(f"# {info['date']}  wsplay {info['revision']} ({root})  nproc {info['nproc']}  {info['cpu']}  Python {info['python']}  "
          f"load {' '.join(f'{x:.2f}' for x in info['loadavg_start'])}  pinned {pin}  logs {logdir}", flush=True)

    results: list[dict] = []
    failures = 0
    for rnd in range(1, args.rounds + 1):
        for workload in workloads:
            for name in servers:
                if workload == "W7" and name in NO_DEFLATE:
                    continue
                if workload == "W9":
                    if name not in KERNEL_SERVERS:
                        continue  # W9 is measured for the servers a notebook user would start in a kernel
                    r = run_kernel(name, args.quick, pin, args.duration, logdir, root)
                else:
                    try:
                        server = Server(name, command_for(name, workload), pin, logdir, root)
                    except RuntimeError as exc:
                        results.append({"server": name, "workload": workload, "round": rnd, "errors": 1, "first_error": str(exc)})
                        failures += 1
                        continue
                    try:
                        r = run_loadgen(server.url, server.pid, workload, args.quick, pin, args.duration,
                                        args.receivers if workload == "W8" else None)
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
    print(tables(summary, servers, workloads))
    print()
    print(cpu_table(summary, servers, workloads))
    for name in servers:
        for w, r in summary.get(name, {}).items():
            if r.get("first_error"):
                print(f"  first error, {name} {w}: {r['first_error']}")
    alloc = None
    if args.alloc:
        done = subprocess.run([PY, str(HERE / "alloc.py"), "--json"] + (["--quick"] if args.quick else []),
                              capture_output=True, text=True, env=checkout_env(root), cwd=root)
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
