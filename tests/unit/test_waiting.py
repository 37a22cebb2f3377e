"""The tests' one way of waiting (tests/waiting.py): it returns what came, or fails saying what
did not."""

from __future__ import annotations

import asyncio
import itertools

import pytest

from tests.waiting import wait_for, wait_for_async, wait_for_items


def test_wait_for_returns_the_first_truthy_answer() -> None:
    answers = iter([None, [], ["a"], ["b"]])
    assert wait_for(lambda: next(answers), "a letter", timeout=5, every=0) == ["a"]


def test_wait_for_names_what_never_came() -> None:
    with pytest.raises(AssertionError, match=r"timed out after 0.05 s: waiting for the chain head"):
        wait_for(lambda: False, "the chain head", timeout=0.05, every=0.01)


def test_wait_for_shows_the_state_only_when_time_runs_out() -> None:
    asked = itertools.count()
    with pytest.raises(AssertionError, match=r"timed out after 0.05 s: 3 requests"):
        wait_for(lambda: False, lambda: f"{next(asked) + 3} requests", timeout=0.05, every=0.01)
    assert next(asked) == 1  # read once, at the deadline


def test_wait_for_items_says_how_many_came() -> None:
    got = [[1], [1, 2], [1, 2, 3]]
    assert wait_for_items(lambda: got.pop(0), 2, "rows", timeout=5, every=0) == [1, 2]
    with pytest.raises(AssertionError, match=r"rows: 1 of 2"):
        wait_for_items(lambda: [1], 2, "rows", timeout=0.05, every=0.01)


def test_wait_for_async_lets_the_loop_run_meanwhile() -> None:
    async def run() -> str:
        seen: list[str] = []
        asyncio.get_running_loop().call_later(0.02, seen.append, "done")
        return (await wait_for_async(lambda: seen, "the callback", timeout=5))[0]

    assert asyncio.run(run()) == "done"
