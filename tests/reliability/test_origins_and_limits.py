"""Who may connect, and how many: the origin policy (403), max connections (503), request size (431).

Handshakes are sent by hand so each header is exactly what a browser (or an attacker) would send.
"""

from __future__ import annotations

import contextlib
import random
import time

import pytest

from wsplay import Host
from wsplay.observe import LimitHit, Notice, Refused

FOREIGN = "https://evil.example"


def refused(host) -> list[Refused]:
    return [e for e in host.recorder.events("refused") if isinstance(e, Refused)]


# -- origins ------------------------------------------------------------------------------------------


def test_foreign_origin_gets_403_and_a_refusal_that_says_how_to_allow_it(hosts, rel, raw_client) -> None:
    host = hosts()
    client = raw_client(host.bound_port)
    client.send(rel.upgrade_request(host.bound_port, origin=FOREIGN))
    answer = client.read_http()
    assert answer.status == 403, answer
    assert b".allowed_origins(" in answer.body and b".allow_any_origin()" in answer.body
    assert client.read_until_eof(2 * rel.UNIT) == b""  # and the connection is closed
    assert rel.wait_for(lambda: refused(host), 2 * rel.UNIT)
    (event,) = refused(host)
    assert event.status == 403 and FOREIGN in event.reason
    assert f".allowed_origins([{FOREIGN!r}])" in event.reason and ".allow_any_origin()" in event.reason
    assert host.connections == []


@pytest.mark.parametrize(
    "origin",
    [
        None,  # non-browser clients send no Origin
        "null",  # a page opened from a file
        "http://localhost:8888",
        "http://localhost:1",
        "HTTP://LOCALHOST:9999",
        "http://127.0.0.1:8888",
        "http://127.0.0.1:54321",
        "http://[::1]:8888",
        "http://127.0.0.1",
    ],
)
def test_local_and_absent_origins_connect(hosts, rel, raw_client, origin) -> None:
    host = hosts()
    client = raw_client(host.bound_port)
    client.handshake(rel.upgrade_request(host.bound_port, origin=origin))
    client.send(rel.mask_frame(1, b"hi"))
    frames, _ = rel.parse_server_frames(_read_some(client, rel))
    assert frames[0][1:] == (1, False, b"hi")
    assert refused(host) == []


def _read_some(client, rel) -> bytes:
    deadline = time.monotonic() + 2 * rel.UNIT
    while not rel.parse_server_frames(bytes(client.buf))[0]:
        client._fill(deadline)
    return bytes(client.buf)


@pytest.mark.parametrize(
    "origin",
    [
        FOREIGN,
        "http://localhost.evil.example",  # a name that only starts like localhost
        "http://127.0.0.1.evil.example",
        "http://localhost@evil.example",  # userinfo trick: the host is evil.example
        "https://example.org.evil.example",
        "file://",
        "http://127.0.0.2:8888",
        # Not serialized origins (no browser sends these), each hiding a local name somewhere:
        "http://evil.example\\@localhost",  # a browser reads the backslash as a path: the host is evil.example
        "http://evil.example:80@localhost",
        "http://localhost:1, https://evil.example",
        "http://[::1].evil.example",
    ],
)
def test_lookalike_origins_are_refused(hosts, rel, raw_client, origin) -> None:
    host = hosts(configure=lambda h: h.allowed_origins(["https://example.org"]))
    client = raw_client(host.bound_port)
    client.send(rel.upgrade_request(host.bound_port, origin=origin))
    assert client.read_http().status == 403


def test_allowed_origins_lets_that_origin_in_and_no_other(hosts, rel, raw_client) -> None:
    host = hosts(configure=lambda h: h.allowed_origins(["https://example.org"]))
    port = host.bound_port
    raw_client(port).handshake(rel.upgrade_request(port, origin="https://example.org"))
    raw_client(port).handshake(rel.upgrade_request(port, origin="https://EXAMPLE.org/"))  # origins are case-insensitive
    for other in ("https://example.org:8443", "http://example.org", FOREIGN):
        client = raw_client(port)
        client.send(rel.upgrade_request(port, origin=other))
        assert client.read_http().status == 403, other


def test_allow_any_origin_lets_all_in(hosts, rel, raw_client) -> None:
    host = hosts(configure=lambda h: h.allow_any_origin())
    port = host.bound_port
    for origin in (FOREIGN, "http://evil.test:1234", "null", None):
        raw_client(port).handshake(rel.upgrade_request(port, origin=origin))
    assert refused(host) == []


def test_dns_rebinding_is_refused_on_a_loopback_host(hosts, rel, raw_client) -> None:
    """A hostile name resolving to 127.0.0.1: Origin and Host agree, but the name is not local."""
    host = hosts()
    port = host.bound_port
    client = raw_client(port)
    client.send(rel.upgrade_request(port, origin=f"http://evil.test:{port}", host=f"evil.test:{port}"))
    assert client.read_http().status == 403
    # The same page served by this host under its IP address is the same host, and may connect.
    raw_client(port).handshake(rel.upgrade_request(port, origin=f"http://127.0.0.1:{port}", host=f"127.0.0.1:{port}"))


def test_jupyterhub_prefix_accepts_what_the_proxy_forwards(hosts, rel, raw_client, monkeypatch) -> None:
    monkeypatch.setenv("JUPYTERHUB_SERVICE_PREFIX", "/user/x/")
    host = hosts()  # the variable is read by start()
    port = host.bound_port
    client = raw_client(port)
    client.handshake(rel.upgrade_request(port, origin="https://hub.example.org", host="hub.example.org"))
    assert refused(host) == []
    # Without the variable, a host started afterwards is back to the default policy.
    monkeypatch.delenv("JUPYTERHUB_SERVICE_PREFIX")
    plain = hosts()
    client = raw_client(plain.bound_port)
    client.send(rel.upgrade_request(plain.bound_port, origin="https://hub.example.org"))
    assert client.read_http().status == 403


def test_binding_every_interface_in_development_mode_records_a_notice(rel, raw_client) -> None:
    host = Host.create().handler(rel.echo_builder()).bind("0.0.0.0").port(0).development().close_timeout(2 * rel.UNIT)
    try:
        host.start()
        notices = [e for e in host.recorder.events("notice") if isinstance(e, Notice)]
        assert notices and "every interface" in notices[0].message and ".bind('127.0.0.1')" in notices[0].message
        port = host.bound_port
        with rel.ws_client(f"ws://127.0.0.1:{port}/") as ws:  # reached only through loopback
            rel.check_echo(ws, random.Random(1), rounds=2)
        # DNS rebinding to 127.0.0.1 reaches a server on every interface too: refused all the same.
        client = raw_client(port)
        client.send(rel.upgrade_request(port, origin=f"http://evil.test:{port}", host=f"evil.test:{port}"))
        assert client.read_http().status == 403
        local = raw_client(port)
        local.handshake(rel.upgrade_request(port, origin=f"http://127.0.0.1:{port}"))
        local.close()
    finally:
        host.stop()


def test_loopback_binding_records_no_notice(hosts) -> None:
    host = hosts(configure=lambda h: h.development())
    assert host.recorder.events("notice") == []


# -- max connections ----------------------------------------------------------------------------------


def test_one_connection_too_many_gets_503_with_retry_after(hosts, rel, raw_client) -> None:
    unit = rel.UNIT
    host = hosts(configure=lambda h: h.max_connections(3))
    port = host.bound_port
    rng = random.Random(3)
    with contextlib.ExitStack() as stack:
        clients = [stack.enter_context(rel.ws_client(host.url)) for _ in range(3)]
        for ws in clients:
            rel.check_echo(ws, rng)
        extra = raw_client(port)
        extra.send(rel.upgrade_request(port))
        answer = extra.read_http()
        assert answer.status == 503, answer
        assert answer.header("retry-after") is not None and int(answer.header("retry-after")) > 0
        assert b"limit of 3 connections" in answer.body
        assert rel.wait_for(lambda: host.recorder.events("limit"), 2 * unit)
        (hit,) = [e for e in host.recorder.events("limit") if isinstance(e, LimitHit)]
        assert hit.limit == "connections" and hit.value == 3 and hit.code == 503
        assert [e.status for e in refused(host)] == [503]
        clients.pop().close()
        assert rel.wait_for(lambda: len(host.connections) == 2, 2 * unit)
        with rel.ws_client(host.url) as again:
            rel.check_echo(again, rng)
        for ws in clients:
            rel.check_echo(ws, rng)


# -- request size -------------------------------------------------------------------------------------


@pytest.mark.parametrize("chunked", [False, True])
def test_request_head_over_the_limit_gets_431(hosts, rel, raw_client, chunked) -> None:
    host = hosts(configure=lambda h: h.max_request_size(2048))
    port = host.bound_port
    big = rel.upgrade_request(port, extra=[(f"X-Pad-{i}", "x" * 100) for i in range(30)])  # ~3.5 KB
    assert len(big) > 2048
    client = raw_client(port)
    if chunked:
        for i in range(0, len(big), 100):
            try:
                client.send(big[i : i + 100])
            except OSError:
                break  # answered and closed before the rest was sent
    else:
        client.send(big)
    answer = client.read_http()
    assert answer.status == 431, answer
    # A head just under the limit is fine.
    small = rel.upgrade_request(port, extra=[("X-Pad", "x" * (2000 - len(rel.upgrade_request(port))))])
    assert len(small) <= 2048
    raw_client(port).handshake(small)


def test_default_limits(rel) -> None:
    """The defaults the README states."""
    from wsplay.core.options import Settings
    from wsplay.engine.options import ServerOptions

    settings, options = Settings(), ServerOptions()
    assert settings.max_message_size == 16 * 1024 * 1024
    assert options.handshake_timeout == 10.0 and options.close_timeout == 10.0
    assert options.max_request_size == 16 * 1024
    assert options.max_connections == 4096
    assert options.write_high_water == 64 * 1024 and options.max_write_buffer == 32 * 1024 * 1024
