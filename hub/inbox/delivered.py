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
from typing import Any, NamedTuple

import structlog
from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError

from hub.audit.store import append_rows, delivered_row
from hub.inbox.store import CursorTaken, InboxStore, StoredBefore, catch_up_counters
from hub.routing.messages import Delivery

log = structlog.get_logger("hub.inbox")


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
        return _hand_over(engine, batch, rows, at, expect_new=True)
    except (IntegrityError, StoredBefore, CursorTaken):
        pass  # a redelivered batch: some are recorded already (looked up now)
    try:
        return _hand_over(engine, batch, rows, at, expect_new=False)
    except (IntegrityError, CursorTaken):
        # a number its inbox already holds (a counter behind its rows): caught up, then again;
        # anything else (nothing was behind) is the batch's error
        if not _caught_up(engine, {d.recipient for d, _ in batch.values()}):
            raise
    return _hand_over(engine, batch, rows, at, expect_new=False)


def _hand_over(
    engine: Engine,
    batch: dict[str, tuple[Delivery, str]],
    rows: list[dict[str, Any]],
    at: datetime,
    expect_new: bool,
) -> Handed:
    """One transaction: the inbox rows, then their entries appended to the chain."""
    with engine.begin() as conn:
        stored = InboxStore.add_in(conn, batch, at, expect_new=expect_new)
        audited = append_rows(conn, rows, skip_recorded=not expect_new)
    entries = tuple(Audited(r["recipient"], r["outcome"], r["decided_at"]) for r in rows)
    return Handed(stored, entries, audited)


def _caught_up(engine: Engine, recipients: set[str]) -> bool:
    """True when some of these recipients' inbox counters were behind and are caught up."""
    with engine.begin() as conn:
        moved = catch_up_counters(conn, recipients)
    for recipient, (was, now) in sorted(moved.items()):
        log.warning("inbox_counter_caught_up", recipient=recipient, counter_was=was, now=now)
    return bool(moved)
