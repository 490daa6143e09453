"""TLS: wss:// and https:// with certificates made by trustme (a test CA; no key is committed).

The independent peers are the `websockets` client and Python's own ssl module; the hostile ones are
raw sockets that send garbage, plain HTTP, or nothing at all to the TLS port.
"""

from __future__ import annotations

import logging
import socket
import ssl
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable

import pytest
from websockets.sync.client import connect as ws_connect

import wsplay
from wsplay import Host

from testenv import UNIT, echo_endpoint, wait_for

trustme = pytest.importorskip("trustme")


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


def start_tls_host(hosts: Callable[..., Host], ca: trustme.CA, handshake_timeout: float) -> Host:
    cert = ca.issue_cert("127.0.0.1", "localhost")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(context)
    return hosts(echo_endpoint(), development=True, configure=lambda h: h.tls(context).handshake_timeout(handshake_timeout))


@pytest.fixture
def tls_host(hosts: Callable[..., Host], ca: trustme.CA) -> Host:
    return start_tls_host(hosts, ca, 5 * UNIT)


def trusting(ca: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context()
    ca.configure_trust(context)
    return context


def test_websockets_client_over_wss_with_compression(tls_host: Host, ca: trustme.CA) -> None:
    assert tls_host.url.startswith("wss://127.0.0.1:") and tls_host.secure
    with ws_connect(tls_host.url, ssl=trusting(ca), open_timeout=5 * UNIT) as ws:
        ws.send("over TLS, compressed")
        assert ws.recv(timeout=2 * UNIT) == "over TLS, compressed"
        assert ws.protocol.extensions  # permessage-deflate inside TLS
    opened = tls_host.recorder.events("open")[-1]
    assert opened.url.startswith("wss://")


def test_wsplay_client_trusts_a_test_ca_it_is_given_and_nothing_else(tls_host: Host, ca: trustme.CA, clients) -> None:
    client = clients(tls_host.url, ssl=trusting(ca))
    client.send("hello")
    assert client.receive_text(timeout=2 * UNIT) == "hello"
    with pytest.raises(ssl.SSLCertVerificationError):  # the default: the system's CAs, which do not know ours
        clients(tls_host.url)
    with pytest.raises(ValueError, match="wss://"):
        wsplay.Client(tls_host.url.replace("wss://", "ws://"), ssl=trusting(ca))


def test_the_client_page_over_https(tls_host: Host, ca: trustme.CA) -> None:
    assert tls_host.client_url.startswith("https://")
    with urllib.request.urlopen(tls_host.client_url, context=trusting(ca), timeout=2 * UNIT) as response:
        assert response.status == 200 and b"<html" in response.read().lower()


@pytest.mark.parametrize(
    "what",
    [
        b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n\r\n",  # plain HTTP on the TLS port
        bytes(range(256)) * 4,  # garbage
    ],
    ids=["plain-http", "garbage"],
)
def test_a_peer_that_does_not_speak_tls_is_dropped_quietly(tls_host: Host, ca: trustme.CA, what: bytes, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    with ws_connect(tls_host.url, ssl=trusting(ca), open_timeout=5 * UNIT) as healthy:
        with socket.create_connection(("127.0.0.1", tls_host.bound_port), timeout=2 * UNIT) as raw:
            raw.sendall(what)
            raw.settimeout(2 * UNIT)
            try:
                while raw.recv(4096):  # an alert at most, then the end
                    pass
            except ConnectionResetError:
                pass
        healthy.send("still fine")
        assert healthy.recv(timeout=2 * UNIT) == "still fine"
    if not tls_host.server.tls_in_listener:  # asyncio's loop: TLS runs in the HTTP phase, failures are events
        wait_for(lambda: any(e.kind == "refused" and "TLS" in e.reason for e in tls_host.events), what="the recorded failure")
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING or r.exc_info], [r.getMessage() for r in caplog.records]
    assert tls_host.running and tls_host.errors == []
    wait_for(lambda: tls_host.server.handshaking == 0, what="nothing left of the dropped connection")


def test_a_tls_slowloris_is_cut_at_the_handshake_timeout(hosts, ca: trustme.CA) -> None:
    tls_host = start_tls_host(hosts, ca, 1 * UNIT)
    with ws_connect(tls_host.url, ssl=trusting(ca), open_timeout=5 * UNIT) as healthy:
        silent = socket.create_connection(("127.0.0.1", tls_host.bound_port), timeout=5 * UNIT)
        started = time.monotonic()
        assert silent.recv(1) == b""  # dropped, without a word
        took = time.monotonic() - started
        silent.close()
        healthy.send("unaffected")
        assert healthy.recv(timeout=2 * UNIT) == "unaffected"
    assert 0.8 * UNIT <= took < 2.5 * UNIT  # the handshake timeout is 1 unit; it covers the TLS handshake
    if not tls_host.server.tls_in_listener:  # uvloop: the listener does TLS, and records no event
        assert any("no TLS handshake within" in e.reason for e in tls_host.events if e.kind == "refused")


def test_the_command_line_serves_tls(tmp_path, ca: trustme.CA) -> None:
    cert = ca.issue_cert("127.0.0.1")
    cert.private_key_and_cert_chain_pem.write_to_path(str(tmp_path / "server.pem"))
    server = subprocess.Popen(
        [sys.executable, "-m", "wsplay", "serve", "--example", "echo", "--port", "0", "--quiet", "--certfile", str(tmp_path / "server.pem")],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        url = server.stdout.readline().strip()
        assert url.startswith("wss://127.0.0.1:"), server.stderr.read() if server.poll() is not None else url
        with ws_connect(url, ssl=trusting(ca), open_timeout=5 * UNIT) as ws:
            ws.send("cli")
            assert ws.recv(timeout=2 * UNIT) == "cli"
    finally:
        server.terminate()
        assert server.wait(10 * UNIT) == 0
        server.stdout.close()
        server.stderr.close()
    bad = subprocess.run([sys.executable, "-m", "wsplay", "serve", "--port", "0", "--certfile", str(tmp_path / "missing.pem")],
                         capture_output=True, text=True, timeout=30 * UNIT)
    assert bad.returncode == 2 and "certificate" in bad.stderr
