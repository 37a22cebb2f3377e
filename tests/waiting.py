"""Waiting for what the hub does in its own time: poll a check until it holds, or fail the test
saying what never came.

`what` names the awaited thing ("the chain head"), or is a function giving the state to show
when time runs out (a receiver's requests, a worker's log), read only then.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from typing import TypeVar

T = TypeVar("T")

Said = str | Callable[[], str]


def _timed_out(what: Said, timeout: float) -> AssertionError:
    said = what() if callable(what) else f"waiting for {what}"
    return AssertionError(f"timed out after {timeout:g} s: {said}")


def wait_for(check: Callable[[], T], what: Said, timeout: float = 30.0, every: float = 0.1) -> T:
    """`check`'s first truthy answer, asked every `every` seconds for up to `timeout`."""
    deadline = time.monotonic() + timeout
    while not (found := check()):
        if time.monotonic() >= deadline:
            raise _timed_out(what, timeout)
        time.sleep(every)
    return found


async def wait_for_async(
    check: Callable[[], T], what: Said, timeout: float = 30.0, every: float = 0.02
) -> T:
    """As `wait_for`, sleeping on the event loop: the hub's tasks in this process run meanwhile."""
    deadline = time.monotonic() + timeout
    while not (found := check()):
        if time.monotonic() >= deadline:
            raise _timed_out(what, timeout)
        await asyncio.sleep(every)
    return found


def wait_for_items(
    fetch: Callable[[], Sequence[T]], n: int, what: str, timeout: float = 30.0, every: float = 0.1
) -> list[T]:
    """`fetch`'s answer once it holds at least `n` items; if time runs out, how many came."""
    last: Sequence[T] = ()

    def enough() -> bool:
        nonlocal last
        last = fetch()
        return len(last) >= n

    wait_for(enough, lambda: f"{what}: {len(last)} of {n}", timeout, every)
    return list(last)
