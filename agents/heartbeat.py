"""Worker heartbeat: records in the database that this worker is alive and holds partitions."""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import Callable
from typing import Any

import structlog

from hub.heartbeat import HeartbeatStore
from hub.resilience import RETRIES, error_kind, error_text, is_transient
from hub.timeutil import utcnow

log = structlog.get_logger("agents.heartbeat")

INTERVAL_S = 1.0


def register_heartbeat(app: Any, store: HeartbeatStore, assigned: Callable[[], int]) -> None:
    worker_id = f"{socket.gethostname()}:{os.getpid()}"
    started = utcnow()
    failing = 0

    @app.timer(interval=INTERVAL_S)
    async def heartbeat() -> None:
        # A database outage or lock only delays the beat: the next tick tries again. Until then
        # health checks see this worker's last beat age, which is what they should see.
        nonlocal failing
        try:
            await asyncio.to_thread(
                store.beat, worker_id, os.getpid(), started, utcnow(), assigned()
            )
        except Exception as exc:
            if not is_transient(exc):
                log.error("heartbeat_failed", error=error_text(exc))
                raise
            failing += 1
            log.warning(
                "heartbeat_retrying",
                error=error_kind(exc),
                attempt=failing,
                retry_in_s=INTERVAL_S,
                retries_total=RETRIES.add("heartbeat", exc),
            )
            return
        if failing:
            log.info("heartbeat_recovered", after_attempts=failing)
            failing = 0
