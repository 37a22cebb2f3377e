"""Audit writer agent: every decision becomes one row in the SQL audit store (batched, idempotent)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import structlog
from aiokafka import ConsumerRecord
from pydantic import ValidationError

from agents.app import WorkerDeps
from agents.batching import OutRecord
from agents.integrity import RecordGate
from hub import metrics
from hub.audit.store import AuditStore
from hub.rejected.quarantine import QuarantineStore
from hub.routing.messages import AuditEntry
from hub.timeutil import utcnow

log = structlog.get_logger("agents.audit_writer")


class AuditWriterHandler:
    def __init__(
        self, deps: WorkerDeps, store: AuditStore, quarantine: QuarantineStore | None = None
    ) -> None:
        self.deps = deps
        self.store = store
        self.gate = RecordGate(deps.keys, "audit-writer", quarantine)

    @property
    def topics(self) -> list[str]:
        return [self.deps.names.audit]

    async def __call__(self, records: Sequence[ConsumerRecord[bytes, bytes]]) -> list[OutRecord]:
        entries: list[AuditEntry] = []
        for msg in await self.gate.admit(records):  # only entries the hub signed become rows
            try:
                entries.append(AuditEntry.model_validate_json(msg.value or b""))
            except ValidationError:
                log.error("audit_entry_undecodable", partition=msg.partition, offset=msg.offset)
        at = utcnow()
        written = await asyncio.to_thread(self.store.write, entries, at)
        metrics.audited(entries, written, at)
        return []
