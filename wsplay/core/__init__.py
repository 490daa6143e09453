"""The connection core both sides share: one asyncio connection class, its stream, keepalive and frames.

    options.py     Settings (what a connection accepts) and ConnectionOptions (how it is kept)
    frame.py       Frame and RawFrame: what a handler or a client receives
    stream.py      Stream: the transport's protocol after the handshake (reads, corked writes, flow control)
    keepalive.py   Keepalive: ping a silent peer, give up on one that stays silent
    watch.py       Watch: development mode's reports of a stalled pump and interleaved writes
    connection.py  Connection: frames in and out, the close handshake, failing, recording
"""

from wsplay.core.connection import Connection, broadcast
from wsplay.core.frame import Frame, RawFrame
from wsplay.core.options import Compression, ConnectionOptions, Settings

__all__ = ["Compression", "Connection", "ConnectionOptions", "Frame", "RawFrame", "Settings", "broadcast"]
