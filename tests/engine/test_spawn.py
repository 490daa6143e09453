"""connection.spawn(): long work beside the handler, whose failure is recorded instead of lost on stderr."""

from __future__ import annotations

import asyncio
import gc
import logging

from websockets.sync.client import connect

from wsplay import FrameType, Websocket

from testenv import UNIT, wait_for


def test_spawned_work_keeps_the_pump_free_and_writes_its_result(hosts, clients) -> None:
    async def on_message(connection, message):
        async def job(text: str) -> None:
            await asyncio.sleep(1.5 * UNIT)  # longer than the client waits for a pong
            await connection.write(f"done: {text}")

        connection.spawn(job(message.data_as_string()), name="job")

    host = hosts(Websocket.functional().on_message(on_message), development=True, configure=lambda h: h.stall_threshold(0.3 * UNIT))
    client = clients(host.url, ping_interval=0.3 * UNIT, ping_timeout=0.5 * UNIT)
    client.send("import")
    while True:
        frame = client.receive(timeout=3 * UNIT)
        if frame.type is FrameType.TEXT:
            break
    assert frame.data_as_string() == "done: import" and client.state == "open"
    assert host.recorder.events("stall") == [] and host.errors == []


def test_a_failing_task_is_recorded_like_a_handler_error_and_the_connection_stays_open(hosts, caplog) -> None:
    caplog.set_level(logging.ERROR)

    async def on_message(connection, message):
        if message.data_as_string() == "fail":

            async def broken() -> None:
                raise ValueError("the import went wrong")

            connection.spawn(broken(), name="importer")
        else:
            await connection.write(message.data_as_string())

    host = hosts(Websocket.functional().on_message(on_message), development=True)
    with connect(host.url, open_timeout=2 * UNIT) as ws:
        ws.send("fail")
        wait_for(lambda: host.recorder.events("error"), what="the task's error in the record")
        ws.send("still open")
        assert ws.recv(timeout=2 * UNIT) == "still open"
    (event,) = host.recorder.events("error")
    assert type(event).__name__ == "TaskFailed" and event.handler == "importer"
    assert event.error == "ValueError: the import went wrong" and "raise ValueError" in event.traceback
    assert "stays open" in event.summary()
    assert [type(e.exception) for e in host.errors] == [ValueError]
    gc.collect()
    assert not [r for r in caplog.records if "never retrieved" in r.getMessage()]


def test_tasks_are_cancelled_when_the_connection_ends_and_closing_is_no_error(hosts) -> None:
    outcomes: list[str] = []

    async def forever(connection) -> None:
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            outcomes.append("cancelled")
            raise

    async def writer(connection) -> None:
        await asyncio.sleep(0.2 * UNIT)
        while True:  # ends with ConnectionClosed once the client has gone: not an error
            await connection.write("tick")
            await asyncio.sleep(0.01)

    async def on_connected(connection):
        connection.spawn(forever(connection))
        connection.spawn(writer(connection))

    host = hosts(Websocket.functional().on_connected(on_connected))
    with connect(host.url, open_timeout=2 * UNIT) as ws:
        assert ws.recv(timeout=2 * UNIT) == "tick"
    wait_for(lambda: outcomes == ["cancelled"] and not host.connections, what="the task cancelled with its connection")
    assert host.errors == [] and host.recorder.events("error") == []


def test_spawn_from_a_cell_runs_on_the_loop(hosts) -> None:
    host = hosts()
    with connect(host.url, open_timeout=2 * UNIT) as ws:
        wait_for(lambda: host.connections, what="the connection")
        conn = host.connections[0]

        async def hello() -> None:
            await conn.write("from a task a cell started")

        task = conn.spawn(hello())
        assert ws.recv(timeout=2 * UNIT) == "from a task a cell started"
        wait_for(task.done, what="the task to finish")
