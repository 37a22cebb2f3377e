"""The stores behind the workbench's lists filter UK days in SQL and count what matched, on
SQLite and PostgreSQL alike: a BST day starts at 23:00 UTC the evening before."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from sqlalchemy import Engine, insert

from hub.audit.queries import CONSENT, consent_withdrawals_page
from hub.rejected.store import RejectedStore, Rejection

DAY = date(2026, 7, 1)  # BST: the UK day is 2026-06-30 23:00 to 2026-07-01 23:00 UTC
EDGES = [
    datetime(2026, 6, 30, 22, 59, tzinfo=UTC),  # 30 June, UK
    datetime(2026, 6, 30, 23, 0, tzinfo=UTC),  # 1 July, UK: first moment
    datetime(2026, 7, 1, 22, 59, tzinfo=UTC),  # 1 July, UK: last minute
    datetime(2026, 7, 1, 23, 0, tzinfo=UTC),  # 2 July, UK
]


def test_consent_and_rejected_pages_keep_to_uk_days(migrated_engine: Engine) -> None:
    with migrated_engine.begin() as conn:
        conn.execute(
            insert(CONSENT),
            [
                {
                    "source": "contact-centre",
                    "event_id": f"c-{i}",
                    "subject": f"S-{i}",
                    "action": "withdrawn",
                    "purpose": "DSA-001",
                    "recipient": None,
                    "effective_at": at,
                    "recorded_at": at,
                }
                for i, at in enumerate(EDGES + [EDGES[1] + timedelta(minutes=m) for m in range(5)])
            ],
        )
    found = consent_withdrawals_page(migrated_engine, "s" * 32, DAY, DAY, number=1, size=3)
    assert found.total == 7 and len(found.rows) == 3 and found.has_next
    rest = consent_withdrawals_page(migrated_engine, "s" * 32, DAY, DAY, number=3, size=3)
    assert len(rest.rows) == 1 and not rest.has_next
    assert consent_withdrawals_page(migrated_engine, "s" * 32, None, None).total == 9

    store = RejectedStore(migrated_engine)
    store.add(
        [
            Rejection(
                rejected_at=at,
                source="council-tax" if i % 2 else "registrar",
                event_id=f"r-{i}",
                event_type="address.changed",
                original_topic="events.address.changed",
                original_partition=0,
                original_offset=i,
                key=None,
                value=b"{}",
                headers=[],
                reason="bad",
                rules=("postcode_format",),
            )
            for i, at in enumerate(EDGES)
        ]
    )
    day = store.page(None, DAY, DAY, 1, 10)
    assert sorted(r.event_id for r in day.rows) == ["r-1", "r-2"] and day.total == 2
    assert store.page("council-tax", DAY, DAY).total == 1
    assert store.page(None, None, DAY).total == 3 and store.page(None, DAY, None).total == 3
