"""wsplay.workshop: the debugging hunt's server has exactly its one bug, and the capstone checker has teeth.

The notebooks run the same material (tests/notebooks); these tests pin the behaviour the notebooks'
text relies on, with the `websockets` client as an independent peer where the wire matters.
"""

from __future__ import annotations

import pytest
from websockets.exceptions import ConnectionClosedError
from websockets.sync.client import connect

import wsplay
import wsplay.examples
from wsplay import Host, Websocket
from wsplay.workshop import capstone, hunt

from testenv import UNIT


@pytest.fixture
def shout():
    host = Host.create().handler(hunt.shout_server()).port(0).start()
    yield host
    host.stop()


@pytest.mark.parametrize("text", ["hi", "hello world", "websocket", "x" * 7, "x" * 9, "é" * 11])
def test_the_shout_server_answers_most_messages(shout, text):
    with connect(shout.url, compression=None) as ws:
        ws.send(text)
        assert ws.recv(timeout=2 * UNIT) == text.upper()


@pytest.mark.parametrize("length", [8, 16, 24])
def test_a_multiple_of_eight_leaves_the_message_open_and_the_next_one_fails_the_connection(shout, length):
    """The hunt's bug: the last fragment of an answer whose length is a multiple of 8 has FIN = 0."""
    client = wsplay.connect(shout.url, compression=None)
    try:
        client.send("a" * length)
        with pytest.raises(TimeoutError):
            client.receive(timeout=0.3 * UNIT)  # the answer never completes
        last = [r for r in client.frames if r.direction == "in"][-1]
        assert last.type_name in ("TEXT", "CONTINUE") and not last.fin
        client.send("next")
        client.receive(timeout=2 * UNIT)  # the ERROR frame: the client failed the connection
        client.wait_closed()
        assert client.close_code == 1002 and client.closed_by == "client"
        assert "fragmented message is open" in client.close_reason
    finally:
        client.close()


def test_the_independent_client_sees_the_same_bug(shout):
    with connect(shout.url, compression=None) as ws:
        ws.send("abcdefgh")
        ws.send("next")
        with pytest.raises(ConnectionClosedError) as failure:
            ws.recv(timeout=2 * UNIT)
    assert failure.value.sent is not None and failure.value.sent.code == 1002


def test_an_empty_message_gets_no_answer_at_all(shout):
    client = wsplay.connect(shout.url, compression=None)
    try:
        client.send("")
        with pytest.raises(TimeoutError):
            client.receive(timeout=0.3 * UNIT)
        assert client.state == "open"
    finally:
        client.close()


def test_the_capstone_checker_fails_a_plain_chat_and_says_what_is_missing():
    host = Host.create().handler(wsplay.examples.chat()).port(0).start()
    try:
        report = capstone.check(host.url)
    finally:
        host.stop()
    assert not report.passed
    assert [item.passed for item in report.items] == [False, False, False, None]
    assert all(item.hint for item in report.items[:3])
    text = repr(report)
    assert "4 of 4 still missing" in text and "hint:" in text and "checked once item 2 works" in text
    assert "<table>" in report._repr_html_()


def test_the_capstone_checker_reports_a_dead_server_without_raising():
    host = Host.create().handler(Websocket.functional()).port(0).start()
    url = host.url
    host.stop()
    report = capstone.check(url)
    assert [item.passed for item in report.items] == [False, False, False, None]
    assert "ConnectionRefusedError" in report.items[0].detail or "refused" in report.items[0].detail.lower()

