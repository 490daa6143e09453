"""Running cases: each under its own timeout, each with its own trace, one after another.

A case that hangs (the peer never answers and the case's own waits do not end it) is cut at its
timeout and FAILED; an error inside a case is FAILED with the error, never a suite that stops.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from typing import Any

from wsplay.check.judge import Stop
from wsplay.check.report import Case, CaseResult, Outcome, Result, failed
from wsplay.check.wire import Trace

__all__ = ["Progress", "run_cases"]

log = logging.getLogger("wsplay")

Progress = Callable[[CaseResult], Any]


async def run_case(case: Case, make: Callable[[Trace], Any], timeout: float) -> CaseResult:
    """Run one case with a fresh context (`make(trace)`), bounded by `timeout` seconds."""
    trace = Trace()
    ctx = make(trace)
    started = time.time()
    try:
        async with asyncio.timeout(timeout):
            arrive = getattr(ctx, "arrive", None)  # a client case: start the client under test first
            if arrive is not None:
                await arrive()
            outcome: Outcome = await case.run(ctx)
    except Stop as stop:
        outcome = stop.outcome
    except TimeoutError:
        outcome = failed("an answer within the case's timeout", f"the case was still waiting after {timeout} s: the peer hung")
    except OSError as exc:
        outcome = failed("a TCP connection", f"cannot connect: {exc.strerror or exc}")
    except Exception as exc:  # a bug of the suite's: say so rather than blame the peer
        log.exception("wsplay.check: case %s raised", case.id)
        outcome = failed("the case to run", f"the case raised {exc!r}", "an error in wsplay.check itself: please report it")
    finally:
        await ctx.close()
    duration = trace.now()
    trace.note(f"{outcome.verdict.value}: {outcome.actual}")
    return CaseResult(case.id, case.title, case.rfc, outcome.verdict, outcome.expected, outcome.actual, outcome.note, duration, trace, started)


async def run_cases(
    kind: str,
    target: str,
    cases: Sequence[Case],
    make: Callable[[Trace], Any],
    timeout: float,
    progress: Progress | None = None,
) -> Result:
    """Run `cases` one after another; `progress(case_result)` is called after each (its errors are logged)."""
    started, t0 = time.time(), time.monotonic()
    results = []
    for case in cases:
        result = await run_case(case, make, timeout)
        results.append(result)
        if progress is not None:
            try:
                progress(result)
            except Exception:  # a user's callback must not end the run
                log.exception("wsplay.check: the progress callback raised")
    return Result(kind, target, results, started, time.monotonic() - t0)
