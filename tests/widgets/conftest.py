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

pytest.importorskip("anywidget")

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
        if buffers and isinstance(data, dict):
            data = {**data, "buffers": [bytes(b) for b in buffers]}
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


class Browser:
    """What a browser view of a panel would hold, rebuilt from the messages the panel sent.

    It applies each `_feed` the panel pushed the way panel.js and table.js do (a reset replaces
    the rows, new rows are appended, older rows merged by index), and keeps the custom messages
    (a frame's details, decoder output, downloads) with their buffers.
    """

    def __init__(self, comms: Comms, panel: Any) -> None:
        self.comms = comms
        self.panel = panel

    def _messages(self) -> list[Any]:
        comm_id = self.panel.comm.comm_id if self.panel.comm is not None else None
        return [data for _, cid, data in list(self.comms.sent) if cid == comm_id]

    def feeds(self) -> list[dict[str, Any]]:
        return [m["state"]["_feed"] for m in self._messages() if m.get("method") == "update" and "_feed" in m.get("state", {})]

    @property
    def rows(self) -> list[list[Any]]:
        rows: list[list[Any]] = []
        for feed in self.feeds():
            if feed.get("reset"):
                rows = list(feed.get("rows", []))
                continue
            last = rows[-1][0] if rows else -1
            rows += [r for r in feed.get("rows", []) if r[0] > last]
            have = {r[0] for r in rows}
            rows = sorted(rows + [r for r in feed.get("back", []) if r[0] not in have], key=lambda r: r[0])
        return rows

    def labels(self) -> list[str]:
        """Rows as text: 'index cCONN in|out TYPE FLAGS length preview' (flags F123M as in the table)."""
        from wsplay.protocol.frames import FrameType

        out = []
        for index, _t, conn, direction, opcode, flags, _wire, length, _delta, preview in self.rows:
            name = FrameType(opcode).name if opcode in (0, 1, 2, 8, 9, 10) else f"reserved{opcode}"
            f = ("F" if flags & 1 else "-") + ("1" if flags & 2 else "-") + ("2" if flags & 4 else "-") + ("3" if flags & 8 else "-") + ("M" if flags & 16 else "-")
            out.append(f"{index} c{conn} {'out' if direction else 'in'} {name} {f} {length} {preview}")
        return out

    def custom(self, kind: str) -> list[tuple[dict[str, Any], list[Any]]]:
        return [(m["content"], m.get("buffers") or []) for m in self._messages() if m.get("method") == "custom" and m["content"].get("kind") == kind]


@pytest.fixture
def browser(comms: Comms) -> Callable[[Any], Browser]:
    """`browser(panel)`: a Browser that rebuilds what a view of `panel` holds from the messages sent."""
    return lambda panel: Browser(comms, panel)


def click(panel: Any, name: str, **args: Any) -> None:
    """Press a panel's button as the front end does: an action message through the comm's handler."""
    panel._on_custom(panel, {"kind": "action", "name": name, "args": args}, [])


def message(panel: Any, **content: Any) -> None:
    """Any other message a view sends (hello, clear, decode, export, inspect)."""
    panel._on_custom(panel, content, [])


class Kit:
    UNIT = UNIT
    wait_for = staticmethod(wait_for)
    click = staticmethod(click)
    message = staticmethod(message)


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
