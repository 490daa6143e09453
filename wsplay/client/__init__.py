"""A WebSocket client on the shared connection core: talk to any server from a notebook, and break the rules on purpose.

Example:
    client = wsplay.connect(host.url)
    client.send("hello"); client.receive_text(timeout=1)
"""

from wsplay.client.client import Client, connect, connect_async

__all__ = ["Client", "connect", "connect_async"]
