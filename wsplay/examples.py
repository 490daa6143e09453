"""The seed's chat and a plain echo, in each of the four flavors (used by the command line and tests).

The chat is the seed's: every text message goes to every client as "[n]: text", n being the
sender's place in the list of clients. The echo sends every message back unchanged.
"""

from __future__ import annotations

import warnings
from typing import Any

from wsplay.core.connection import broadcast
from wsplay.core.frame import Frame
from wsplay.engine.connection import SocketConnection
from wsplay.errors import ConnectionClosed, InvalidState
from wsplay.flavors import ReactiveHandler, Websocket, WebsocketBuilder
from wsplay.protocol.frames import FrameType

__all__ = ["EXAMPLES", "FLAVORS", "build_example", "chat", "echo"]

FLAVORS = ("reactive", "functional", "imperative", "legacy")
EXAMPLES = ("chat", "echo")


async def _broadcast(clients: list[Any], text: str) -> None:
    if clients and isinstance(clients[0], SocketConnection):
        # The seed awaits WriteAsync for each client in turn; broadcast() encodes the frame once and
        # waits for none of them, so one slow reader cannot hold up the room (its write limit cuts it off).
        broadcast(clients, text)
        return
    for client in list(clients):  # the legacy flavor's connections: their own send()
        try:
            await client.send(text)
        except (ConnectionClosed, InvalidState):
            pass  # that client is leaving; its own close removes it from the list


# -- chat -----------------------------------------------------------------------------------------


class ChatHandler(ReactiveHandler):
    """The seed's reactive chat handler."""

    def __init__(self) -> None:
        self.clients: list[SocketConnection] = []

    async def on_connected(self, connection: SocketConnection) -> None:
        self.clients.append(connection)

    async def on_message(self, connection: SocketConnection, message: Frame) -> None:
        n = self.clients.index(connection)
        await _broadcast(self.clients, f"[{n}]: " + message.data_as_string())

    async def on_close(self, connection: SocketConnection, message: Frame) -> None:
        if connection in self.clients:
            self.clients.remove(connection)
        await connection.close()


class ImperativeChat:
    """The seed's imperative chat: its own loop, answering pings and closing by hand."""

    def __init__(self) -> None:
        self.clients: list[SocketConnection] = []

    async def handle(self, connection: SocketConnection) -> None:
        self.clients.append(connection)
        n = self.clients.index(connection)
        try:
            while connection.request.server.running:
                message = await connection.read_frame()
                if message.type is FrameType.PING:
                    await connection.pong()
                elif message.type is FrameType.TEXT:
                    await _broadcast(self.clients, f"[{n}]: " + message.data_as_string())
                elif message.type is FrameType.CLOSE:
                    await connection.close()
                    break
        finally:
            self.clients.remove(connection)


def chat(flavor: str = "reactive") -> WebsocketBuilder:
    """The seed's chat server in the given flavor."""
    if flavor == "reactive":
        return Websocket.reactive().handler(ChatHandler())
    if flavor == "imperative":
        return Websocket.imperative().handler(ImperativeChat())
    if flavor == "functional":
        clients: list[SocketConnection] = []

        async def on_message(connection: SocketConnection, message: Frame) -> None:
            await _broadcast(clients, f"[{clients.index(connection)}]: " + message.data_as_string())

        async def on_close(connection: SocketConnection, message: Frame) -> None:
            if connection in clients:
                clients.remove(connection)
            await connection.close()

        return Websocket.functional().on_connected(clients.append).on_message(on_message).on_close(on_close)
    if flavor == "legacy":
        legacy_clients: list[Any] = []

        async def on_text(connection: Any, text: str) -> None:
            await _broadcast(legacy_clients, f"[{legacy_clients.index(connection)}]: " + text)

        return (
            Websocket.create()  # deprecated: the legacy flavor is shown on purpose
            .on_open(legacy_clients.append)
            .on_message(on_text)
            .on_close(legacy_clients.remove)
        )
    raise ValueError(f"unknown flavor {flavor!r}; choose one of {', '.join(FLAVORS)}")


# -- echo -----------------------------------------------------------------------------------------


async def _echo(connection: SocketConnection, frame: Frame) -> None:
    # Borrowed frames are echoed straight from the receive buffer; owned ones as the bytes they hold.
    payload = frame.data if connection.settings.allocate_frame_data else frame.raw.memory
    await connection.write(payload, frame.type, frame.raw.fin)


class EchoHandler(ReactiveHandler):
    """Send every message back: text as text, binary as binary (fragment by fragment when manual)."""

    on_message = on_binary = on_continue = staticmethod(_echo)  # type: ignore[assignment]


class ImperativeEcho:
    async def handle(self, connection: SocketConnection) -> None:
        while True:
            frame = await connection.read_frame()
            kind = frame.type
            if kind is FrameType.PING:
                await connection.pong()
            elif kind is FrameType.CLOSE:
                await connection.close()
                return
            elif kind in (FrameType.TEXT, FrameType.BINARY, FrameType.CONTINUE):
                await _echo(connection, frame)


def echo(flavor: str = "reactive") -> WebsocketBuilder:
    """An echo server in the given flavor."""
    if flavor == "reactive":
        return Websocket.reactive().handler(EchoHandler())
    if flavor == "functional":
        return Websocket.functional().on_message(_echo).on_binary(_echo).on_continue(_echo)
    if flavor == "imperative":
        return Websocket.imperative().handler(ImperativeEcho())
    if flavor == "legacy":
        return Websocket.create().on_message(lambda c, text: c.send(text)).on_binary(lambda c, data: c.send(data))  # deprecated
    raise ValueError(f"unknown flavor {flavor!r}; choose one of {', '.join(FLAVORS)}")


def build_example(
    name: str,
    flavor: str = "reactive",
    *,
    manual_continuation: bool = False,
    no_allocate: bool = False,
) -> WebsocketBuilder:
    """Build the `chat` or `echo` example in a flavor, with the builder options the CLI exposes."""
    if name not in EXAMPLES:
        raise ValueError(f"unknown example {name!r}; choose one of {', '.join(EXAMPLES)}")
    with warnings.catch_warnings():
        if flavor == "legacy":
            warnings.simplefilter("always", DeprecationWarning)
        builder = chat(flavor) if name == "chat" else echo(flavor)
    if flavor == "legacy" and (manual_continuation or no_allocate):
        raise ValueError("the legacy flavor works on whole messages: drop --manual-continuation and --no-allocate")
    if manual_continuation:
        builder.handle_continuation_frames_manually()
    if no_allocate:
        builder.do_not_allocate_frame_data()
    return builder
