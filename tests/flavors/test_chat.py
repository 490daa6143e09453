"""The seed's chat application, in each of the four flavors, with three `websockets` clients.

Two variants per flavor: the chat shipped in `wsplay.examples`, and the handler written here exactly
as the seed writes it, in that flavor's own API. Each client must see every "[n]: text" broadcast,
with the sender's number, in the order it was sent; when one client leaves, the others chat on.
"""

from __future__ import annotations

import json
import warnings

import pytest
from websockets.sync.client import connect

import wsplay
import wsplay.examples
from wsplay import FrameType, ReactiveHandler, Websocket

from testenv import UNIT, wait_for

WAIT = 5 * UNIT  # seconds: every wait of the chat scenarios

FLAVORS = ["reactive", "functional", "imperative", "legacy"]


# -- the seed's handlers, written in each flavor's API ----------------------------------------------


def seed_reactive() -> wsplay.ReactiveWebsocket:
    class ChatHandler(ReactiveHandler):
        clients: list = []  # class-level, as in DESIGN's example (a fresh class per test)

        async def on_connected(self, connection):
            self.clients.append(connection)

        async def on_message(self, connection, message):
            n = self.clients.index(connection)
            for client in self.clients:
                await client.write(f"[{n}]: " + message.data_as_string())

        async def on_close(self, connection, message):
            self.clients.remove(connection)

    return Websocket.reactive().handler(ChatHandler())


def seed_functional() -> wsplay.FunctionalWebsocket:
    clients: list = []

    def on_connected(connection):
        clients.append(connection)

    async def on_message(connection, message):
        n = clients.index(connection)
        for client in clients:
            await client.write(f"[{n}]: " + message.data_as_string())

    def on_close(connection, message):
        clients.remove(connection)

    return Websocket.functional().on_connected(on_connected).on_message(on_message).on_close(on_close)


def seed_imperative() -> wsplay.ImperativeWebsocket:
    class ChatHandler:
        clients: list = []

        async def handle(self, connection):
            self.clients.append(connection)
            n = self.clients.index(connection)
            while connection.request.server.running:  # the seed's do { ... } while (...)
                message = await connection.read_frame()
                if message.type is FrameType.PING:
                    await connection.pong()
                elif message.type is FrameType.TEXT:
                    for client in self.clients:
                        await client.write(f"[{n}]: " + message.data_as_string())
                elif message.type is FrameType.CLOSE:
                    await connection.close()
                    break
            self.clients.remove(connection)

    return Websocket.imperative().handler(ChatHandler())


def seed_legacy() -> wsplay.LegacyWebsocket:
    clients: list = []

    async def on_message(client_connection, message):
        assert isinstance(message, str)
        n = clients.index(client_connection)
        for client in clients:
            await client.send(f"[{n}]: " + message)

    with pytest.deprecated_call():
        return Websocket.create().on_open(clients.append).on_message(on_message).on_close(clients.remove)


SEED = {"reactive": seed_reactive, "functional": seed_functional, "imperative": seed_imperative, "legacy": seed_legacy}


def example_chat(flavor: str):
    if flavor == "legacy":
        with pytest.deprecated_call():
            return wsplay.examples.chat(flavor)
    return wsplay.examples.chat(flavor)


# -- the scenario ---------------------------------------------------------------------------------


def recv_n(ws, count: int, timeout: float) -> list[str]:
    return [ws.recv(timeout=timeout) for _ in range(count)]


def assert_quiet(ws) -> None:
    """Nothing more is waiting for this client."""
    with pytest.raises(TimeoutError):
        extra = ws.recv(timeout=0.05)
        pytest.fail(f"unexpected extra message {extra!r}")


def chat_scenario(host: wsplay.Host, flavor: str) -> None:
    unit = WAIT
    kw = {"open_timeout": unit, "close_timeout": unit}
    with connect(host.url, **kw) as a:
        wait_for(lambda: len(host.connections) == 1, what="client a")
        with connect(host.url, **kw) as b:
            wait_for(lambda: len(host.connections) == 2, what="client b")
            with connect(host.url, **kw) as c:
                wait_for(lambda: len(host.connections) == 3, what="client c")
                clients = [a, b, c]

                # One sender at a time: everyone gets its burst, numbered and in order.
                for n, sender in enumerate(clients):
                    texts = [f"hello {i} from {'abc'[n]}" for i in range(5)]
                    for text in texts:
                        sender.send(text)
                    expected = [f"[{n}]: {text}" for text in texts]
                    for receiver in clients:
                        assert recv_n(receiver, len(texts), unit) == expected

                # All at once: each client gets all 3 x 20, and each sender's messages stay in order.
                for n, sender in enumerate(clients):
                    for i in range(20):
                        sender.send(f"burst {i}")
                for receiver in clients:
                    got = recv_n(receiver, 60, unit)
                    for n in range(3):
                        assert [m for m in got if m.startswith(f"[{n}]: ")] == [f"[{n}]: burst {i}" for i in range(20)]
                for receiver in clients:
                    assert_quiet(receiver)

                # The middle client leaves; the others keep chatting.
                b.close()
                wait_for(lambda: len(host.connections) == 2, what="b's connection to end")
                a.send("still here")
                c.send("me too")
                # The seed's imperative handler numbers a client once, when it connects; the
                # others look the sender up in the current list at each message.
                c_number = 2 if flavor == "imperative" else 1
                for receiver in (a, c):
                    assert recv_n(receiver, 2, unit) == ["[0]: still here", f"[{c_number}]: me too"]
                    assert_quiet(receiver)
    wait_for(lambda: not host.connections, what="every connection to end")
    assert host.errors == []


@pytest.mark.parametrize("flavor", FLAVORS)
def test_example_chat(flavor, hosts):
    host = hosts(example_chat(flavor))
    chat_scenario(host, flavor)


@pytest.mark.parametrize("flavor", FLAVORS)
def test_seed_chat(flavor, hosts):
    host = hosts(SEED[flavor]())
    chat_scenario(host, flavor)


@pytest.mark.parametrize("flavor", FLAVORS)
def test_seed_handlers_answer_pings_with_their_data(flavor, hosts):
    # Reactive and functional by the default on_ping, imperative by the seed's bare pong(),
    # legacy by the flavor itself: the pong must carry the ping's data for the client to match it.
    host = hosts(SEED[flavor]())
    with connect(host.url, open_timeout=WAIT, close_timeout=WAIT) as ws:
        for data in (b"abc", b"", bytes(range(125))):
            assert ws.ping(data).wait(WAIT), f"no pong for ping {data!r}"
        ws.send("after pings")
        assert ws.recv(timeout=WAIT) == "[0]: after pings"


def test_reactive_default_on_ping_answers_with_the_pings_data(hosts):
    class Quiet(ReactiveHandler):
        pass  # every default kept

    host = hosts(Websocket.reactive().handler(Quiet()))
    with connect(host.url, open_timeout=WAIT, close_timeout=WAIT) as ws:
        assert ws.ping(b"abc").wait(WAIT)


# -- the legacy flavor's warning ------------------------------------------------------------------


def test_legacy_warning_points_at_the_callers_line():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        Websocket.create()  # deprecated: the warning under test
    deprecations = [w for w in caught if issubclass(w.category, DeprecationWarning)]
    assert len(deprecations) == 1
    warning = deprecations[0]
    assert warning.filename == __file__
    assert "Websocket.functional()" in str(warning.message)


def test_legacy_warning_is_a_deprecation_warning():
    with pytest.deprecated_call(match=r"Websocket\.functional\(\)"):
        Websocket.create()


# -- JSON helpers ---------------------------------------------------------------------------------


def json_echo(flavor: str):
    async def reply(connection, frame):
        await connection.write_payload({"got": frame.read_payload(), "type": frame.type.name})

    if flavor == "reactive":

        class Handler(ReactiveHandler):
            on_message = staticmethod(reply)

        return Websocket.reactive().handler(Handler())
    if flavor == "functional":
        return Websocket.functional().on_message(reply)

    class Loop:
        async def handle(self, connection):
            while True:
                frame = await connection.read_frame()
                if frame.type is FrameType.CLOSE:
                    await connection.close()
                    return
                if frame.type is FrameType.TEXT:
                    await reply(connection, frame)

    return Websocket.imperative().handler(Loop())


@pytest.mark.parametrize("flavor", ["reactive", "functional", "imperative"])
def test_json_payload_round_trip(flavor, hosts):
    host = hosts(json_echo(flavor))
    values = [{"a": 1, "b": [1, 2.5, None, True], "ü": "snow ☃"}, [], "text", 42, None]
    with connect(host.url, open_timeout=WAIT, close_timeout=WAIT) as ws:
        for value in values:
            ws.send(json.dumps(value))
            answer = ws.recv(timeout=WAIT)
            assert isinstance(answer, str)  # write_payload sends a text frame
            assert json.loads(answer) == {"got": value, "type": "TEXT"}
    assert host.errors == []
