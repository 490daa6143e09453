"""wsplay on uvloop (`runtime.use_loop("uvloop")`, `serve --loop uvloop`): the strictness, compression,
TLS and keepalive tests run again with WSPLAY_LOOP=uvloop, in a pytest of their own (the loop is
chosen once per process)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from testenv import UNIT, missing

ROOT = Path(__file__).resolve().parent.parent
AGAIN = [
    "tests/engine/test_strictness.py",
    "tests/engine/test_deflate_strictness.py",
    "tests/engine/test_tls.py",
    "tests/engine/test_spawn.py",
    "tests/client/test_client_strictness.py",
    "tests/client/test_client.py",
    "tests/flavors/test_chat.py",
    "tests/reliability/test_slow_peers.py",
]


def test_the_core_tests_pass_on_uvloop() -> None:
    try:
        import uvloop  # noqa: F401
    except ImportError:
        missing('uvloop is not installed: pip install -e ".[test]" (the speed extra)')
    env = dict(os.environ, WSPLAY_LOOP="uvloop")
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-x", *AGAIN],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600 * UNIT,
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert " passed" in done.stdout.splitlines()[-1]


def test_the_loop_is_chosen_before_it_starts() -> None:
    code = (
        "import wsplay\nfrom wsplay import runtime\n"
        "runtime.use_loop('uvloop'); runtime.get_loop()\n"
        "print(type(runtime.get_loop()).__module__.split('.')[0], runtime.loop_kind())\n"
        "try:\n    runtime.use_loop('asyncio')\nexcept wsplay.InvalidState as e:\n    print('refused:', 'already runs on uvloop' in str(e))\n"
    )
    pytest.importorskip("uvloop")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60 * UNIT)
    assert done.stdout.split() == ["uvloop", "uvloop", "refused:", "True"], done.stderr
