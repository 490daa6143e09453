"""The proxy path: a wsplay host reached through a real Jupyter server's jupyter-server-proxy.

This is what a student on Binder/JupyterHub gets: the browser cannot reach the kernel's ports, only
`${JUPYTERHUB_SERVICE_PREFIX}proxy/<port>/` on the Jupyter server, which needs the Jupyter token
and opens its own WebSocket to the host. The tests fetch the client page and chat through the proxy,
and pin down what the proxy changes, measured against the same host reached directly:

- a close code (and its reason) never reaches the client: it sees 1005 "no status received";
- a fragmented message is reassembled: the other side gets one frame;
- messages above 10 MiB are refused (1009 towards the proxy; a larger one from the host never
  arrives and the client sees 1005);
- the proxy answers the client with the FIRST subprotocol it offered, whatever the host chose;
- permessage-deflate: the proxy never negotiates it with the client, but makes its own offer to the
  host (whatever the client offered), so everything between the proxy and the host is compressed.
"""

from __future__ import annotations

import http.client
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from wsplay import Host, Websocket
from wsplay import Frame, SocketConnection
from wsplay.examples import chat
from wsplay.protocol.frames import FrameType

websockets_sync = pytest.importorskip("websockets.sync.client")
from websockets.exceptions import ConnectionClosed, InvalidStatus  # noqa: E402
from websockets.extensions.permessage_deflate import ClientPerMessageDeflateFactory  # noqa: E402

pytestmark = pytest.mark.timeout(60)

MiB = 1024 * 1024


# -- hosts ----------------------------------------------------------------------------------------


async def _probe(connection: SocketConnection, message: Frame) -> None:
    """'close <code>' closes with that code; 'fragments' answers 'ab'+'cd'+'ef' in three frames;
    'big <n>' answers n bytes; anything else is echoed (binary: its length)."""
    if message.type is FrameType.BINARY:
        await connection.write(b"%d" % len(message.data), FrameType.BINARY)
        return
    text = message.data_as_string()
    if text.startswith("close "):
        await connection.close(int(text.split()[1]), "bye")
    elif text == "fragments":
        await connection.write("ab", FrameType.TEXT, fin=False)
        await connection.write("cd", FrameType.CONTINUE, fin=False)
        await connection.write("ef", FrameType.CONTINUE, fin=True)
    elif text.startswith("big "):
        await connection.write(b"x" * int(text.split()[1]), FrameType.BINARY)
    else:
        await connection.write(text)


def _start(builder: Any) -> Host:
    return Host.create().handler(builder).port(0).development().start()


@pytest.fixture
def chat_host(behind_hub: str) -> Iterator[Host]:
    host = _start(chat())
    try:
        yield host
    finally:
        host.stop()


@pytest.fixture
def probe_host(behind_hub: str) -> Iterator[Host]:
    host = _start(Websocket.functional().on_message(_probe).on_binary(_probe).max_message_size(32 * MiB))
    try:
        yield host
    finally:
        host.stop()


# -- helpers --------------------------------------------------------------------------------------


def _get(jupyter: Any, path: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], str]:
    """GET without following redirects: (status, headers, body)."""
    connection = http.client.HTTPConnection("127.0.0.1", jupyter.port, timeout=10)
    try:
        connection.request("GET", path, headers=headers or {})
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read().decode("utf-8", "replace")
    finally:
        connection.close()


def _through_proxy(jupyter: Any, host: Host, auth: str = "header", **options: Any) -> Any:
    """A websockets client connected to `host` through the proxy, carrying the token."""
    url = jupyter.ws_url(host.client_url)
    options.setdefault("open_timeout", 10)
    if auth == "header":
        options["additional_headers"] = {"Authorization": f"token {jupyter.token}"}
    else:
        url += f"?token={jupyter.token}"
    return websockets_sync.connect(url, **options)


def _wait_until(condition: Callable[[], bool], what: str, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)


def _close_seen(ws: Any) -> tuple[int | None, str | None]:
    """Wait for the connection to end; return the close code and reason the client received."""
    with pytest.raises(ConnectionClosed):
        ws.recv(timeout=10)
    received = ws.protocol.close_rcvd
    return (received.code, received.reason) if received is not None else (None, None)


# -- the page and the token -----------------------------------------------------------------------


def test_client_url_is_the_proxy_path_under_the_prefix(jupyter: Any, chat_host: Host) -> None:
    assert chat_host.client_url == f"{jupyter.base_url}proxy/{chat_host.bound_port}/"
    assert chat_host.direct_client_url == f"http://127.0.0.1:{chat_host.bound_port}/"


@pytest.mark.parametrize("auth", ["query", "header"])
def test_the_client_page_is_served_through_the_proxy(jupyter: Any, chat_host: Host, auth: str) -> None:
    path = chat_host.client_url
    headers = {}
    if auth == "query":
        path += f"?token={jupyter.token}"
    else:
        headers["Authorization"] = f"token {jupyter.token}"
    status, _, body = _get(jupyter, path, headers)
    assert status == 200, body[:500]
    assert "sendForm" in body
    assert "location.pathname" in body  # it builds its WebSocket URL from where it was served


def test_the_proxy_refuses_requests_without_the_token(jupyter: Any, chat_host: Host) -> None:
    # A page request without credentials is sent to the login page (403 would do as well).
    status, headers, _ = _get(jupyter, chat_host.client_url)
    assert status in (302, 403), status
    if status == 302:
        assert "/login" in headers.get("Location", ""), headers
    # A wrong token, and a WebSocket without one, are refused before reaching the host.
    status, _, _ = _get(jupyter, chat_host.client_url, {"Authorization": "token not-the-token"})
    assert status in (302, 403), status
    for url in (jupyter.ws_url(chat_host.client_url), jupyter.ws_url(chat_host.client_url) + "?token=wrong"):
        with pytest.raises(InvalidStatus) as refused:
            websockets_sync.connect(url, open_timeout=10)
        assert refused.value.response.status_code == 403
    assert chat_host.connections == []


# -- messages through the proxy -------------------------------------------------------------------


def test_two_clients_chat_through_the_proxy(jupyter: Any, chat_host: Host) -> None:
    # One client authenticates with the header, the other with ?token= (as the browser page does).
    with _through_proxy(jupyter, chat_host, "header") as first:
        _wait_until(lambda: len(chat_host.connections) == 1, "the first client on the host")
        with _through_proxy(jupyter, chat_host, "query") as second:
            _wait_until(lambda: len(chat_host.connections) == 2, "the second client on the host")
            first.send("hello through the proxy")
            assert first.recv(timeout=10) == "[0]: hello through the proxy"
            assert second.recv(timeout=10) == "[0]: hello through the proxy"
            second.send("hi back")
            assert first.recv(timeout=10) == "[1]: hi back"
            assert second.recv(timeout=10) == "[1]: hi back"
    _wait_until(lambda: chat_host.connections == [], "both clients gone from the host")
    # The host saw the proxy, not the clients: every connection came from loopback.
    opened = [event for event in chat_host.events if type(event).__name__ == "ConnectionOpened"]
    assert len(opened) == 2
    assert all(str(getattr(event, "remote", "")).startswith("127.0.0.1:") for event in opened)


def test_binary_messages_pass(jupyter: Any, probe_host: Host) -> None:
    with _through_proxy(jupyter, probe_host) as ws:
        ws.send(bytes(range(256)) * 4)
        assert ws.recv(timeout=10) == b"1024"


@pytest.mark.parametrize("code", [1000, 1008, 4000])
def test_a_close_code_arrives_as_1005(jupyter: Any, probe_host: Host, code: int) -> None:
    with websockets_sync.connect(probe_host.url, open_timeout=10) as direct:
        direct.send(f"close {code}")
        assert _close_seen(direct) == (code, "bye")
    with _through_proxy(jupyter, probe_host) as proxied:
        proxied.send(f"close {code}")
        # jupyter-server-proxy closes the browser side without a status: code and reason are lost.
        assert _close_seen(proxied) == (1005, "")


def test_fragmented_messages_arrive_merged(jupyter: Any, probe_host: Host) -> None:
    # Host -> client: three frames directly, one frame through the proxy (recv_streaming yields frames).
    with websockets_sync.connect(probe_host.url, open_timeout=10) as direct:
        direct.send("fragments")
        assert list(direct.recv_streaming()) == ["ab", "cd", "ef"]
    with _through_proxy(jupyter, probe_host) as proxied:
        proxied.send("fragments")
        assert list(proxied.recv_streaming()) == ["abcdef"]

    # Client -> host: the host's frame log shows what reached it.
    def frames_in_for(client: Any) -> list[tuple[str, bool, bytes]]:
        before = len(probe_host.frames)
        client.send(["12", "34", "56"])  # a message in three fragments
        assert client.recv(timeout=10) == "123456"
        return [(f.type_name, f.fin, bytes(f.preview)) for f in probe_host.frames[before:] if f.direction == "in"]

    with websockets_sync.connect(probe_host.url, open_timeout=10) as direct:
        direct_frames = frames_in_for(direct)
    with _through_proxy(jupyter, probe_host) as proxied:
        proxied_frames = frames_in_for(proxied)
    assert [kind for kind, _, _ in direct_frames][:3] == ["TEXT", "CONTINUE", "CONTINUE"]
    assert proxied_frames == [("TEXT", True, b"123456")]


def test_the_proxy_limits_messages_to_10_mib(jupyter: Any, probe_host: Host) -> None:
    # Exactly 10 MiB passes both ways.
    with _through_proxy(jupyter, probe_host, max_size=None) as ws:
        ws.send(b"y" * (10 * MiB))
        assert ws.recv(timeout=20) == b"%d" % (10 * MiB)
        ws.send(f"big {10 * MiB}")
        assert len(ws.recv(timeout=20)) == 10 * MiB
    # More, from the client: the proxy closes with 1009 (or resets the connection while the client
    # is still writing, when its close frame is lost: then no code at all).
    with _through_proxy(jupyter, probe_host, max_size=None) as ws:
        with pytest.raises(ConnectionClosed):
            ws.send(b"y" * (11 * MiB))
            ws.recv(timeout=20)
        received = ws.protocol.close_rcvd
        assert received is None or received.code == 1009, received
    # More, from the host: it never arrives and the client sees the usual 1005.
    with _through_proxy(jupyter, probe_host, max_size=None) as ws:
        ws.send(f"big {11 * MiB}")
        assert _close_seen(ws) == (1005, "")


def test_the_proxy_picks_the_first_offered_subprotocol(jupyter: Any, behind_hub: str) -> None:
    host = _start(Websocket.functional().on_message(_probe).subprotocols("second"))
    try:
        with websockets_sync.connect(host.url, subprotocols=["first", "second"], open_timeout=10) as direct:
            assert direct.subprotocol == "second"  # the host's choice
        with _through_proxy(jupyter, host, subprotocols=["first", "second"]) as proxied:
            # The proxy answers the browser before the host has chosen (jupyter-server-proxy #459).
            assert proxied.subprotocol == "first"
            proxied.send("still works")
            assert proxied.recv(timeout=10) == "still works"
    finally:
        host.stop()


# -- permessage-deflate ---------------------------------------------------------------------------

PROXY_OFFER = "permessage-deflate; client_max_window_bits"  # tornado's client, as jupyter-server-proxy 4.6 opens it
OFFERS = {
    "none": dict(compression=None),
    "websockets' default": {},
    "other parameters": dict(compression=None, extensions=[ClientPerMessageDeflateFactory(server_no_context_takeover=True, client_max_window_bits=10)]),
}


def _opened(host: Host) -> Any:
    return [event for event in host.events if event.kind == "open"][-1]


@pytest.mark.parametrize("offer", list(OFFERS))
def test_the_proxy_compresses_towards_the_host_and_not_the_client(jupyter: Any, probe_host: Host, offer: str) -> None:
    text = "compress me, " * 100
    with websockets_sync.connect(probe_host.url, open_timeout=10, **OFFERS[offer]) as direct:
        direct_answer = direct.response.headers.get("Sec-WebSocket-Extensions")
    with _through_proxy(jupyter, probe_host, **OFFERS[offer]) as proxied:
        assert proxied.protocol.extensions == [] and proxied.response.headers.get("Sec-WebSocket-Extensions") is None
        proxied.send(text)
        assert proxied.recv(timeout=10) == text
        proxied.send("hi")
        assert proxied.recv(timeout=10) == "hi"
        opened = _opened(probe_host)
        offered = [v for k, v in opened.request_headers if k.lower() == "sec-websocket-extensions"]
        # The host is offered the proxy's own extension, not the client's (the same for every client).
        assert offered == [PROXY_OFFER] and opened.extensions == "permessage-deflate"
        frames = [f for f in probe_host.frames if f.connection == opened.connection and f.opcode == 1]
    assert (direct_answer is None) == (offer == "none")  # directly, the host would have compressed with this client
    # Every message between the proxy and the host went compressed, both ways, tiny ones too
    # (a 2-byte "hi" takes 4 bytes deflated).
    assert [(f.direction, f.compressed, f.rsv[0], f.payload) for f in frames] == [
        ("in", True, True, text.encode()), ("out", True, True, text.encode()), ("in", True, True, b"hi"), ("out", True, True, b"hi"),
    ]  # fmt: skip
    assert frames[0].length < 50 and frames[2].length > 2


def test_an_endpoint_without_compression_talks_plain_to_the_proxy(jupyter: Any, behind_hub: str) -> None:
    host = _start(Websocket.functional().on_message(_probe).compression(None))
    try:
        with _through_proxy(jupyter, host) as proxied:
            proxied.send("compress me, " * 100)
            assert proxied.recv(timeout=10) == "compress me, " * 100
            opened = _opened(host)
            assert [v for k, v in opened.request_headers if k.lower() == "sec-websocket-extensions"] == [PROXY_OFFER]
            assert opened.extensions is None  # declined: the proxy goes on without it
            frames = [f for f in host.frames if f.opcode == 1]
        assert [(f.direction, f.compressed, f.rsv[0]) for f in frames] == [("in", False, False), ("out", False, False)]
    finally:
        host.stop()
