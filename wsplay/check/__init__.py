"""Check any WebSocket server or client against RFC 6455 and RFC 7692, case by case, frame by frame.

    api.py            server(url) and client(drive): the entry points
    report.py         verdicts (OK, NON-STRICT, INFORMATIONAL, FAILED), cases, the Result and its exports
    run.py            running cases one after another, each under its own timeout
    wire.py           the suite's own frames and HTTP, over asyncio streams (never wsplay's codec)
    compress.py       permessage-deflate on zlib directly, and its offers and answers
    judge.py          a conversation over one connection, and the verdicts every section shares
    server_suite.py   what a server case works with: connections, hand-built requests, a judged 101
    server_cases.py   the server suite, sections 1-9: framing, pings, reserved bits, opcodes,
                      fragmentation, UTF-8, close, limits
    server_http.py    the server suite, sections 11-13: the opening handshake, permessage-deflate
    client_suite.py   what a client case works with: the scripted server, the driver of the client under test
    client_cases.py   the client suite: the same sections, mirrored
    drivers.py        ready-made clients under test: wsplay's own, the websockets library's
    pytest_plugin.py  the pytest11 plugin: wsplay_host, wsplay_client, wsplay_check fixtures

The results widget is wsplay.widgets.check (plugged into Result by wsplay's top-level package), the
command line `python -m wsplay check server|client ...`.

Example:
    result = wsplay.check.server(host.url)
    result  # in a notebook, the results widget
"""

from wsplay.check import drivers
from wsplay.check.api import client, client_cases, server, server_cases
from wsplay.check.report import Case, CaseResult, Outcome, Result, Verdict

__all__ = [
    "Case",
    "CaseResult",
    "Outcome",
    "Result",
    "Verdict",
    "client",
    "client_cases",
    "drivers",
    "server",
    "server_cases",
]
