"""Editing a start cell and running it again replaces the host (and the clients) that cell started.

The kernel gets each cell's id the way JupyterLab, Notebook 7 and VS Code send it (execute request
metadata `cellId`, which IPython hands to pre_run_cell handlers as ExecutionInfo.cell_id), so an edited
cell is still the same cell. tests/notebooks/test_rerun_notebook.py covers frontends that send no id.
"""

from __future__ import annotations

import socket

SETUP = "import wsplay\nfrom wsplay import Host, Websocket\n"


def start_cell(tag: str, port: int) -> str:
    return (
        "async def answer(connection, message):\n"
        f"    await connection.write({tag!r} + message.data_as_string())\n"
        f"host = Host.create().handler(Websocket.functional().on_message(answer)).port({port}).start()\n"
    )


CHECK = (
    "client = wsplay.connect(host.url)\n"
    "client.send('hi')\n"
    "print(client.receive_text(timeout=5))\n"
    "print(sorted(h.bound_port for h in wsplay.runtime.live_hosts()))\n"
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_an_edited_start_cell_replaces_its_host_on_the_same_port(notebook_session) -> None:
    port = free_port()
    with notebook_session([SETUP, start_cell("v1:", port), CHECK, "wsplay.stop_all()\n"]) as nb:
        nb.run(0)
        nb.run(1)
        nb.run(2)
        assert nb.stdout(2) == f"v1:hi\n[{port}]\n"
        nb.run(1, start_cell("v2:", port))  # the student edits the start cell and runs it again
        nb.run(2)
        assert nb.stdout(2) == f"v2:hi\n[{port}]\n"  # one host, serving the new code, on the same port
        nb.run(1, start_cell("v3:", port) + "print('one line more')\n")  # an edit that shifts nothing matters
        nb.run(2)
        assert nb.stdout(2) == f"v3:hi\n[{port}]\n"
        nb.run(3)


def test_an_edited_start_cell_with_port_0_replaces_its_host_too(notebook_session) -> None:
    with notebook_session([SETUP, start_cell("v1:", 0), CHECK, "wsplay.stop_all()\n", "print(wsplay.runtime.current_cell()[0])\n"]) as nb:
        nb.run(0)
        nb.run(4)
        assert nb.stdout(4) == f"id:{nb.nb.cells[4].id}\n"  # the kernel knows the cell by the id the frontend sent
        nb.run(1)
        nb.run(2)
        first = eval(nb.stdout(2).splitlines()[1])  # noqa: S307 - our own output
        nb.run(1, start_cell("v2:", 0))
        nb.run(2)
        text, ports = nb.stdout(2).splitlines()
        assert text == "v2:hi" and len(eval(ports)) == 1 and eval(ports) != first  # noqa: S307
        nb.run(3)


def test_two_cells_keep_two_hosts_and_a_rerun_client_cell_replaces_its_client(notebook_session) -> None:
    cells = [
        SETUP,
        start_cell("a:", 0),
        "other = Host.create().handler(Websocket.functional()).port(0).start()\n",
        "alice = wsplay.connect(host.url)\n"
        "import time\n"
        "deadline = time.monotonic() + 5\n"
        "while len(host.connections) != 1 and time.monotonic() < deadline:  # an earlier alice may be leaving\n"
        "    time.sleep(0.01)\n"
        "print(len(host.connections))\n",
        "print(sum(h.running for h in (host, other)), alice.state)\n",
        "wsplay.stop_all()\n",
    ]
    with notebook_session(cells) as nb:
        for i in range(4):
            nb.run(i)
        assert nb.stdout(3) == "1\n"
        nb.run(3)
        nb.run(3)  # the client cell, run again (twice): still one connection, the earlier alices are closed
        assert nb.stdout(3) == "1\n"
        nb.run(4)
        assert nb.stdout(4) == "2 open\n"
        nb.run(5)
