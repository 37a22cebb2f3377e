"""Retention task: the worker runs `hub retention purge` itself every HUB_RETENTION_INTERVAL_S
(daily by default; 0: never, e.g. when cron runs the command). Idempotent, so every worker of
a deployment may run it."""

from __future__ import annotations

import asyncio
from typing import Any

import structlog
from sqlalchemy import Engine

from hub.retention import Purged, RetentionPolicy, purge
from hub.settings import HubSettings
from hub.timeutil import utcnow

log = structlog.get_logger("agents.retention")


class RetentionTask:
    def __init__(self, engine: Engine, settings: HubSettings) -> None:
        self.engine = engine
        self.policy = RetentionPolicy.from_settings(settings)
        self.interval_s = settings.retention_interval_s

    async def run_once(self) -> list[Purged]:
        results = await asyncio.to_thread(purge, self.engine, self.policy, utcnow())
        log.info("retention_purged", **{r.store: r.count for r in results})
        return results

    async def run(self) -> None:
        while True:
            try:
                await self.run_once()
            except Exception as exc:  # the database restarting: try again next time
                log.error("retention_failed", error=repr(exc))
            await asyncio.sleep(self.interval_s)


def attach_retention(app: Any, task: RetentionTask) -> None:
    """Run the retention purge as a task of the faust app (unless the interval is 0)."""
    if task.interval_s <= 0:
        return

    @app.task
    async def retention() -> None:
        await task.run()
