"""Delivery agent: put each recipient's deliveries in its pull inbox, then audit them as delivered."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import structlog
from aiokafka import ConsumerRecord
from pydantic import ValidationError

from agents.app import WorkerDeps
from agents.batching import OutRecord
from hub.inbox.store import InboxStore
from hub.routing.messages import Delivery, delivered_entry
from hub.timeutil import utcnow

log = structlog.get_logger("agents.delivery")


class DeliveryHandler:
    def __init__(self, deps: WorkerDeps, inbox: InboxStore) -> None:
        self.deps = deps
        self.inbox = inbox

    @property
    def topics(self) -> list[str]:
        return [self.deps.names.deliveries(s.id) for s in self.deps.config.recipients]

    async def __call__(self, records: Sequence[ConsumerRecord[bytes, bytes]]) -> list[OutRecord]:
        deliveries: list[Delivery] = []
        payloads: list[str] = []
        for msg in records:
            try:
                deliveries.append(Delivery.model_validate_json(msg.value or b""))
                payloads.append((msg.value or b"").decode())
            except ValidationError:
                log.error(
                    "delivery_undecodable",
                    topic=msg.topic,
                    partition=msg.partition,
                    offset=msg.offset,
                )
        now = utcnow()
        await asyncio.to_thread(self.inbox.add, deliveries, now, payloads)
        audit = self.deps.names.audit
        return [
            OutRecord(
                audit, d.subject_key.encode(), delivered_entry(d, now).model_dump_json().encode()
            )
            for d in deliveries
        ]
