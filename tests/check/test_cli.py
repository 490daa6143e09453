"""``python -m wsplay check ...`` as a user runs it: a subprocess, its table, its exit status."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from wsplay import Host

from testenv import UNIT, echo_endpoint

REPO = Path(__file__).resolve().parents[2]


def wsplay_cli(*args: str, timeout: float = 60 * UNIT) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "wsplay", *args], cwd=REPO, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)


@pytest.fixture(scope="module")
def echo_url() -> Iterator[str]:
    host = Host.create().handler(echo_endpoint()).port(0).close_timeout(2 * UNIT).start()
    try:
        yield host.url
    finally:
        host.stop()


def test_a_failing_server_exits_1_and_writes_json(sloppy_url: str, tmp_path: Path) -> None:
    out = tmp_path / "sloppy.json"
    run = wsplay_cli("check", "server", sloppy_url, "--cases", "1.1.*,1.4.1", "--json", str(out), "--timeout", str(3 * UNIT))
    assert run.returncode == 1, run.stdout + run.stderr
    first = run.stdout.splitlines()[0]
    assert first.startswith(f"wsplay check server {sloppy_url}: 6 cases in ") and first.endswith("5 OK, 0 NON-STRICT, 0 INFORMATIONAL, 1 FAILED")
    assert "1.4.1  FAILED        an unmasked client frame fails the connection (RFC 6455 5.1)" in run.stdout
    data = json.loads(out.read_text())
    assert data["counts"]["FAILED"] == 1 and [c["id"] for c in data["cases"]][-1] == "1.4.1"


def test_a_passing_server_exits_0(echo_url: str) -> None:
    run = wsplay_cli("check", "server", echo_url, "--cases", "2.*,6.4.*", "-v", "--progress", "--timeout", str(3 * UNIT))
    assert run.returncode == 0, run.stdout + run.stderr
    assert "9 cases in" in run.stdout and "every case:" in run.stdout and "6.4.2  OK" in run.stdout
    assert run.stderr.count("OK") == 9  # --progress: a line per case on stderr


def test_bad_arguments_exit_2(echo_url: str) -> None:
    assert wsplay_cli("check", "server", echo_url, "--cases", "8.*").returncode == 2
    assert wsplay_cli("check", "server", "http://example.org/").returncode == 2
    run = wsplay_cli("check", "client")
    assert run.returncode == 2 and "--command" in run.stderr


def test_check_client_runs_a_command_per_case(tmp_path: Path) -> None:
    # The client under test as a command: {url} is replaced by each case's URL.
    code = "import sys, wsplay.check; wsplay.check.drivers.wsplay_echo(close_timeout=1)(sys.argv[1])"
    command = f"{sys.executable} -c '{code}' {{url}}"
    run = wsplay_cli("check", "client", "--command", command, "--cases", "1.1.2,11.2.1", "--timeout", str(10 * UNIT))
    assert run.returncode == 0, run.stdout + run.stderr
    assert "2 cases in" in run.stdout and "2 OK" in run.stdout


def test_check_client_with_a_ready_made_driver() -> None:
    run = wsplay_cli("check", "client", "--driver", "websockets", "--cases", "1.3.3,7.1.1", "--timeout", str(3 * UNIT))
    assert run.returncode == 0, run.stdout + run.stderr
    assert "2 OK" in run.stdout
