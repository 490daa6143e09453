"""A WebSocket client on wsplay's own codec: talk to any server from a notebook, and break the rules on purpose.

    client.py     Client: connecting, closing, keepalive, the asyncio protocol; connect(), connect_async()
    receiving.py  frames read as they arrive, merged into messages, queued for receive()
    sending.py    messages, fragments, pings, and any frame at all (send_raw), masked and recorded

Example:
    client = wsplay.connect(host.url)
    client.send("hello"); client.receive_text(timeout=1)
"""

from wsplay.client.client import Client, connect, connect_async

__all__ = ["Client", "connect", "connect_async"]
