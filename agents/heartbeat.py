"""Worker heartbeat: records in the database that this worker is alive and holds partitions."""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import Callable
from typing import Any

from hub.heartbeat import HeartbeatStore
from hub.timeutil import utcnow

INTERVAL_S = 1.0


def register_heartbeat(app: Any, store: HeartbeatStore, assigned: Callable[[], int]) -> None:
    worker_id = f"{socket.gethostname()}:{os.getpid()}"
    started = utcnow()

    @app.timer(interval=INTERVAL_S)
    async def heartbeat() -> None:
        await asyncio.to_thread(store.beat, worker_id, os.getpid(), started, utcnow(), assigned())
