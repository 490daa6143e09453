"""What a handler reads of the upgrade request (`connection.request`), from a real client's request."""

from __future__ import annotations

import json

from websockets.sync.client import connect

from testenv import UNIT
from wsplay import Websocket


def test_the_handler_reads_the_request_it_was_sent(hosts) -> None:
    async def on_message(connection, message):
        request = connection.request
        await connection.write(json.dumps({
            "method": request.method, "path": request.path, "query": request.query,
            "twice": request.headers.get_all("X-Twice"), "host": request.headers["host"],
            "peer": list(request.remote_address[:2]), "subprotocol": request.subprotocol,
        }))

    host = hosts(Websocket.functional().on_message(on_message).subprotocols("chat"))
    headers = [("X-Twice", "one"), ("X-Twice", "two")]
    with connect(host.url + "room?x=1", additional_headers=headers, subprotocols=["chat"]) as ws:
        ws.send("what did I ask?")
        said = json.loads(ws.recv(timeout=2 * UNIT))
        local = list(ws.local_address[:2])
    assert said == {
        "method": "GET", "path": "/room", "query": "x=1", "twice": ["one", "two"],
        "host": f"127.0.0.1:{host.bound_port}", "peer": local, "subprotocol": "chat",
    }
    opened = host.recorder.events("open")[0]
    assert ("X-Twice", "two") in opened.request_headers and opened.request_line == "GET /room?x=1 HTTP/1.1"
