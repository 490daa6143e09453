"""The playground in a real kernel: a host with its live panel, the kernel-side client, a stall, a 1002.

Asserts on what the cells print and on the widget state nbclient saves, which is what a reader of the
executed notebook sees.
"""

from __future__ import annotations

import json

import pytest

NOTEBOOK_BUDGET = 60  # seconds

CELLS = [
    # 0: a host whose text handler is slow on request, shown by its last expression: the panel
    "import asyncio, time\n"
    "import wsplay\n"
    "from wsplay import FrameType, Host, Websocket\n"
    "async def on_message(connection, message):\n"
    "    if message.data_as_string() == 'slow':\n"
    "        await asyncio.sleep(1.5)  # the long-running-task pitfall, on purpose\n"
    "    await connection.write(message.data_as_string())\n"
    "async def on_binary(connection, message):\n"
    "    await connection.write(message.data, FrameType.BINARY)\n"
    "websocket = Websocket.functional().on_message(on_message).on_binary(on_binary)\n"
    "host = Host.create().handler(websocket).port(0).development().stall_threshold(0.5).start()\n"
    "host\n",
    # 1: text, binary, a fragmented message and a ping from the kernel-side client
    "client = wsplay.connect(host.url)\n"
    "client.send('hello')\n"
    "print('text', client.receive_text(timeout=2))\n"
    "client.send(b'\\x01\\x02\\x03')\n"
    "print('binary', client.receive(timeout=2).data.hex())\n"
    "client.send_fragmented('fragmented!', fragment_size=4)\n"
    "print('merged', client.receive_text(timeout=2))\n"
    "client.ping(b'are you there')\n"
    "pong = client.receive(timeout=2)\n"
    "print(pong.type.name, pong.data)\n",
    # 2: a slow handler holds the pump while a ping waits
    "client.send('slow')\n"
    "time.sleep(0.1)\n"
    "client.ping(b'waiting')\n"
    "print('slow', client.receive_text(timeout=5))\n"
    "stalls = host.recorder.events('stall')\n"
    "assert stalls and stalls[0].ping_waiting, stalls\n"
    "print('stall', round(stalls[0].seconds, 1) >= 1.0, stalls[0].frames_waiting >= 1)\n",
    # 3: a raw frame with RSV1 set: the server fails the connection with 1002
    "rogue = wsplay.connect(host.url, compression=None)\n"
    "rogue.send_raw(FrameType.TEXT, b'compressed?', rsv1=True)\n"
    "answer = rogue.receive(timeout=2)\n"
    "print(answer.type.name, answer.close_code, answer.close_reason)\n",
    # 4: give the panel's refresher a moment (it pushes at most ~10 times a second); what a view gets
    "time.sleep(1.0)\n"
    "panel = host.panel()\n"
    "closes = [c['close'] for c in panel.connections if c['close']]\n"
    "assert any(c['code'] == 1002 and c['name'] == 'protocol error' for c in closes), closes\n"
    "panel.feed.reset()\n"
    "rows = panel.feed.push()['rows']  # what a newly opened view of the panel is sent\n"
    "print('panel shows 1002')\n"
    "print(sorted({FrameType(r[4]).name for r in rows}))\n"
    "print(any('hello' in r[9] for r in rows))\n",
    # 5: stop what was started; the panel makes its final push
    "client.close()\n"
    "rogue.close()\n"
    "host.stop()\n"
    "time.sleep(0.5)\n"
    "print('stopped', host.running)\n",
]


def widget_state(notebook) -> dict[str, dict]:
    state = notebook.metadata.get("widgets", {}).get("application/vnd.jupyter.widget-state+json", {})
    return state.get("state", {})


@pytest.mark.timeout(2 * NOTEBOOK_BUDGET)
def test_panel_notebook(run_notebook):
    run = run_notebook(CELLS)

    assert run.errors() == []
    assert run.stream(1) == "text hello\nbinary 010203\nmerged fragmented!\nPONG b'are you there'\n"
    assert run.stream(2) == "slow slow\nstall True True\n"
    assert run.stream(3).startswith("CLOSE 1002 reserved bits must be 0")
    assert run.stream(4) == "panel shows 1002\n['BINARY', 'CLOSE', 'CONTINUE', 'PING', 'PONG', 'TEXT']\nTrue\n"
    assert run.stream(5) == "stopped False\n"
    assert run.seconds < NOTEBOOK_BUDGET

    # Where widgets cannot render (nbconvert, a terminal), the panel's text says what it showed.
    plain = [o["data"]["text/plain"] for o in run.notebook.cells[0].outputs if "text/plain" in o.get("data", {})]
    assert plain and plain[0].startswith("ServerPanel: host running at ws://127.0.0.1:"), plain

    # The saved widget state is what the executed notebook shows a reader.
    models = widget_state(run.notebook)
    assert models, "nbclient saved no widget state"
    panels = [m["state"] for m in models.values() if m["state"].get("kind") == "server"]
    assert len(panels) == 1
    state = panels[0]
    closes = [c["close"] for c in state["connections"] if c["close"]]
    assert any(c["code"] == 1002 and c["name"] == "protocol error" for c in closes), closes
    assert any(w["kind"] == "stall" and "connection.spawn(" in w["fix"] for w in state["warnings"])  # the warning with its fix
    assert state["status"]["running"] is False  # the final push after host.stop()
    assert state["table"]["recorded"] >= 12 and state["recording"]["max_frames"] == 2000
    assert "export default" in state["_esm"] and ".wsp-panel" in state["_css"]  # the front end travels with the state
