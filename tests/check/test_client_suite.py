"""The client suite against three clients: wsplay's own, the `websockets` library's, and a deliberately
sloppy one (tests/sloppyws.py) whose every non-OK verdict must be one of its three defects.

Each client is driven through the suite's convention (a function of the case URL, run in a thread),
with a close timeout of one UNIT so that case 7.1.5 (a server that never closes TCP) is short.
"""

from __future__ import annotations

import asyncio
import fnmatch

import pytest
import websockets

from wsplay import check
from wsplay.check import Result, Verdict

from sloppyws import sloppy_client
from testenv import UNIT

TIMEOUT = 3 * UNIT
QUIET = 0.3 * UNIT


def not_ok(result: Result) -> dict[str, str]:
    return {c.id: c.verdict.value for c in result if c.verdict is not Verdict.OK}


def summary(name: str, result: Result) -> str:
    return "\n".join([f"{name}: {result.counts}"] + [f"  {c.id} {c.verdict.value}: {c.actual} ({c.note})" for c in result if c.verdict is not Verdict.OK])


@pytest.fixture(scope="module")
def wsplay_result() -> Result:
    return check.client(check.drivers.wsplay_echo(close_timeout=UNIT), timeout=TIMEOUT, quiet=QUIET)


@pytest.fixture(scope="module")
def websockets_result() -> Result:
    return check.client(check.drivers.websockets_echo(close_timeout=UNIT), timeout=TIMEOUT, quiet=QUIET)


@pytest.fixture(scope="module")
def sloppy_result() -> Result:
    return check.client(sloppy_client, timeout=TIMEOUT, quiet=QUIET)


def test_wsplay_s_client_is_ok_in_every_case(wsplay_result: Result) -> None:
    print(summary("wsplay client", wsplay_result))
    assert [c.id for c in wsplay_result] == [c.id for c in check.client_cases()] and len(wsplay_result) == 73
    assert not_ok(wsplay_result) == {
        "1.4.3": "INFORMATIONAL",  # a length in a longer form than needed: the RFC leaves the receiver free
        "13.2.3": "INFORMATIONAL",  # not applicable: wsplay offers client_max_window_bits, as browsers do
    }, wsplay_result.table()
    assert "closed TCP" in wsplay_result["7.1.5"].actual  # it does not wait forever for a server that never closes


def test_the_websockets_client(websockets_result: Result) -> None:
    print(summary(f"websockets {websockets.__version__} client", websockets_result))
    assert websockets_result.failed == [], websockets_result.table()
    if websockets.__version__.startswith("17."):  # measured with 17.4
        assert not_ok(websockets_result) == {
            "1.4.2": "NON-STRICT",  # 1009 (its 1 MiB limit) for a length with its top bit set, not 1002
            "1.4.3": "INFORMATIONAL",
            "6.4.1": "NON-STRICT",  # invalid UTF-8 found only when the message is complete
            "7.1.5": "NON-STRICT",  # the sync client keeps TCP open while the server does, close_timeout or not
            "13.2.3": "INFORMATIONAL",
        }, websockets_result.table()


SLOPPY = {
    "FAILED": ["1.4.1", "11.2.1", "11.2.2", "6.2.*", "6.3.2", "6.4.1"],  # masked server frames; no accept check; no UTF-8 check
    "NON-STRICT": ["7.2.5"],  # a close reason that is not UTF-8 answered like any close (1000)
    "INFORMATIONAL": ["1.4.3", "12.*", "13.*"],  # it offers no permessage-deflate: nothing to check
}


def test_the_sloppy_client_is_caught_exactly_where_it_is_wrong(sloppy_result: Result) -> None:
    print(summary("sloppy client", sloppy_result))
    want = {c.id: v for c in sloppy_result for v, patterns in SLOPPY.items() if any(fnmatch.fnmatchcase(c.id, p) for p in patterns)}
    assert not_ok(sloppy_result) == want, sloppy_result.table()
    assert "accepted the answer and echoed" in sloppy_result["11.2.1"].actual


def test_a_client_that_never_connects_is_failed_not_waited_for() -> None:
    def gives_up(url: str) -> None:
        raise ConnectionRefusedError("not today")

    def hangs(url: str) -> None:
        import time

        time.sleep(3 * UNIT)

    result = check.client(gives_up, cases="1.1.1,2.1", timeout=TIMEOUT)
    assert [c.verdict for c in result] == [Verdict.FAILED, Verdict.FAILED]
    assert "raised ConnectionRefusedError: not today without connecting" in result["1.1.1"].actual
    result = check.client(hangs, cases="1.1.1", timeout=UNIT)
    assert result["1.1.1"].verdict is Verdict.FAILED and "no connection within" in result["1.1.1"].actual
    assert result.duration < 4 * UNIT


def test_a_coroutine_driver_runs_on_wsplay_s_loop() -> None:
    import wsplay

    async def drive(url: str) -> None:
        client = await wsplay.connect(url, close_timeout=UNIT, compression=None)
        async for frame in client:
            if frame.type in (wsplay.FrameType.TEXT, wsplay.FrameType.BINARY):
                await client.send(frame.data_as_string() if frame.type is wsplay.FrameType.TEXT else frame.data)

    result = check.client(drive, cases="1.1.*,5.2,11.2.1,13.1.1", timeout=TIMEOUT)
    assert not_ok(result) == {"13.1.1": "INFORMATIONAL"}, result.table()  # compression=None: no offer
    assert asyncio.iscoroutinefunction(drive)


def test_the_scripted_server_grants_what_the_client_s_offer_asks() -> None:
    from wsplay.protocol.deflate import Compression

    strict = Compression(server_no_context_takeover=True, server_max_window_bits=10, client_max_window_bits=9)
    result = check.client(check.drivers.wsplay_echo(close_timeout=UNIT, compression=strict), cases="12.*,13.1.1", timeout=TIMEOUT, quiet=QUIET)
    assert not_ok(result) == {}, result.table()
    answer = next(e.text for e in result["12.2.2"].trace.entries if e.text.startswith("HTTP answer"))
    assert "server_no_context_takeover; server_max_window_bits=10; client_max_window_bits=9" in answer  # 10 asked, the offered 9 kept
