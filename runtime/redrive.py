"""Redrive: each dead letter re-checked against the policy in force now: back in the outbox for
the worker to send, or withheld and audited (mode redrive). Used by `hub deliveries redrive` and a
receiver's self-service request."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from hub.settings import HubSettings


@dataclass(frozen=True)
class RedriveSummary:
    requeued: int
    withheld: int


async def redrive(settings: HubSettings, bootstrap: str, recipient: str | None) -> RedriveSummary:
    """Re-check each dead letter against the policy in force now: requeue it, or audit it withheld."""
    from hub.broker.producer import make_producer
    from hub.delivery.outbox import OutboxStore
    from hub.delivery.redrive import redecide
    from hub.events.cloudevents import audit_record
    from hub.policy.state import UNKNOWN
    from hub.routing.messages import AuditEntry
    from hub.routing.table import RoutingTable
    from hub.signing.keys import record_keys
    from hub.timeutil import utcnow
    from runtime.wiring import open_stores, wire

    w = wire(settings)
    stores = open_stores(settings)
    outbox = OutboxStore(stores.engine)
    dead = outbox.dead(recipient)
    table = RoutingTable.build(w.config)
    people = stores.subjects.load([row.delivery.subject for row in dead])
    now = utcnow()
    withheld: list[tuple[str, AuditEntry]] = []
    requeued = 0
    for row in dead:
        delivery = row.delivery
        decided = redecide(delivery, table, people.get(delivery.subject, UNKNOWN), now)
        if isinstance(decided, AuditEntry):
            withheld.append((row.delivery_id, decided))
        elif outbox.requeue(row.delivery_id, decided.model_dump_json(), row.attempts, now):
            requeued += 1
    if withheld:
        keys = record_keys(settings)
        producer = make_producer(settings, bootstrap)
        await producer.start()
        try:
            futures = []
            for _, e in withheld:
                (value, ce), key = audit_record(e), e.subject_key.encode()
                headers = keys.sign_headers(w.names.audit, key, value, ce)
                futures.append(await producer.send(w.names.audit, value, key=key, headers=headers))
            await asyncio.gather(*futures)
        finally:
            await producer.stop()
        for delivery_id, entry in withheld:
            codes = ", ".join(r.code for r in entry.reasons)
            outbox.mark_withheld(delivery_id, f"redrive withheld: {codes}", now)
    return RedriveSummary(requeued, len(withheld))
