"""The one background event loop per process, the calling convention on top of it, and what runs on it.

Servers and clients all live on a loop in a daemon thread, so they keep serving while a notebook cell
blocks (even in `time.sleep`), and the thread dies with the kernel. No global patching of asyncio is
needed for this (nest_asyncio is not used): the kernel's own loop is never asked to nest.

Every public method that does I/O goes through `bridge()`, which is the whole calling convention:
on wsplay's loop and in other coroutine code it returns something to `await`; from a plain cell, a
script or any other thread it runs the call to completion and returns its value.

The registries of live hosts and clients live here too (the layers above register what they start), so
that `stop_all()`, interpreter exit and a re-run notebook cell can find them.
"""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import inspect
import logging
import os
import re
import sys
import threading
import weakref
from collections.abc import Awaitable, Coroutine, Generator
from typing import Any, Protocol, TypeVar

from wsplay.errors import InvalidState

__all__ = [
    "Done",
    "Pending",
    "awaiting",
    "bridge",
    "claim_cell",
    "current_cell",
    "get_loop",
    "host_on_port",
    "in_loop_thread",
    "live_clients",
    "live_hosts",
    "loop_kind",
    "register_host",
    "run_sync",
    "shutdown",
    "stop_all",
    "track_client",
    "unregister_host",
    "untrack_client",
    "use_loop",
]

T = TypeVar("T")

log = logging.getLogger("wsplay")

_lock = threading.Lock()
_loop: asyncio.AbstractEventLoop | None = None
_loop_kind = os.environ.get("WSPLAY_LOOP", "asyncio")  # which event loop the background thread runs
_thread: threading.Thread | None = None
_thread_id: int | None = None


LOOPS = ("asyncio", "uvloop")


def use_loop(kind: str) -> None:
    """Choose the background loop before anything starts: "asyncio" (the default) or "uvloop".

    uvloop (`pip install wsplay[speed]`) runs the same servers and clients faster; the environment
    variable WSPLAY_LOOP does the same as this call.

    Raises:
        ValueError: an unknown kind. ImportError: uvloop is not installed.
        InvalidState: the loop already runs, as another kind (stop_all() does not change that:
            the loop lives as long as the process).
    """
    global _loop_kind
    if kind not in LOOPS:
        raise ValueError(f"the loop is one of {', '.join(LOOPS)}, not {kind!r}")
    if kind == "uvloop":
        import uvloop  # noqa: F401 - the error says what to install
    with _lock:
        if _loop is not None and not _loop.is_closed() and kind != _loop_kind:
            raise InvalidState(f"wsplay's loop already runs on {_loop_kind}; choose the loop before the first host or client starts")
        _loop_kind = kind


def loop_kind() -> str:
    """"asyncio" or "uvloop": what the background loop runs (or will run)."""
    return _loop_kind


def _new_loop() -> asyncio.AbstractEventLoop:
    if _loop_kind == "uvloop":
        import uvloop

        return uvloop.new_event_loop()  # type: ignore[no-any-return]
    return asyncio.new_event_loop()


def get_loop() -> asyncio.AbstractEventLoop:
    """Return the background loop, starting its daemon thread on first use."""
    global _loop, _thread
    loop = _loop
    if loop is not None and not loop.is_closed():
        return loop
    with _lock:
        if _loop is not None and not _loop.is_closed():
            return _loop
        loop = _new_loop()
        ready = threading.Event()

        def run() -> None:
            global _thread_id
            asyncio.set_event_loop(loop)
            _thread_id = threading.get_ident()
            loop.call_soon(ready.set)
            try:
                loop.run_forever()
            finally:
                _thread_id = None

        # Every piece of state is set before start(): a reset after it once swallowed a bind error.
        _loop = loop
        _thread = threading.Thread(target=run, name="wsplay-loop", daemon=True)
        _thread.start()
        ready.wait()
        return loop


def in_loop_thread() -> bool:
    """True when called on the background loop's thread."""
    return _thread_id is not None and threading.get_ident() == _thread_id


def run_sync(coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
    """Run a coroutine on the background loop from another thread and wait for its result.

    Raises:
        InvalidState: when called on the loop's own thread, where waiting would deadlock.
        TimeoutError: when it takes longer than `timeout` seconds.
    """
    if in_loop_thread():
        coro.close()
        raise InvalidState("this wsplay call would block the wsplay event loop it needs; inside a handler, `await` it")
    future = asyncio.run_coroutine_threadsafe(coro, get_loop())
    try:
        return future.result(timeout)
    except concurrent.futures.TimeoutError:
        if future.done():  # the coroutine's own TimeoutError (the same class since Python 3.11)
            raise
        future.cancel()
        raise TimeoutError(f"wsplay call did not finish within {timeout} s") from None
    except BaseException:
        future.cancel()  # interrupted (Ctrl-C in a cell): do not leave the call running on the loop
        raise


class Done(Awaitable[T]):
    """An awaitable that is already finished (a write on the loop that did not have to wait)."""

    __slots__ = ("value",)

    def __init__(self, value: T) -> None:
        self.value = value

    def __await__(self) -> Generator[Any, None, T]:
        return self.value
        yield  # pragma: no cover  (makes this a generator)

    def __repr__(self) -> str:
        return f"<Done {self.value!r}>"


class Pending(Awaitable[T]):
    """A wsplay call running on wsplay's loop, handed to coroutine code to await.

    It runs whether or not it is awaited; what it returns (a Host, a Frame) is what `await` gives.
    Using it as if it were that value says so, instead of a puzzling error about a Future.
    """

    __slots__ = ("_future", "_what")

    def __init__(self, future: concurrent.futures.Future[T], what: str) -> None:
        self._future = future
        self._what = what.replace("._", ".").lstrip("_")

    def __await__(self) -> Generator[Any, None, T]:
        return asyncio.wrap_future(self._future).__await__()

    def __getattr__(self, name: str) -> Any:
        raise AttributeError(
            f"{self._what}() has not finished and has no {name!r}: in coroutine code wsplay's calls are "
            f"awaited, e.g. `host = await Host.create()...start()`, `frame = await client.receive()`"
        )

    def __repr__(self) -> str:
        state = "done" if self._future.done() else "running"
        return f"<pending wsplay call {self._what}() {state}: await it>"


def bridge(coro: Coroutine[Any, Any, T], timeout: float | None = None) -> Awaitable[T]:
    """Run a public method's coroutine the way its caller can use it (the calling convention).

    - On the loop thread: return `coro` itself, to await.
    - From coroutine code on another thread's running loop (a notebook cell with top-level `await`,
      an `async def` under `asyncio.run`): start it on the background loop and return an awaitable
      of its result, so that loop keeps running (a peer living on it can still answer).
    - Anywhere else (a plain cell, a script, a worker thread): run it to completion and return its
      value, so the call has taken effect when it returns.

    The declared type is what coroutine code gets; plain code gets the value the awaitable yields.
    """
    if in_loop_thread():
        return coro
    if _called_from_coroutine() and _has_running_loop():
        return Pending(asyncio.run_coroutine_threadsafe(coro, get_loop()), getattr(coro, "__qualname__", "call"))
    return run_sync(coro, timeout)  # type: ignore[return-value, arg-type]  # plain code gets the value itself


def awaiting() -> bool:
    """True when the caller gets something to await from `bridge()` (wsplay's loop, or coroutine code)."""
    return in_loop_thread() or (_called_from_coroutine() and _has_running_loop())


_CO_COROUTINE = inspect.CO_COROUTINE  # also set on a notebook cell compiled with top-level await


def _caller() -> Any:
    """The nearest frame outside wsplay (the user's code that called a wsplay method), or None."""
    frame = inspect.currentframe()
    while frame is not None and frame.f_globals.get("__name__", "").startswith("wsplay"):
        frame = frame.f_back
    return frame


def _called_from_coroutine() -> bool:
    frame = _caller()
    return frame is not None and bool(frame.f_code.co_flags & _CO_COROUTINE)


def _has_running_loop() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


# -- notebook cells ---------------------------------------------------------------------------------
# A host or client started from a cell is known by the cell's id, which JupyterLab, Notebook 7 and
# VS Code send with every execution, so running an edited cell replaces what it started. Without an
# id (another frontend), the cell's code is known by its text: ipykernel names a cell's code after a
# hash of it, and plain IPython after its input number.

_CELL_FILE = re.compile(r"(ipykernel_\d+[/\\]\d+\.py|<ipython-input-\d+-[0-9a-f]+>)$")
_cell_ids: dict[int, str] = {}  # execution count -> the cell id IPython's pre_run_cell event gave for it
_hooked: set[int] = set()  # ids of the shells whose pre_run_cell event we listen to


def current_cell() -> tuple[str, int] | None:
    """(identity, execution count) of the notebook cell whose code is calling, or None outside a cell."""
    shell = _shell()
    if shell is None:
        return None
    frame = _caller()
    # The cell being run is the outermost cell code on the stack (a helper defined in another cell
    # may sit between it and us).
    while frame is not None and not (frame.f_code.co_name == "<module>" and _CELL_FILE.search(frame.f_code.co_filename)):
        frame = frame.f_back
    if frame is None:
        return None  # not called from a cell's code (a thread started earlier, say)
    count = int(getattr(shell, "execution_count", 0) or 0)
    _listen(shell)
    cell_id = _cell_ids.get(count) or _parent_cell_id(shell)
    return (f"id:{cell_id}" if cell_id else f"code:{frame.f_code.co_filename}"), count


def _shell() -> Any:
    ipython = sys.modules.get("IPython")
    if ipython is None:
        return None
    try:
        return ipython.get_ipython()
    except Exception:
        return None


def _listen(shell: Any) -> None:
    """Remember each execution's cell id from IPython's pre_run_cell event (ExecutionInfo.cell_id)."""
    if id(shell) in _hooked:
        return
    _hooked.add(id(shell))

    def pre_run_cell(info: Any) -> None:
        cell_id = getattr(info, "cell_id", None)
        if cell_id:
            _cell_ids.clear()  # only the running execution's id matters
            _cell_ids[int(getattr(shell, "execution_count", 0) or 0)] = cell_id

    try:
        shell.events.register("pre_run_cell", pre_run_cell)
    except Exception:  # an IPython without events: the kernel's message says it below
        pass


def _parent_cell_id(shell: Any) -> str | None:
    """The cell id of the execute request being run, from its message's metadata (ipykernel)."""
    kernel = getattr(shell, "kernel", None)
    try:
        parent = kernel.get_parent("shell") if kernel is not None else None
    except Exception:
        return None
    metadata = parent.get("metadata") if isinstance(parent, dict) else None
    cell_id = metadata.get("cellId") if isinstance(metadata, dict) else None
    return cell_id if isinstance(cell_id, str) and cell_id else None


# -- what runs: hosts by port, hosts and clients by cell, open clients ------------------------------


class _Host(Protocol):
    @property
    def running(self) -> bool: ...

    def stop(self) -> Awaitable[None]: ...


class _Client(Protocol):
    @property
    def state(self) -> str: ...

    def shutdown(self, code: int = 1001, reason: str = "going away") -> Awaitable[None]: ...

    def abort(self) -> Awaitable[None]: ...


_registry_lock = threading.Lock()
_hosts: dict[int, Any] = {}  # port -> the wsplay host listening on it, in this process
_clients: weakref.WeakSet[Any] = weakref.WeakSet()  # open clients (an open one is held by its transport)
_by_cell: dict[str, list[tuple[int, weakref.ref[Any]]]] = {}  # cell -> (execution, what it started)


def register_host(host: _Host, port: int) -> None:
    with _registry_lock:
        _hosts[port] = host


def unregister_host(host: _Host, port: int | None) -> None:
    with _registry_lock:
        if port is not None and _hosts.get(port) is host:
            del _hosts[port]


def host_on_port(port: int) -> Any:
    """The wsplay host of this process listening on `port`, or None."""
    with _registry_lock:
        return _hosts.get(port)


def live_hosts() -> list[Any]:
    """The running hosts of this process."""
    with _registry_lock:
        return list(_hosts.values())


def track_client(client: _Client) -> None:
    _clients.add(client)


def untrack_client(client: _Client) -> None:
    _clients.discard(client)


def live_clients() -> list[Any]:
    """The clients of this process whose connection is not over."""
    return [c for c in list(_clients) if c.state != "closed"]


def claim_cell(thing: object, cell: tuple[str, int] | None) -> list[Any]:
    """Note that `cell` started `thing`; return the things of its kind that earlier runs of that cell
    started and that are still alive (the caller replaces them: stops a host, closes a client).

    Several things started by one run of a cell (a loop, two clients) stay together; a later run
    replaces them all.
    """
    if cell is None:
        return []
    key, count = f"{type(thing).__name__}@{cell[0]}", cell[1]
    with _registry_lock:
        entries = [(n, ref) for n, ref in _by_cell.get(key, []) if ref() is not None]
        earlier = [ref() for n, ref in entries if n != count and ref() is not thing]
        _by_cell[key] = [(n, ref) for n, ref in entries if n == count] + [(count, weakref.ref(thing))]
    return [t for t in earlier if t is not None]


def stop_all() -> Awaitable[None]:
    """Stop everything wsplay runs in this process: every host (their clients get 1001), then every
    wsplay client still open (closed with 1001, going away).

    Works from a cell or thread (it has happened when it returns) and with `await` in coroutine code.
    """
    return bridge(_stop_all())


async def _stop_all(client_timeout: float | None = None) -> None:
    results = await asyncio.gather(*(host.stop() for host in live_hosts()), return_exceptions=True)
    for result in results:
        if isinstance(result, Exception):
            log.warning("could not stop a host: %s", result)
    clients = live_clients()
    if not clients:
        return
    tasks = [asyncio.ensure_future(c.shutdown(1001, "going away")) for c in clients]
    _, pending = await asyncio.wait(tasks, timeout=client_timeout)
    if pending:
        for client in clients:
            await client.abort()
        await asyncio.wait(pending, timeout=1.0)
    for task in tasks:  # a client that failed to close is closed all the same: nothing to report
        if task.done() and not task.cancelled():
            task.exception()


def shutdown() -> None:
    """Stop what runs and the background loop (at interpreter exit)."""
    if (live_hosts() or live_clients()) and _loop is not None and _loop.is_running():
        try:
            run_sync(_stop_all(client_timeout=2.0))
        except Exception:  # exit must go on
            pass
    loop = _loop
    if loop is not None and not loop.is_closed() and loop.is_running():
        loop.call_soon_threadsafe(loop.stop)
        if _thread is not None:
            _thread.join(timeout=2)
    if loop is not None and not loop.is_closed() and not loop.is_running():
        loop.close()  # else `python -W always` reports an unclosed event loop at exit


atexit.register(shutdown)
