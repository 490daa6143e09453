"""An XSS corpus through every view of both panels, in JupyterLab: nothing from it becomes markup or runs.

Payloads (text, JSON, binary), close reasons, request paths, request headers, a subprotocol name,
a handler's error text and a user decoder's output all carry the corpus; the test then opens every
view (each frame in every payload view, each connection's handshake, the sequence diagram, the
warnings) and checks that no element or attribute from the corpus exists, no script ran and no
dialog opened.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from testenv import MS

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = [pytest.mark.browser, pytest.mark.timeout(180)]

CORPUS = [
    '<img src=x onerror="window.__xss=1;alert(1)">',
    "<script>window.__xss=2;alert(2)</script>",
    '<svg onload="window.__xss=3"><circle class="xss-marker"/></svg>',
    '"><iframe src="javascript:window.__xss=4"></iframe>',
    "<a class=xss-marker href='javascript:window.__xss=5'>x</a>",
    "<style>.wsp-panel{display:none}</style><b class=xss-marker>bold</b>",
    "{{constructor.constructor('window.__xss=6')()}}",
    "</pre></div><div class=xss-marker onmouseover=window.__xss=7>hover</div>",
]

CELLS = [
    "import json, time, asyncio\n"
    "import wsplay\n"
    "from wsplay import Host, Websocket, FrameType\n"
    f"CORPUS = {CORPUS!r}\n"
    "async def on_message(connection, message):\n"
    "    text = message.data_as_string()\n"
    "    if text.startswith('raise '):\n"
    "        raise ValueError(text[6:])\n"
    "    await connection.write(text)\n"
    "async def on_binary(connection, message):\n"
    "    await connection.write(message.data, FrameType.BINARY)\n"
    "websocket = Websocket.functional().on_message(on_message).on_binary(on_binary).subprotocols(\"'x'&`evil`|~\")\n"
    "host = Host.create().handler(websocket).port(0).development().start()\n"
    "host.decoder('evil', lambda payload: {CORPUS[0]: CORPUS[1:4], 'text': CORPUS[4]})\n"
    "host.decoder('evil text', lambda payload: CORPUS[5])\n"
    "host",
    "client_panel = wsplay.widgets.ClientPanel(host.url + '<img/src=x/onerror=window.__xss=8>', subprotocols=[\"'x'&`evil`|~\"])\n"
    "client_panel",
    "clients = []\n"
    "for n, evil in enumerate(CORPUS):\n"
    "    path = '<img/src=x/onerror=window.__xss=9>' if n % 2 else '/'\n"
    "    c = wsplay.connect(host.url.rstrip('/') + '/' + path.lstrip('/'), headers={'X-Evil': evil}, subprotocols=[\"'x'&`evil`|~\"])\n"
    "    c.send(evil)\n"
    "    c.send(json.dumps({evil: [evil, {'k': evil}]}))\n"
    "    c.send(evil.encode())\n"
    "    c.ping(evil.encode()[:120])\n"
    "    clients.append(c)\n"
    "time.sleep(0.3)\n"
    "for c, evil in zip(clients, CORPUS):\n"
    "    c.close(4000, evil[:60])\n"
    "bad = wsplay.connect(host.url, subprotocols=[\"'x'&`evil`|~\"])\n"
    "bad.send('raise ' + CORPUS[0])\n"
    "time.sleep(0.3)\n"
    "client_panel._on_custom(client_panel, {'kind': 'action', 'name': 'connect', 'args': {'url': host.url}}, [])\n"
    "for evil in CORPUS:\n"
    "    client_panel.client.send(evil)\n"
    "host.connections[-1].close(4001, CORPUS[3][:60])\n"
    "time.sleep(1.0)\n"
    "print('corpus sent')",
]

DANGER = (
    ".wsp-panel img, .wsp-panel script, .wsp-panel iframe, .wsp-panel style, .wsp-panel .xss-marker, "
    ".wsp-panel [onerror], .wsp-panel [onload], .wsp-panel [onmouseover], .wsp-panel a[href^='javascript']"
)


def test_no_markup_from_a_peer_ever_runs(
    jupyterlab: Any,
    new_page: Callable[..., Page],
    write_notebook: Callable[[Path, list[str]], Path],
    run_notebook_in_lab: Callable[..., None],
    screenshot: Callable[[Page, str], Path],
) -> None:
    path = write_notebook(jupyterlab.root_dir / "xss.ipynb", CELLS)
    page = new_page(viewport={"width": 1500, "height": 1100})
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    run_notebook_in_lab(page, jupyterlab, path, ".jp-OutputArea-output:has-text('corpus sent')", timeout=90)

    def clean() -> None:
        assert page.evaluate("() => window.__xss") is None
        assert dialogs == []
        found = page.locator(DANGER).count()
        assert found == 0, page.locator(DANGER).evaluate_all("els => els.map(e => e.outerHTML)")

    server, client = page.locator(".jp-OutputArea-output .wsp-panel").all()[:2]
    server.locator(".wsp-warnings li.wsp-w-error").first.wait_for(timeout=15 * MS)
    server.locator(".wsp-scroll .wsp-row").first.wait_for()
    clean()
    # The text is there, as text.
    assert CORPUS[0] in server.locator(".wsp-conns").inner_text()  # a close reason
    assert CORPUS[0] in server.locator(".wsp-warnings").inner_text()  # the handler's error
    client.locator(".wsp-scroll .wsp-row", has_text=CORPUS[1]).first.wait_for(timeout=15 * MS)
    assert CORPUS[3][:60] in client.locator(".wsp-status").inner_text()  # the server's close reason

    for panel in (server, client):
        rows = panel.locator(".wsp-scroll .wsp-row")
        n = min(rows.count(), 60)
        for i in range(n):
            row = rows.nth(i)
            if not row.is_visible():
                continue
            row.click()
            panel.locator(".wsp-inspector .wsp-tab").first.wait_for()
            for view in panel.locator(".wsp-inspector .wsp-tab").all_inner_texts():
                panel.locator(f".wsp-inspector .wsp-tab[data-view=\"{view}\"]").click()
                if view in ("msgpack", "cbor", "evil", "evil text"):
                    page.wait_for_timeout(150)  # decoded in the kernel
                clean()
        for conn in panel.locator(".wsp-conns tbody tr").all():
            conn.click()  # its handshake (path, headers, subprotocol) and its sequence diagram
            clean()
    headers = server.locator(".wsp-hs").inner_text()
    assert "'x'&`evil`|~" in headers and "X-Evil" in headers
    server.locator(".wsp-inspector").scroll_into_view_if_needed()
    screenshot(page, "panel-xss")
    page.mouse.move(10, 10)
    for el in server.locator(".wsp-seq text").all()[:30]:
        el.hover()
    clean()
