"""hub.periodic.Periodic: a background step every N seconds, stopped when the API shuts down."""

from __future__ import annotations

import asyncio
import contextlib

from hub.periodic import Periodic


async def test_stop_ends_the_loop_even_when_a_step_swallows_the_cancellation() -> None:
    """Python 3.11's asyncio.wait_for returns its inner result instead of raising when it is
    cancelled just as that result arrives (the metrics gauges and readiness steps use it): the
    step then ends normally and the loop must still end, or the API's shutdown waits for ever."""
    steps = 0

    async def step() -> None:
        nonlocal steps
        steps += 1
        # what wait_for does when its inner future finished at the moment of the cancel
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.sleep(10)

    periodic = Periodic("test", step, interval_s=0.01)
    periodic.start()
    await asyncio.sleep(0.05)
    stopping = asyncio.create_task(periodic.stop())
    await asyncio.sleep(0.5)
    assert stopping.done(), "stop() still waiting for a loop that goes on"
    assert steps == 1


async def test_a_stopped_loop_can_be_started_again() -> None:
    ran = asyncio.Event()

    async def step() -> None:
        ran.set()

    periodic = Periodic("test", step, interval_s=0.01)
    periodic.start()
    await periodic.stop()
    ran.clear()
    periodic.start()
    await asyncio.wait_for(ran.wait(), timeout=2)
    await periodic.stop()
