"""The pytest plugin (the `pytest11` entry point `wsplay`), used by a test suite of its own (pytester)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]


def test_the_plugin_is_registered_as_an_entry_point() -> None:
    from importlib.metadata import entry_points

    found = [e for e in entry_points(group="pytest11") if e.name == "wsplay"]
    assert [e.value for e in found] == ["wsplay.check.pytest_plugin"]


def test_fixtures_and_the_assertion_helper(pytester: pytest.Pytester, tmp_path: Path) -> None:
    pytester.makepyfile(
        test_mine="""
        import pytest
        import wsplay


        def test_the_host_and_a_client(wsplay_host, wsplay_client):
            assert wsplay_host.running and wsplay_client.state == "open"
            wsplay_client.send("ping?")
            assert wsplay_client.receive_text(timeout=5) == "ping?"


        def test_the_suite_passes(wsplay_host, wsplay_check):
            result = wsplay_check.server(wsplay_host.url, cases="1.*,6.4.*", timeout=5)
            assert result.counts["FAILED"] == 0 and len(result) == 16


        def test_a_stricter_assertion_fails_and_lists_the_case(wsplay_host, wsplay_check):
            wsplay_check.server(wsplay_host.url, cases="1.4.*", allow=["OK"], timeout=5)


        class TestMyOwnServer:
            @pytest.fixture
            def wsplay_endpoint(self):
                # a server that shouts back: not an echo, so the echo cases fail
                async def shout(connection, frame):
                    await connection.write(frame.data_as_string().upper())
                return wsplay.Websocket.functional().on_message(shout)

            def test_it_is_not_an_echo(self, wsplay_host, wsplay_check):
                wsplay_check.server(wsplay_host.url, cases="1.1.2", timeout=5)


        def test_the_client_suite(wsplay_check):
            wsplay_check.client(wsplay.check.drivers.wsplay_echo(close_timeout=1), cases="2.*", timeout=5)
        """
    )
    out = tmp_path / "results"
    run = pytester.runpytest_subprocess("-p", "no:cacheprovider", f"--wsplay-check-json={out}", "-q", timeout=120)
    run.assert_outcomes(passed=3, failed=2)
    text = run.stdout.str()
    assert "1 of 3 cases are INFORMATIONAL" in text and "1.4.3  INFORMATIONAL" in text
    assert "1 of 1 cases are FAILED" in text and "1.1.2  FAILED" in text and "TEXT 125 bytes 'ABCDEFG" in text
    written = sorted(out.glob("*.json"))
    assert len(written) == 4 and all(json.loads(p.read_text())["suite"] == "wsplay.check" for p in written)
