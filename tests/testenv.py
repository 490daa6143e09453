"""What the test environment has, and what a test does when something is missing.

Locally a test whose tool is missing (chromium, Playwright, Jupyter, repo2docker) is skipped; under CI
(`CI` set to a true value) it fails instead, since .ci/run installs everything and a CI run without
its browser must not pass quietly. The conftests and tests import this module by name (pyproject puts
tests/ on the path).
"""

from __future__ import annotations

import json
import os
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


def write_kernelspec(jupyter_dir: Path) -> Path:
    """A `python3` kernelspec under `jupyter_dir`/kernels that runs this interpreter; returns its folder."""
    spec_dir = jupyter_dir / "kernels" / "python3"
    spec_dir.mkdir(parents=True)
    spec = {
        "argv": [sys.executable, "-Xfrozen_modules=off", "-m", "ipykernel_launcher", "-f", "{connection_file}"],
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
