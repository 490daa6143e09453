"""pytest plugin (registered as the `pytest11` entry point `wsplay`): check your server or client in tests.

Fixtures:

    wsplay_endpoint   what `wsplay_host` serves: an echo; override it to serve your own builder
    wsplay_host       a running wsplay Host on 127.0.0.1 and a free port, stopped after the test
    wsplay_client     a wsplay Client connected to `wsplay_host`, closed after the test
    wsplay_check      `wsplay_check.server(url, cases="*")` and `wsplay_check.client(drive)`: run the
                      suite (or a section of it) and fail the test, listing the cases, when one has a
                      verdict it does not allow (FAILED, by default)

Option: `--wsplay-check-json=DIR` also writes each result (every frame included) to DIR.

Example:
    def test_my_server_is_strict(my_server_url, wsplay_check):
        wsplay_check.server(my_server_url, cases="6.*", allow=["OK"])
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import pytest

if TYPE_CHECKING:
    from wsplay.check.report import Result
    from wsplay.client import Client
    from wsplay.host import Host

__all__ = ["Checker"]

DEFAULT_ALLOW = ("OK", "NON-STRICT", "INFORMATIONAL")


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("wsplay")
    group.addoption("--wsplay-check-json", metavar="DIR", default=None, help="write every wsplay_check result as JSON into DIR")


class Checker:
    """What the `wsplay_check` fixture gives a test: the suite, with an assertion built in.

    Args:
        node: the test's pytest node (results are recorded on it).
        json_dir: where to write each result as JSON, or None.
    """

    def __init__(self, node: pytest.Item, json_dir: Path | None = None) -> None:
        self.node = node
        self.json_dir = json_dir
        self.results: list[Result] = []

    def server(self, url: str, cases: str | Iterable[str] = "*", allow: Iterable[str] = DEFAULT_ALLOW, **options: Any) -> Result:
        """Run the server suite against `url` and fail the test on a verdict not in `allow`.

        Options are `wsplay.check.server()`'s (timeout, quiet, headers, ssl).
        """
        from wsplay.check.api import server

        return self._judge(cast("Result", server(url, cases, **options)), allow)

    def client(self, drive: Any, cases: str | Iterable[str] = "*", allow: Iterable[str] = DEFAULT_ALLOW, **options: Any) -> Result:
        """Run the client suite with `drive` (a function of the URL, a coroutine function or a command)."""
        from wsplay.check.api import client

        return self._judge(cast("Result", client(drive, cases, **options)), allow)

    def _judge(self, result: Result, allow: Iterable[str]) -> Result:
        self.results.append(result)
        self.node.user_properties.append(("wsplay_check", f"{result.kind} {result.target}: {result.counts}"))
        if self.json_dir is not None:
            self.json_dir.mkdir(parents=True, exist_ok=True)
            name = re.sub(r"[^\w.-]+", "_", self.node.nodeid)[-120:]
            result.save(self.json_dir / f"{name}-{len(self.results)}.json")
        try:
            result.assert_passed(allow)
        except AssertionError as failure:
            message = str(failure)
        else:
            return result
        pytest.fail(message, pytrace=False)


@pytest.fixture
def wsplay_endpoint() -> Any:
    """The endpoint `wsplay_host` serves (an echo); override this fixture to serve your own."""
    from wsplay.examples import echo

    return echo()


@pytest.fixture
def wsplay_host(wsplay_endpoint: Any) -> Iterator[Host]:
    """A running wsplay host serving `wsplay_endpoint` on 127.0.0.1 and a free port."""
    from wsplay.host import Host

    host = Host.create().handler(wsplay_endpoint).port(0).close_timeout(2.0)
    host.start()
    try:
        yield host
    finally:
        host.stop()


@pytest.fixture
def wsplay_client(wsplay_host: Host) -> Iterator[Client]:
    """A wsplay client connected to `wsplay_host`."""
    from wsplay.client import Client

    client = Client(wsplay_host.url, open_timeout=5.0, close_timeout=2.0)
    client.open()
    try:
        yield client
    finally:
        client.close()


@pytest.fixture
def wsplay_check(request: pytest.FixtureRequest) -> Checker:
    """Run the check suite in a test: `wsplay_check.server(url)`, `wsplay_check.client(drive)`."""
    folder = request.config.getoption("--wsplay-check-json")
    return Checker(request.node, Path(folder) if folder else None)  # type: ignore[arg-type]
