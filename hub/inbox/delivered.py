"""Pull-inbox deliveries and their "delivered" audit entries, in one transaction.

The delivery agent used to store the inbox rows, then send each "delivered" entry through the
audit topic to the audit writer: two more Kafka hops and a second transaction per delivery.
Here both are written where the hand-over happens, in the transaction that stores the rows:
a delivery is in the inbox exactly when its audit entry is in the chain. A redelivered batch
(at-least-once) stores nothing twice: rows are keyed by delivery id, entries by entry id.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError

from hub.audit.store import append_in
from hub.inbox.store import InboxStore
from hub.routing.messages import AuditEntry, Delivery, delivered_entry


@dataclass(frozen=True)
class Handed:
    stored: int  # inbox rows added
    entries: tuple[AuditEntry, ...]  # the batch's "delivered" entries
    audited: int  # of which appended to the chain now (the others were already recorded)


def deliver_to_inbox(
    engine: Engine, deliveries: Sequence[Delivery], payloads: Sequence[str], at: datetime
) -> Handed:
    batch: dict[str, tuple[Delivery, str]] = {}
    for d, text in zip(deliveries, payloads, strict=True):
        batch.setdefault(d.delivery_id, (d, text))
    if not batch:
        return Handed(0, (), 0)
    entries = tuple(delivered_entry(d, at) for d, _ in batch.values())
    try:
        with engine.begin() as conn:
            stored = InboxStore.add_in(conn, batch, at)
            audited = append_in(conn, entries, at, skip_recorded=False)
    except IntegrityError:  # a redelivered batch: some entries are recorded already
        with engine.begin() as conn:
            stored = InboxStore.add_in(conn, batch, at)
            audited = append_in(conn, entries, at, skip_recorded=True)
    return Handed(stored, entries, audited)
