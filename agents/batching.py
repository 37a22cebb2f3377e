"""Send a batch of records through the faust producer, then wait for every broker ack."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class OutRecord:
    topic: str
    key: bytes | None
    value: bytes
    headers: Sequence[tuple[str, bytes]] | None = None


async def send_all(app: Any, records: Iterable[OutRecord]) -> int:
    """At-least-once: the consumed batch is acknowledged only after this returns."""
    futures = [
        await app.producer.send(r.topic, r.key, r.value, None, None, list(r.headers or ()))
        for r in records
    ]
    if futures:
        await asyncio.gather(*futures)
    return len(futures)
