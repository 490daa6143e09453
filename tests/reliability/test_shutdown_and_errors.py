"""Stopping a busy host, and a handler that raises on every message.

The 500 clients live in a separate process (loadgen.py hold): it reports, for each one, the close
code received and when, against which the host's stop() is timed.
"""

from __future__ import annotations

import collections
import contextlib
import json
import random
import threading
import time

from websockets.exceptions import ConnectionClosedError

from wsplay import Host, Websocket


def test_stop_with_500_clients_sends_1001_to_all_within_the_close_timeout(rel, processes, raw_client) -> None:
    """500 `websockets` clients answer the close at once; 5 raw clients that never answer are cut off
    at the close timeout, so stop() takes no longer than that however the clients behave."""
    unit = rel.UNIT
    close_timeout = 3 * unit
    host = Host.create().handler(rel.echo_builder()).port(0).close_timeout(close_timeout)
    try:
        host.start()
        load = processes("hold", host.url, "--connections", "500")
        line = load.stdout.readline()
        assert line.strip() == "ready", line + load.stderr.read()
        silent = [raw_client(host.bound_port) for _ in range(5)]
        for client in silent:
            client.handshake()
        assert rel.wait_for(lambda: len(host.connections) == 505, 5 * unit), len(host.connections)
        started = time.time()
        host.stop()
        stopped_in = time.time() - started
        out, err = load.communicate(timeout=20 * unit)
        for client in silent:  # each got the 1001 close frame too, then was dropped
            frames, _ = rel.parse_server_frames(client.read_until_eof(2 * unit))
            assert [(f[1], rel.close_code_of(f[3])) for f in frames] == [(8, 1001)]
    finally:
        host.stop()
    result = json.loads(out.strip().splitlines()[-1])
    codes = collections.Counter(code for code, _ in result["closes"])
    latest = max(t for _, t in result["closes"]) - started
    print(f"stop with 500 clients: codes {dict(codes)}, last close frame after {latest:.2f} s, stop() took {stopped_in:.2f} s")
    assert result["opened"] == 500 and len(result["closes"]) == 500
    assert codes == {1001: 500}
    assert latest <= 1.0 * unit  # the answering clients are not kept waiting for the silent ones
    assert close_timeout - 0.1 * unit <= stopped_in <= close_timeout + 1.0 * unit
    assert host.connections == [] and not host.running


def test_a_handler_that_raises_on_every_message_affects_no_one_else(hosts, rel) -> None:
    """Route /boom raises on every message; /echo and the boom route's own "echo:" messages carry on."""
    unit = rel.UNIT

    async def boom(connection, frame):
        text = frame.data_as_string()
        if text.startswith("echo:"):
            await connection.write(text)
            return
        raise RuntimeError(f"boom on {text!r}")

    boom_route = Websocket.functional().on_message(boom)
    host = hosts(configure=lambda h: h.route("/boom", boom_route).route("/echo", rel.echo_builder()))
    base = host.url.rstrip("/")
    rng = random.Random(11)
    stop = threading.Event()
    victims = collections.Counter()

    def keep_raising() -> None:
        while not stop.is_set():
            with rel.ws_client(base + "/boom") as ws:
                ws.send("boom")
                try:
                    ws.recv(timeout=3 * unit)
                except ConnectionClosedError as exc:
                    victims[exc.rcvd.code if exc.rcvd else None] += 1

    threads = [threading.Thread(target=keep_raising, daemon=True) for _ in range(3)]
    with contextlib.ExitStack() as stack:
        echo = stack.enter_context(rel.ws_client(base + "/echo"))
        same = stack.enter_context(rel.ws_client(base + "/boom"))  # same endpoint, well-behaved messages
        for thread in threads:
            thread.start()
        try:
            deadline = time.monotonic() + 3 * unit
            rounds = 0
            while time.monotonic() < deadline:
                rounds += rel.check_echo(echo, rng)
                n = rng.randrange(10**9)
                same.send(f"echo:{n}")
                assert same.recv(timeout=3 * unit) == f"echo:{n}"
        finally:
            stop.set()
            for thread in threads:
                thread.join(10 * unit)
        print(f"raising handler: {sum(victims.values())} connections closed with {dict(victims)}; {rounds} echoes meanwhile")
        assert victims and set(victims) == {1011}
        assert sum(victims.values()) >= 10
        assert all("boom on 'boom'" in str(e.exception) for e in host.errors)
        assert host.running
        rel.check_echo(echo, rng, rounds=5)
