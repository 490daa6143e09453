"""ipywidgets panels: a live server panel, a client panel, and the frame log and inspector they share.

    server.py   ServerPanel(host): status and start/stop/restart, connections, send/close, frames, warnings
    client.py   ClientPanel(url or client): connect, send anything (raw frames too), its own frame log
    frames.py   FrameLog (newest rows, filters, pause, clear) and FrameInspector (every header bit)
    refresh.py  the coalescer: one per panel, about 10 comm messages a second at most, only on change
    html.py     escaping (everything a peer sends), hex dumps, previews, tables

Example:
    host = Host.create().handler(websocket).port(0).development().start()
    host  # the last expression of a cell shows ServerPanel(host)
"""

from wsplay.widgets.client import ClientPanel
from wsplay.widgets.frames import FrameInspector, FrameLog
from wsplay.widgets.server import ServerPanel

__all__ = ["ClientPanel", "FrameInspector", "FrameLog", "ServerPanel"]
