"""The debugging hunt: a server that works for most messages and has one hidden bug.

The shout server answers every text message in capitals, streamed in fragments of eight characters,
as a server that streams long answers would. Most answers arrive; some never do, and the message
after one of those makes the client fail the connection. Notebook 09 has students find the bug from
the wire (the panel's inspector, a sequence diagram) before they read this file.

No peeking: the bug is in `stream()` below.
"""

from __future__ import annotations

from wsplay.core.frame import Frame
from wsplay.engine.connection import SocketConnection
from wsplay.flavors import Websocket, WebsocketBuilder
from wsplay.protocol.frames import FrameType

__all__ = ["FRAGMENT", "shout_server", "stream"]

FRAGMENT = 8  # characters per fragment


async def stream(connection: SocketConnection, text: str, size: int = FRAGMENT) -> None:
    """Send `text` as one text message, in fragments of `size` characters."""
    chunks = [text[i : i + size] for i in range(0, len(text), size)]
    for i, chunk in enumerate(chunks):
        last = len(chunk) < size  # a short chunk is the end of the text
        await connection.write(chunk, FrameType.TEXT if i == 0 else FrameType.CONTINUE, fin=last)


async def _shout(connection: SocketConnection, message: Frame) -> None:
    await stream(connection, message.data_as_string().upper())


def shout_server() -> WebsocketBuilder:
    """The shout server: each text message comes back in capitals, in fragments of 8 characters.

    Example:
        host = Host.create().handler(hunt.shout_server()).port(0).development().start()
    """
    return Websocket.functional().on_message(_shout)
