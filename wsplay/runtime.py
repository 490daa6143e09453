"""The one background event loop per process, and the bridge that makes every public call work from any thread.

Servers and clients all live on a loop in a daemon thread, so they keep serving while a notebook cell
blocks (even in `time.sleep`), and the thread dies with the kernel. Public methods call `bridge()`:
on the loop's own thread it hands back the coroutine to await; on any other thread (a notebook cell,
a script, a worker thread) it runs the coroutine on the loop, waits for it and hands back an
already-finished awaitable, so `host.stop()` and `await host.stop()` both work in a cell.
"""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import sys
import threading
from collections.abc import Awaitable, Callable, Coroutine, Generator
from typing import Any, TypeVar

__all__ = ["Done", "bridge", "get_loop", "in_loop_thread", "run_sync", "shutdown"]

T = TypeVar("T")

_lock = threading.Lock()
_loop: asyncio.AbstractEventLoop | None = None
_thread: threading.Thread | None = None
_thread_id: int | None = None
_exit_hooks: list[Callable[[], None]] = []


def get_loop() -> asyncio.AbstractEventLoop:
    """Return the background loop, starting its daemon thread on first use."""
    global _loop, _thread
    loop = _loop
    if loop is not None and not loop.is_closed():
        return loop
    with _lock:
        if _loop is not None and not _loop.is_closed():
            return _loop
        loop = asyncio.new_event_loop()
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
        RuntimeError: when called on the loop's own thread, where waiting would deadlock.
        TimeoutError: when it takes longer than `timeout` seconds.
    """
    if in_loop_thread():
        coro.close()
        raise RuntimeError(
            "this wsplay call would block the wsplay event loop it needs; inside a handler, use `await` on it"
        )
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
    """An awaitable that is already finished: what bridged calls return off the loop thread."""

    __slots__ = ("value",)

    def __init__(self, value: T) -> None:
        self.value = value

    def __await__(self) -> Generator[Any, None, T]:
        return self.value
        yield  # pragma: no cover  (makes this a generator)

    def __repr__(self) -> str:
        return f"<Done {self.value!r}>"

    def _ipython_display_(self) -> None:
        # `conn.write("hi")` as a cell's last line should show nothing, not "<Done None>".
        if self.value is not None:
            from IPython.display import display

            display(self.value)


def bridge(coro: Coroutine[Any, Any, T], timeout: float | None = None) -> Awaitable[T]:
    """Run a public method's coroutine the way its caller can use it.

    - On the loop thread: return `coro` itself, to await.
    - From coroutine code on another thread's running loop (a notebook cell with top-level `await`,
      an `async def` under `asyncio.run`): start it on the background loop and return an awaitable
      of its result, so that loop keeps running (a client living on it can still answer).
    - Anywhere else (a plain cell, a script, a worker thread): run it to completion and return an
      already-finished awaitable, so the call has taken effect when it returns.
    """
    if in_loop_thread():
        return coro
    if _called_from_coroutine() and _has_running_loop():
        return asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coro, get_loop()))
    return Done(run_sync(coro, timeout))


_CO_COROUTINE = 0x80  # inspect.CO_COROUTINE; also set on a notebook cell compiled with top-level await


def _called_from_coroutine() -> bool:
    """True when the nearest caller outside wsplay is coroutine code (so it can await us)."""
    frame = sys._getframe(2)
    while frame is not None and frame.f_globals.get("__name__", "").startswith("wsplay"):
        frame = frame.f_back  # type: ignore[assignment]
    return frame is not None and bool(frame.f_code.co_flags & _CO_COROUTINE)


def _has_running_loop() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def at_exit(hook: Callable[[], None]) -> None:
    """Register a hook run before the loop stops at interpreter exit (hosts stop there)."""
    _exit_hooks.append(hook)


def shutdown() -> None:
    """Run exit hooks and stop the background loop (at interpreter exit)."""
    for hook in list(_exit_hooks):
        try:
            hook()
        except Exception:  # exit must go on; each hook reports through logging
            pass
    loop = _loop
    if loop is not None and not loop.is_closed() and loop.is_running():
        loop.call_soon_threadsafe(loop.stop)
        if _thread is not None:
            _thread.join(timeout=2)
    if loop is not None and not loop.is_closed() and not loop.is_running():
        loop.close()  # else `python -W always` reports an unclosed event loop at exit


atexit.register(shutdown)
