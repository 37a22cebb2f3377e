"""Audit writer agent: every decision becomes one row in the SQL audit store (batched, idempotent)."""

from __future__ import annotations

import asyncio
from typing import Any

import structlog
from pydantic import ValidationError

from agents.app import WorkerDeps
from hub.audit.store import AuditStore
from hub.routing.messages import AuditEntry
from hub.timeutil import utcnow

log = structlog.get_logger("agents.audit_writer")


def register_audit_writer(app: Any, deps: WorkerDeps, store: AuditStore) -> Any:
    topic = app.topic(deps.names.audit)
    batch = deps.settings.agent_batch_size
    within = deps.settings.agent_batch_window_ms / 1000.0

    @app.agent(topic, name="audit-writer")
    async def audit_writer(stream: Any) -> None:
        async for events in stream.take_events(batch, within=within):
            entries: list[AuditEntry] = []
            for ev in events:
                try:
                    entries.append(AuditEntry.model_validate_json(ev.message.value))
                except ValidationError:
                    log.error(
                        "audit_entry_undecodable",
                        partition=ev.message.partition,
                        offset=ev.message.offset,
                    )
            inserted = await asyncio.to_thread(store.write, entries, utcnow())
            last = events[-1].message
            log.debug("audit_written", rows=inserted, received=len(entries), offset=last.offset)

    return audit_writer
