"""Re-running a start cell replaces the host it started, also with .port(0), where the port changes."""

from __future__ import annotations

START = (
    "from wsplay import Host\n"
    "from wsplay.examples import echo\n"
    "host = Host.create().handler(echo()).port(0).start()\n"
    "ports.append(host.bound_port)\n"
    "print(sorted(h.bound_port for h in wsplay.runtime.live_hosts()))\n"
)


def test_rerunning_a_port_zero_start_cell_replaces_its_host(run_notebook):
    cells = [
        "import wsplay\nports = []\n",
        START,
        START,  # the same cell run again: same source, so the same cell file and line
        "print(len(wsplay.runtime.live_hosts()), ports[0] != ports[1])\n",
        # A loop in one cell starts several hosts in one execution: all of them stay up.
        "loop_hosts = [Host.create().handler(echo()).port(0).start() for _ in range(3)]\n"
        "print(sum(h.running for h in loop_hosts))\n",
        # A different cell starting a host leaves the others alone.
        "other = Host.create().handler(echo()).port(0).start()\n"
        "print(host.running, other.running)\n",
        "wsplay.stop_all()\nprint(len(wsplay.runtime.live_hosts()))\n",
    ]
    run = run_notebook(cells)
    assert run.errors() == []
    first = run.stream(1)
    second = run.stream(2)
    assert len(eval(first)) == 1 and len(eval(second)) == 1, (first, second)  # noqa: S307 - our own output
    assert run.stream(3) == "1 True\n"
    assert run.stream(4) == "3\n"
    assert run.stream(5) == "True True\n"
    assert run.stream(6) == "0\n"
