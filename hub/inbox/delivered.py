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
from typing import NamedTuple

from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError

from hub.audit.store import append_rows, delivered_row
from hub.inbox.store import InboxStore, StoredBefore
from hub.routing.messages import Delivery


class Audited(NamedTuple):
    """What the metrics count of each "delivered" entry (hub.metrics.audited)."""

    recipient: str
    outcome: str
    decided_at: datetime


@dataclass(frozen=True)
class Handed:
    stored: int  # inbox rows added
    entries: tuple[Audited, ...]  # the batch's "delivered" entries
    audited: int  # of which appended to the chain now (the others were already recorded)


def deliver_to_inbox(
    engine: Engine, deliveries: Sequence[Delivery], payloads: Sequence[str], at: datetime
) -> Handed:
    batch: dict[str, tuple[Delivery, str]] = {}
    for d, text in zip(deliveries, payloads, strict=True):
        batch.setdefault(d.delivery_id, (d, text))
    if not batch:
        return Handed(0, (), 0)
    rows = [delivered_row(d, at) for d, _ in batch.values()]
    try:
        with engine.begin() as conn:
            stored = InboxStore.add_in(conn, batch, at, expect_new=True)
            audited = append_rows(conn, rows, skip_recorded=False)
    except (IntegrityError, StoredBefore):  # a redelivered batch: some are recorded already
        with engine.begin() as conn:
            stored = InboxStore.add_in(conn, batch, at)
            audited = append_rows(conn, rows, skip_recorded=True)
    entries = tuple(Audited(r["recipient"], r["outcome"], r["decided_at"]) for r in rows)
    return Handed(stored, entries, audited)
