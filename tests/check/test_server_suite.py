"""The server suite against three servers: wsplay's own, the `websockets` library's, and a deliberately
sloppy one (tests/sloppyws.py) whose every non-OK verdict must be one of its three defects.

Each suite runs once per server (a module-scoped result); the tests read it.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterator

import pytest
import websockets

from wsplay import Host, check
from wsplay.check import Result, Verdict

from testenv import UNIT, echo_endpoint

TIMEOUT = 5 * UNIT
QUIET = 0.3 * UNIT


def not_ok(result: Result) -> dict[str, str]:
    return {c.id: c.verdict.value for c in result if c.verdict is not Verdict.OK}


def summary(name: str, result: Result) -> str:
    lines = [f"{name}: {result.counts}"]
    lines += [f"  {c.id} {c.verdict.value}: {c.actual} ({c.note})" for c in result if c.verdict is not Verdict.OK]
    return "\n".join(lines)


@pytest.fixture(scope="module")
def wsplay_result() -> Iterator[Result]:
    host = Host.create().handler(echo_endpoint()).port(0).close_timeout(2 * UNIT).start()
    try:
        yield check.server(host.url, timeout=TIMEOUT, quiet=QUIET)
    finally:
        host.stop()


@pytest.fixture(scope="module")
def websockets_result(websockets_url: str) -> Result:
    return check.server(websockets_url, timeout=TIMEOUT, quiet=QUIET)


@pytest.fixture(scope="module")
def sloppy_result(sloppy_url: str) -> Result:
    return check.server(sloppy_url, timeout=TIMEOUT, quiet=QUIET)


def test_every_case_runs_once_in_order(wsplay_result: Result) -> None:
    ids = [c.id for c in wsplay_result]
    assert ids == [c.id for c in check.server_cases()] and len(set(ids)) == len(ids) == 146
    assert [c.section_title for c in wsplay_result][:1] == ["1 Framing"]
    assert set(wsplay_result.sections) == {
        "1 Framing", "2 Pings and pongs", "3 Reserved bits", "4 Opcodes", "5 Fragmentation", "6 UTF-8", "7 Close",
        "9 Limits", "11 Opening handshake", "12 permessage-deflate: messages", "13 permessage-deflate: negotiation",
    }  # fmt: skip


def test_wsplay_s_server_is_ok_in_every_case(wsplay_result: Result) -> None:
    print(summary("wsplay server", wsplay_result))
    # 1.4.3 (a length in a longer form than needed) is INFORMATIONAL for everyone: RFC 6455 says how a
    # sender encodes a length, not what a receiver does with a longer form. wsplay accepts it.
    assert not_ok(wsplay_result) == {"1.4.3": "INFORMATIONAL"}, wsplay_result.table()


def test_the_websockets_server(websockets_result: Result) -> None:
    print(summary(f"websockets {websockets.__version__} server", websockets_result))
    assert websockets_result.failed == [], websockets_result.table()
    if websockets.__version__.startswith("17."):  # measured with 17.4; a later release may differ
        assert not_ok(websockets_result) == {
            "1.4.2": "NON-STRICT",  # 1009 (its 1 MiB limit) for a length with its top bit set, not 1002
            "1.4.3": "INFORMATIONAL",
            "5.11": "NON-STRICT",  # 1002 "incomplete fragmented message" for a close between fragments
            "6.4.1": "NON-STRICT",  # invalid UTF-8 found only when the message is complete
            "6.4.2": "NON-STRICT",  # ... and only when the frame is complete
            "11.2.1": "NON-STRICT",  # 400 without Sec-WebSocket-Version: 13 for version 8
            "11.2.8": "NON-STRICT",  # 101 to a request without Host
        }, websockets_result.table()


# The sloppy server's defects, and the cases each one must show up in (and no other case may).
WRONG_CLOSE_CODE = ["1.4.2", "2.4", "3.*", "4.*", "5.6", "5.7", "5.8", "5.9", "5.10", "7.2.1", "7.2.2", "7.4.*", "9.2.1"]
NO_MASK_CHECK = ["1.4.1"]
NO_UTF8_CHECK = ["6.2.*", "6.3.3", "6.3.4", "6.4.*"]
# A close reason that is not UTF-8 is answered like any close, with 1000: no UTF-8 check, then the
# wrong code. On the wire that is a connection "failed" with 1000: NON-STRICT.
NO_UTF8_CHECK_THEN_1000 = ["7.2.3"]
NO_DEFLATE = ["12.*", "13.1.*", "13.3.1"]  # it does not negotiate permessage-deflate: nothing to check
EVERYONE = ["1.4.3"]


def expected_sloppy_verdicts(ids: list[str]) -> dict[str, str]:
    table = [(WRONG_CLOSE_CODE + NO_UTF8_CHECK_THEN_1000, "NON-STRICT"), (NO_MASK_CHECK + NO_UTF8_CHECK, "FAILED"), (NO_DEFLATE + EVERYONE, "INFORMATIONAL")]
    out = {}
    for patterns, verdict in table:
        for case_id in ids:
            if any(fnmatch.fnmatchcase(case_id, p) for p in patterns):
                assert case_id not in out, case_id
                out[case_id] = verdict
    return out


def test_the_sloppy_server_is_caught_exactly_where_it_is_wrong(sloppy_result: Result) -> None:
    print(summary("sloppy server", sloppy_result))
    want = expected_sloppy_verdicts([c.id for c in sloppy_result])
    assert not_ok(sloppy_result) == want, sloppy_result.table()
    assert sloppy_result.counts == {"OK": 74, "NON-STRICT": 40, "INFORMATIONAL": 19, "FAILED": 13}
    assert "accepted it and went on" in sloppy_result["1.4.1"].actual
    assert sloppy_result["3.1"].actual.startswith("close 1000") and "1000 says all went well" in sloppy_result["3.1"].note


def test_every_verdict_that_is_not_ok_says_why(wsplay_result: Result, websockets_result: Result, sloppy_result: Result) -> None:
    for result in (wsplay_result, websockets_result, sloppy_result):
        for c in result:
            assert c.expected and c.actual and c.rfc.startswith("RFC"), c
            if c.verdict in (Verdict.NON_STRICT, Verdict.INFORMATIONAL):
                assert c.note, c


def test_malformed_frames_are_sent_as_built_by_hand(sloppy_result: Result) -> None:
    """What went on the wire is what the case is about: nothing "fixed" by an encoder."""

    def first_out(case_id: str):  # type: ignore[no-untyped-def]
        return next(e.frame for e in sloppy_result[case_id].trace.frames if e.direction == "out")

    assert first_out("1.4.1").masked is False
    assert first_out("3.4").rsv == 7 and first_out("3.2").rsv == 2
    assert [first_out(f"4.2.{i}").opcode for i in range(1, 6)] == [11, 12, 13, 14, 15]
    assert first_out("2.4").opcode == 9 and first_out("2.4").length == 126
    assert first_out("7.2.1").payload == b"\x03"
    assert first_out("1.4.2").header[1] & 0x7F == 127 and first_out("1.4.2").header[2] & 0x80
    assert first_out("1.4.3").length_form == 16 and first_out("1.4.3").length == 5
    assert first_out("6.2.2").payload == b"\xc0\xaf"
    for c in sloppy_result:  # every client frame the suite meant to mask carries a mask key
        for e in c.trace.frames:
            if e.direction == "out" and c.id != "1.4.1":
                assert e.frame is not None and e.frame.masked, (c.id, e.text)


def test_a_section_or_a_few_cases(sloppy_url: str) -> None:
    result = check.server(sloppy_url, cases="2.*,7.3.14", timeout=TIMEOUT, quiet=QUIET)
    assert [c.id for c in result] == ["2.1", "2.2", "2.3", "2.4", "2.5", "2.6", "2.7", "7.3.14"]
    with pytest.raises(ValueError, match="no case matches '8.1'"):
        check.server(sloppy_url, cases="8.1")


def test_a_small_message_limit_is_informational_not_a_failure(hosts) -> None:  # type: ignore[no-untyped-def]
    host = hosts(echo_endpoint().max_message_size(1000))
    result = check.server(host.url, cases="1.1.*,9.*", timeout=TIMEOUT, quiet=QUIET)
    assert not_ok(result) == {"1.1.4": "INFORMATIONAL", "1.1.5": "INFORMATIONAL", "9.1.1": "INFORMATIONAL", "9.1.2": "INFORMATIONAL"}, result.table()
    assert "message limit is below 65535 bytes" in result["1.1.4"].note


def test_a_server_that_requires_a_subprotocol(hosts) -> None:  # type: ignore[no-untyped-def]
    host = hosts(echo_endpoint().subprotocols("chat"))
    refused = check.server(host.url, cases="1.1.1", timeout=TIMEOUT)
    assert refused["1.1.1"].verdict is Verdict.FAILED and "400" in refused["1.1.1"].actual  # it refuses a connection without one
    result = check.server(host.url, cases="1.1.1,11.*", subprotocols=["chat"], timeout=TIMEOUT, quiet=QUIET)
    assert not_ok(result) == {}, result.table()


def test_a_server_over_tls(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import shutil
    import ssl
    import subprocess
    import threading

    from websockets.sync.server import serve

    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("needs the openssl command to make a throwaway certificate")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run([openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert), "-days", "1",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"], check=True, capture_output=True, timeout=30)  # fmt: skip
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)

    def echo(ws) -> None:  # type: ignore[no-untyped-def]
        for message in ws:
            ws.send(message)

    server = serve(echo, "127.0.0.1", 0, ssl=context)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"wss://127.0.0.1:{server.socket.getsockname()[1]}/"
        result = check.server(url, cases="1.1.*,7.1.1", ssl=ssl.create_default_context(cafile=str(cert)), timeout=TIMEOUT)
        assert not_ok(result) == {}, result.table()
        untrusted = check.server(url, cases="1.1.1", timeout=TIMEOUT)  # the system's trust store does not know it
        assert untrusted["1.1.1"].verdict is Verdict.FAILED and "CERTIFICATE_VERIFY_FAILED" in untrusted["1.1.1"].actual
    finally:
        server.shutdown()
        thread.join(5)
