"""Panels with a real front end (anywidget): a live server panel and a client panel.

    server.py   ServerPanel(host): status and start/stop/restart, connections, send/close, frames, warnings
    client.py   ClientPanel(url or client): connect, send anything (raw frames too), its own frames
    check.py    CheckPanel(result): a check run's summary, its cases, each case's frames (wsplay.check)
    frames.py   the frame table's Python half: filters, search, bounded batches of rows, a frame's details
    deflate.py  a connection's permessage-deflate as the panels show it: extension, parameters, ratios
    refresh.py  the coalescer (<= 10 pushes a second, one comm message each) and the panels' shared base
    assets.py   joins the ES modules in static/ into the one module anywidget loads
    static/     panel.js (entry), table.js, inspector.js, bits.js, tree.js, sequence.js, charts.js,
                handshake.js, util.js, panel.css; check.js and check.css (CheckPanel's entry and style)
    html.py     text helpers: previews, hex dumps, times
    pictures.py SVG pictures of recorded data that need no widget (they stay in a saved notebook):
                a frame's bits, the handshake, a sequence diagram, a ping timeline, bar charts

Payload decoders live in `wsplay.decoders` (one registry for every panel).

Example:
    host = Host.create().handler(websocket).port(0).development().start()
    host  # the last expression of a cell shows ServerPanel(host)
"""

from wsplay.widgets.check import CheckPanel
from wsplay.widgets.client import ClientPanel
from wsplay.widgets.server import ServerPanel

__all__ = ["CheckPanel", "ClientPanel", "ServerPanel"]
