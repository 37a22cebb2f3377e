"""Worker heartbeat: records in the database that this worker is alive and holds partitions."""

from __future__ import annotations

import asyncio
import os
import socket
from typing import Any

from hub.heartbeat import HeartbeatStore
from hub.timeutil import utcnow

INTERVAL_S = 1.0


def register_heartbeat(app: Any, store: HeartbeatStore) -> None:
    worker_id = f"{socket.gethostname()}:{os.getpid()}"
    started = utcnow()

    @app.timer(interval=INTERVAL_S)
    async def heartbeat() -> None:
        assigned = len(app.consumer.assignment()) if app.consumer else 0
        await asyncio.to_thread(store.beat, worker_id, os.getpid(), started, utcnow(), assigned)
