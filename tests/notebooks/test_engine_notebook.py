"""A notebook session on a real kernel: start, re-run the start cell, block a cell, await, stop.

The notebook is built here in code and executed with nbclient in a tmp dir; nothing is saved in
the repository.
"""

from __future__ import annotations

import socket
import sys

import pytest

NOTEBOOK_BUDGET = 60  # seconds for the whole notebook, kernel start and stop included


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cells(port: int) -> tuple[list[str], str]:
    start = (
        "import wsplay, wsplay.examples\n"
        "from wsplay import Host\n"
        f"host = Host.create().handler(wsplay.examples.echo()).port({port}).start()\n"
        "print('serving', host.url)\n"
    )
    sources = [
        # 0: which interpreter runs this kernel
        "import sys, threading, time\nprint('prefix', sys.prefix)\n",
        # 1: start
        start,
        # 2: a round trip from a client in the kernel
        "from websockets.sync.client import connect\n"
        "with connect(host.url, open_timeout=5, close_timeout=5) as ws:\n"
        "    ws.send('hello from a cell')\n"
        "    reply = ws.recv(timeout=5)\n"
        "assert reply == 'hello from a cell', reply\n"
        "first_host = host\n"
        "print('round trip', reply)\n",
        # 3: the start cell, run again exactly as it is
        start,
        # 4: the new host took over the port and serves
        "assert host is not first_host and host.running and not first_host.running\n"
        f"assert host.bound_port == {port}\n"
        "with connect(host.url, open_timeout=5, close_timeout=5) as ws:\n"
        "    ws.send('after re-run')\n"
        "    assert ws.recv(timeout=5) == 'after re-run'\n"
        "print('re-run serves', host.url)\n",
        # 5: the server keeps answering while a cell blocks in time.sleep
        "count = 0\n"
        "done = threading.Event()\n"
        "failure = []\n"
        "def chatter():\n"
        "    global count\n"
        "    try:\n"
        "        with connect(host.url, open_timeout=5, close_timeout=5) as ws:\n"
        "            while not done.is_set():\n"
        "                ws.send(str(count))\n"
        "                assert ws.recv(timeout=5) == str(count)\n"
        "                count += 1\n"
        "    except BaseException as exc:\n"
        "        failure.append(exc)\n"
        "chatter_thread = threading.Thread(target=chatter, name='chatter')\n"
        "chatter_thread.start()\n"
        "time.sleep(0.2)\n"
        "before = count\n"
        "time.sleep(2)\n"
        "during = count - before\n"
        "done.set()\n"
        "chatter_thread.join(10)\n"
        "assert not chatter_thread.is_alive() and not failure, failure\n"
        "assert during > 50, during\n"
        "print('round trips during sleep', during)\n",
        # 6: top-level await in a cell
        "with connect(host.url, open_timeout=5, close_timeout=5) as ws:\n"
        "    deadline = time.monotonic() + 5\n"
        "    while not host.connections and time.monotonic() < deadline:\n"
        "        time.sleep(0.01)\n"
        "    conn = host.connections[0]\n"
        "    await conn.write('pushed from a cell')\n"
        "    assert ws.recv(timeout=5) == 'pushed from a cell'\n"
        "    await host.stop()\n"
        "    try:\n"
        "        ws.recv(timeout=5)\n"
        "    except Exception as exc:\n"
        "        closed = exc\n"
        "assert closed.rcvd.code == 1001, closed\n"
        "assert not host.running\n"
        "await host.start()\n"
        "assert host.running\n"
        "print('await works', closed.rcvd.code)\n",
        # 7: stop, and leave nothing behind that would hold up kernel shutdown
        "host.stop()\n"
        "assert not host.running\n"
        "host.stop()\n"
        "others = [t for t in threading.enumerate() if not t.daemon and t is not threading.main_thread()]\n"
        "assert not others, others\n"
        "print('stopped', sorted(t.name for t in threading.enumerate()))\n",
    ]
    return sources, start


@pytest.mark.timeout(2 * NOTEBOOK_BUDGET)
def test_engine_notebook(run_notebook):
    port = free_port()
    sources, start = cells(port)
    assert sources[3] == sources[1] == start
    run = run_notebook(sources)

    assert run.errors() == []
    assert run.stream(0).strip() == f"prefix {sys.prefix}"  # the kernel is this environment's python
    assert run.stream(1) == f"serving ws://127.0.0.1:{port}/\n"
    assert run.stream(2) == "round trip hello from a cell\n"
    assert run.stream(3) == f"serving ws://127.0.0.1:{port}/\n"
    assert run.stream(4) == f"re-run serves ws://127.0.0.1:{port}/\n"
    during = run.stream(5)
    assert during.startswith("round trips during sleep ")
    assert int(during.split()[-1]) > 50
    assert run.stream(6) == "await works 1001\n"
    assert run.stream(7).startswith("stopped [")
    assert "wsplay-loop" in run.stream(7)  # the one background loop lives on, as a daemon thread
    for i in range(len(sources)):
        assert run.stream(i, "stderr") == "", (i, run.stream(i, "stderr"))
    assert run.seconds < NOTEBOOK_BUDGET
