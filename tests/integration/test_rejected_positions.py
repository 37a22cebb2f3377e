"""A rejected record is kept once per record, not once per broker position.

The embedded broker keeps its topics in memory: after it restarts, offsets begin again at 0, and
a record rejected now can sit where an earlier rejected record sat. It must be listed (to be
fixed and replayed), where it used to be skipped as if it were the earlier one redelivered.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Engine, insert, select

from hub.db.engine import downgrade, make_engine, migrate
from hub.rejected.store import _TABLE, RejectedStore, Rejection, headers_to_json
from tests.integration.test_audit_entry_index import url  # noqa: F401  (the fixture)

T0 = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
_STORED = (
    "rejected_at",
    "source",
    "event_id",
    "event_type",
    "original_topic",
    "original_partition",
    "original_offset",
    "key",
    "value",
    "reason",
    "status",
)


def rejected(event_id: str, value: bytes, offset: int = 5) -> Rejection:
    return Rejection(
        rejected_at=T0,
        source="council-tax",
        event_id=event_id,
        event_type="address.changed",
        original_topic="sources.council-tax",
        original_partition=0,
        original_offset=offset,
        key=b"P-1",
        value=value,
        headers=[("ce_id", event_id.encode())],
        reason="bad",
        rules=("postcode_format",),
    )


def test_a_rejection_where_an_earlier_one_sat_is_kept_and_a_redelivery_is_not(
    migrated_engine: Engine,
) -> None:
    store = RejectedStore(migrated_engine)
    assert store.add([rejected("e-1", b"first")]) == 1
    assert store.add([rejected("e-1", b"first")]) == 0  # the same record redelivered
    # after a broker restart, another record at the same position
    assert store.add([rejected("e-2", b"second"), rejected("e-3", b"third", offset=6)]) == 2
    assert sorted(r.event_id for r in store.list()) == ["e-1", "e-2", "e-3"]


def test_rows_stored_before_upgrade_are_kept_once_each_and_downgrade(url: str) -> None:  # noqa: F811
    engine = make_engine(url)
    try:
        migrate(engine, "0022")
        with engine.begin() as conn:  # as 0002 stored them, one row a position
            conn.execute(
                insert(_TABLE),
                [
                    {
                        **{c: getattr(r, c) for c in _STORED},
                        "headers": headers_to_json(r.headers),
                        "rules": ",".join(r.rules),
                    }
                    for r in (rejected("e-1", b"first"), rejected("e-2", b"second", offset=6))
                ],
            )
        migrate(engine)
        store = RejectedStore(engine)
        assert store.add([rejected("e-1", b"first")]) == 0  # the stored row is recognised
        assert store.add([rejected("e-3", b"third")]) == 1  # another record at its position
        assert sorted(r.event_id for r in store.list()) == ["e-1", "e-2", "e-3"]
        downgrade(engine, "0022")  # one row a position again: the first one kept
        with engine.connect() as conn:
            kept = conn.execute(select(_TABLE.c.event_id).order_by(_TABLE.c.seq)).scalars()
            assert list(kept) == ["e-1", "e-2"]
        migrate(engine)
        assert store.add([rejected("e-3", b"third")]) == 1
    finally:
        engine.dispose()
