"""Rejected-event recorder: keeps every record from `events.rejected` in the database, whole,
and counts it in the data quality counters once (when it is first stored).

The embedded broker keeps messages in memory only; the database is where a rejected record
survives, to be listed (`hub events rejected`) and replayed once fixed (`hub events replay`).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence

from aiokafka import ConsumerRecord

from agents.app import WorkerDeps
from agents.batching import OutRecord
from agents.integrity import RecordGate
from agents.router import (
    ORIGINAL_OFFSET,
    ORIGINAL_TOPIC,
    REJECTED_REASON,
    REJECTED_RULES,
    REJECTED_SOURCE,
)
from hub.broker.topics import source_topics
from hub.events.cloudevents import original_headers
from hub.rejected.quarantine import QuarantineStore
from hub.rejected.store import RejectedStore, Rejection
from hub.signing.records import unsigned
from hub.timeutil import utcnow

_HUB_HEADERS = {REJECTED_REASON, REJECTED_RULES, ORIGINAL_TOPIC, ORIGINAL_OFFSET, REJECTED_SOURCE}


def to_rejection(
    msg: ConsumerRecord[bytes, bytes], bound: dict[str, str] | None = None
) -> Rejection:
    """`bound`: each source's own topic -> its id (the source of a record there is the topic's,
    whatever its ce_source claims)."""
    headers = unsigned(msg.headers or ())
    hub = {k: v.decode(errors="replace") for k, v in headers if k in _HUB_HEADERS}
    original = original_headers(headers)
    if original is None:  # written before the hub's envelope: the record's own headers as they are
        original = [(k, v) for k, v in headers if k not in _HUB_HEADERS]
    ce = {k[3:]: v.decode(errors="replace")[:128] for k, v in original if k.startswith("ce_")}
    try:
        partition, offset = json.loads(hub.get(ORIGINAL_OFFSET, "[]"))
    except (ValueError, TypeError):  # not written by the router: keep it under its own position
        partition, offset = msg.partition, msg.offset
    original_topic = hub.get(ORIGINAL_TOPIC, msg.topic)
    # the router's word (a record not the hub's is laid to its topic's source, or to none);
    # a record from a router before it said so: the topic's source, else the one it claims
    source = hub.get(REJECTED_SOURCE)
    if source is None:
        source = (bound or {}).get(original_topic) or ce.get("source", "")
    return Rejection(
        rejected_at=utcnow(),
        source=source[:64],
        event_id=ce.get("id", ""),
        event_type=ce.get("type", "")[:64],
        original_topic=original_topic,
        original_partition=int(partition),
        original_offset=int(offset),
        key=msg.key,
        value=msg.value or b"",
        headers=original,
        reason=hub.get(REJECTED_REASON, "rejected before reaching the hub's router"),
        rules=tuple(r for r in hub.get(REJECTED_RULES, "").split(",") if r),
    )


class RejectedRecorderHandler:
    def __init__(
        self, deps: WorkerDeps, store: RejectedStore, quarantine: QuarantineStore | None = None
    ) -> None:
        self.deps = deps
        self.store = store
        self.gate = RecordGate(deps.keys, "rejected-recorder", quarantine)

    @property
    def topics(self) -> list[str]:
        return [self.deps.names.rejected]

    async def __call__(self, records: Sequence[ConsumerRecord[bytes, bytes]]) -> list[OutRecord]:
        ok = await self.gate.admit(records)  # the router's rejections; anything else: quarantine
        bound = source_topics(self.deps.names, self.deps.config)
        await asyncio.to_thread(self.store.add, [to_rejection(m, bound) for m in ok])
        return []
