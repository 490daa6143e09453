"""Widget tests without a kernel: every widget gets a dummy comm that records what it would send.

As in ipywidgets' own tests (`ipywidgets/widgets/tests/utils.py`), `comm.create_comm` is swapped
for a factory of dummy comms; here every comm appends `(time, comm_id, data)` to one shared list,
so a test can count the messages a panel sends per second.

Helpers are offered through fixtures: test directories have no `__init__.py`, so importing
`conftest` by name would pick whichever directory's conftest pytest loaded last.
"""

from __future__ import annotations

import functools
import itertools
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

pytest.importorskip("ipywidgets")

from wsplay import Host, Websocket  # noqa: E402

from testenv import UNIT, wait_for


_ids = itertools.count(1)


class DummyComm:
    """Stands in for a kernel comm: remembers every message instead of sending it."""

    kernel = "Truthy"  # ipywidgets only sends when the comm has a kernel

    def __init__(self, sent: list[tuple[float, str, Any]], **kwargs: Any) -> None:
        self.comm_id = f"dummy-{next(_ids)}"
        self.sent = sent
        self.closed = False

    def open(self, *args: Any, **kwargs: Any) -> None:
        pass

    def on_msg(self, *args: Any, **kwargs: Any) -> None:
        pass

    def send(self, data: Any = None, buffers: Any = None, **kwargs: Any) -> None:
        self.sent.append((time.monotonic(), self.comm_id, data))

    def close(self, *args: Any, **kwargs: Any) -> None:
        self.closed = True


class Comms:
    """The messages all widgets sent during a test."""

    def __init__(self) -> None:
        self.sent: list[tuple[float, str, Any]] = []

    def since(self, t: float) -> list[tuple[float, str, Any]]:
        return [m for m in list(self.sent) if m[0] >= t]

    def max_per_second(self, start: float, end: float) -> int:
        """The most messages sent in any one-second window between `start` and `end`."""
        times = sorted(m[0] for m in self.since(start) if m[0] <= end)
        best, lo = 0, 0
        for hi, t in enumerate(times):
            while times[lo] < t - 1.0:
                lo += 1
            best = max(best, hi - lo + 1)
        return best


@pytest.fixture
def comms(monkeypatch: pytest.MonkeyPatch) -> Iterator[Comms]:
    import comm
    import ipywidgets

    record = Comms()
    monkeypatch.setattr(comm, "create_comm", lambda **kwargs: DummyComm(record.sent, **kwargs))
    monkeypatch.setattr(comm, "get_comm_manager", lambda **kwargs: {})
    yield record
    ipywidgets.Widget.close_all()  # also ends any panel's refresher thread


class Kit:
    UNIT = UNIT
    wait_for = staticmethod(wait_for)


@pytest.fixture
def kit() -> type[Kit]:
    return Kit


@pytest.fixture
def hosts(hosts: Callable[..., Host]) -> Callable[..., Host]:
    """The shared factory (tests/conftest.py), in development mode: the panels show its pitfall reports."""
    return functools.partial(hosts, development=True)


@pytest.fixture
def boom() -> Any:
    """A functional endpoint whose handler raises with the text it got (a peer-controlled error message)."""

    async def fail(connection: Any, frame: Any) -> None:
        raise ValueError(f"cannot handle {frame.data_as_string()}")

    return Websocket.functional().on_message(fail)
