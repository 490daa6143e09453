"""What the test environment has, and what a test does when something is missing.

Locally a test whose tool is missing (chromium, Playwright, Jupyter, repo2docker) is skipped; under CI
(`CI` set to a true value) it fails instead, since .ci/run installs everything and a CI run without
its browser must not pass quietly. The conftests and tests import this module by name (pyproject puts
tests/ on the path).
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

UNIT = float(os.environ.get("WSPLAY_TEST_UNIT", "1.0"))  # seconds; raise it on a slow machine
MS = UNIT * 1000  # Playwright counts its timeouts in milliseconds


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def missing(why: str) -> None:
    """Skip the test locally, fail it under CI; `why` says what is missing and how to get it."""
    if in_ci():
        pytest.fail(f"{why} (CI is set, so this fails instead of skipping; .ci/run installs it)", pytrace=False)
    pytest.skip(why)


def echo_endpoint() -> Any:
    """An echo endpoint independent of wsplay's examples module: text as text, binary as binary."""
    from wsplay import Websocket

    async def echo(connection: Any, frame: Any) -> None:
        await connection.write(frame.data, frame.type)

    return Websocket.functional().on_message(echo).on_binary(echo)


def wait_for(condition: Callable[[], Any], timeout: float = 5 * UNIT, what: str = "condition") -> float:
    """Poll `condition` until it holds and return the seconds that took; fail the test past `timeout`."""
    start = time.monotonic()
    while not condition():
        if time.monotonic() - start > timeout:
            pytest.fail(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.005)
    return time.monotonic() - start


BINDER_CPUS = 1  # what a mybinder.org pod gets...
BINDER_MEMORY = 2 * 1024**3  # ...and its memory limit, in bytes


def binder_limits() -> list[str]:
    """The command prefix that runs a program as on a Binder pod: one CPU (`taskset`) and 2 GB (`prlimit`).

    The address-space limit (RLIMIT_AS) is stricter than Binder's, which counts resident memory: a
    kernel that fits under it fits on Binder. The CPU is the first one this process may use.
    """
    for tool in ("taskset", "prlimit"):
        if shutil.which(tool) is None:
            missing(f"{tool} is not installed (util-linux): it runs the notebooks within Binder's limits")
    cpu = min(os.sched_getaffinity(0))
    return ["taskset", "--cpu-list", str(cpu), "prlimit", f"--as={BINDER_MEMORY}", "--"]


PEAK = "WSPLAY-KERNEL-LIMITS"
LIMITS_CHECK = f"""
import json as _json, os as _os, resource as _resource
# VmHWM: this process's own peak resident memory. (getrusage's ru_maxrss would not do: Linux keeps it
# across exec, so a kernel forked from a large pytest process would report that process's size.)
with open("/proc/self/status") as _status:
    _hwm = next(int(line.split()[1]) for line in _status if line.startswith("VmHWM:"))
print({PEAK!r}, _json.dumps({{
    "peak_kib": _hwm,
    "cpus": len(_os.sched_getaffinity(0)),
    "address_space": _resource.getrlimit(_resource.RLIMIT_AS)[0],
}}))
"""
BINDER_RESULTS: dict[str, tuple[float, float]] = {}  # notebook -> (seconds, peak MiB), for the summary


def kernel_limits(run: Any) -> dict[str, Any]:
    """What the LIMITS_CHECK cell (appended last) found: the kernel's peak RSS, its CPUs, its memory limit."""
    import json

    text = run.stream(len(run.notebook.cells) - 1)
    line = next(line for line in text.splitlines() if line.startswith(PEAK))
    found: dict[str, Any] = json.loads(line[len(PEAK) :])
    assert found["cpus"] == BINDER_CPUS and found["address_space"] == BINDER_MEMORY, f"the kernel ran without Binder's limits: {found}"
    return found


def binder_table() -> str:
    lines = [f"{'notebook':30} {'seconds':>8} {'peak MiB':>9}"]
    for name, (seconds, peak) in sorted(BINDER_RESULTS.items()):
        lines.append(f"{name:30} {seconds:>8.1f} {peak:>9.0f}")
    if BINDER_RESULTS:
        lines.append(f"{'all notebooks':30} {sum(s for s, _ in BINDER_RESULTS.values()):>8.1f} {max(p for _, p in BINDER_RESULTS.values()):>9.0f}")
    return "\n".join(lines)


def write_kernelspec(jupyter_dir: Path, prefix: list[str] | None = None) -> Path:
    """A `python3` kernelspec under `jupyter_dir`/kernels that runs this interpreter; returns its folder.

    `prefix` goes before the interpreter in the kernel's command line (`binder_limits()`, say).
    """
    spec_dir = jupyter_dir / "kernels" / "python3"
    spec_dir.mkdir(parents=True)
    spec = {
        "argv": [*(prefix or []), sys.executable, "-Xfrozen_modules=off", "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Python 3 (wsplay tests)",
        "language": "python",
        "metadata": {"debugger": False},
    }
    (spec_dir / "kernel.json").write_text(json.dumps(spec))
    return spec_dir


def deflate_messages(seed: int, count: int = 200) -> list[str | bytes]:
    """`count` messages for permessage-deflate interop: 0 bytes to 1 MiB, text and binary, compressible
    and not, the same ones often enough that context takeover has something to take over."""
    import json as _json
    import random

    rng = random.Random(seed)
    fixed: list[str | bytes] = [b"", "", "a", bytes(125), "x" * 126, bytes(65_535), os.urandom(65_536), "é€😀" * 20_000, bytes(1 << 20)]
    out: list[str | bytes] = list(fixed)
    while len(out) < count:
        kind = rng.random()
        if kind < 0.5:
            out.append(_json.dumps({"user": rng.choice(["ada", "bob", "eve"]), "n": rng.randint(0, 10**6), "text": "hello " * rng.randint(0, 50)}))
        elif kind < 0.8:
            out.append(rng.randbytes(rng.randint(0, 4000)))
        else:
            out.append(("abcdefgh" * rng.randint(1, 3000)).encode())
    return out
