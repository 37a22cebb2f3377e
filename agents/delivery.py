"""Delivery agent: put each recipient's deliveries in its pull inbox, then audit them as delivered."""

from __future__ import annotations

import asyncio
from typing import Any

import structlog
from pydantic import ValidationError

from agents.app import WorkerDeps
from agents.batching import OutRecord, send_all
from hub.inbox.store import InboxStore
from hub.routing.messages import Delivery, delivered_entry
from hub.timeutil import utcnow

log = structlog.get_logger("agents.delivery")


def register_delivery(app: Any, deps: WorkerDeps, inbox: InboxStore) -> Any:
    names = deps.names
    topic = app.topic(*[names.deliveries(s.id) for s in deps.config.recipients])
    batch = deps.settings.agent_batch_size
    within = deps.settings.agent_batch_window_ms / 1000.0

    @app.agent(topic, name="delivery")
    async def delivery(stream: Any) -> None:
        async for events in stream.take_events(batch, within=within):
            deliveries: list[Delivery] = []
            for ev in events:
                try:
                    deliveries.append(Delivery.model_validate_json(ev.message.value))
                except ValidationError:
                    log.error(
                        "delivery_undecodable",
                        topic=ev.message.topic,
                        partition=ev.message.partition,
                        offset=ev.message.offset,
                    )
            now = utcnow()
            await asyncio.to_thread(inbox.add, deliveries, now)
            await send_all(
                app,
                (
                    OutRecord(
                        names.audit,
                        d.subject_key.encode(),
                        delivered_entry(d, now).model_dump_json().encode(),
                    )
                    for d in deliveries
                ),
            )
            for d in deliveries:
                log.debug(
                    "delivered",
                    event_id=d.event_id,
                    recipient=d.recipient,
                    delivery_id=d.delivery_id,
                )

    return delivery
