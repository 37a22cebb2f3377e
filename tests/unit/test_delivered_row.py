"""The hot path's stored "delivered" row is exactly the row the entry would give: the chain and
IG's reads cannot tell which path wrote it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from hub.audit.store import delivered_row, entry_row
from hub.routing.messages import Delivery, Mode, delivered_entry

AT = datetime(2026, 7, 1, 23, 30, 0, 123456, tzinfo=UTC)


def delivery(**changes: object) -> Delivery:
    fields: dict[str, object] = {
        "delivery_id": "d-1",
        "event_id": "e-1",
        "event_type": "address.changed",
        "source": "council-tax",
        "subject": "P-1",
        "subject_key": "k" * 64,
        "recipient": "waste",
        "local_id": "W-1",
        "event_time": datetime(2026, 7, 1, 23, 0, tzinfo=timezone(timedelta(hours=1))),
        "agreement_id": "DSA-1",
        "agreement_version": "abc",
        "lawful_basis": "public task",
        "purpose": "waste collection",
        "fields": ("effective_date", "new_address"),
        "data": {"effective_date": "2026-07-01"},
        "decided_at": AT - timedelta(seconds=1),
    }
    return Delivery.model_validate(fields | changes)


@pytest.mark.parametrize(
    "d",
    [
        delivery(),
        delivery(local_id=None, fields=(), subject_flags=("deceased",)),
        delivery(mode=Mode.REPLAY),
    ],
)
def test_delivered_row_is_the_entrys_row(d: Delivery) -> None:
    assert delivered_row(d, AT) == entry_row(delivered_entry(d, AT), AT)
