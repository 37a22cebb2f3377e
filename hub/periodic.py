"""A coroutine run every N seconds in the background of an API process, until stopped."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

import structlog

log = structlog.get_logger(__name__)


class Periodic:
    """`step()` now and then every `interval_s`; an error is logged and the loop goes on (a
    cache that stopped refreshing would go on answering with stale figures)."""

    def __init__(self, name: str, step: Callable[[], Awaitable[None]], interval_s: float) -> None:
        self.name = name
        self.step = step
        self.interval_s = interval_s
        self._task: asyncio.Task[None] | None = None
        self._stopping = False

    async def _loop(self) -> None:
        # `stop()` cancels the task, but a step can end normally all the same: Python 3.11's
        # asyncio.wait_for returns its inner result instead of raising when the cancellation
        # arrives just as that result does. The flag ends the loop then.
        while not self._stopping:
            try:
                await self.step()
            except Exception as exc:
                log.warning("periodic_step_failed", task=self.name, error=repr(exc))
            if not self._stopping:
                await asyncio.sleep(self.interval_s)

    def start(self) -> None:
        if self._task is None:
            self._stopping = False
            self._task = asyncio.create_task(self._loop(), name=self.name)

    async def stop(self) -> None:
        if self._task is not None:
            self._stopping = True
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
