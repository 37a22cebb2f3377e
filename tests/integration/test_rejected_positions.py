"""A rejected record is kept once per record, not once per broker position (on SQLite).

The embedded broker keeps its topics in memory: after it restarts, offsets begin again at 0, and
a record rejected now can sit where an earlier rejected record sat. It must be listed (to be
fixed and replayed), where it used to be skipped as if it were the earlier one redelivered.
PostgreSQL keeps the position's key for now (a rolling deploy's earlier code needs it; with
Apache Kafka, offsets never begin again): revision 0023.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Engine, insert, select

from hub.db.engine import downgrade, make_engine, migrate
from hub.quality.counters import QualityCounters
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
    kept = store.add([rejected("e-2", b"second"), rejected("e-3", b"third", offset=6)])
    listed = sorted(r.event_id for r in store.list())
    if migrated_engine.dialect.name == "sqlite":
        assert (kept, listed) == (2, ["e-1", "e-2", "e-3"])
    else:  # the position's key, as before
        assert (kept, listed) == (1, ["e-1", "e-3"])
    # each record stored is counted once on the data quality page, the redelivery not again
    [counted] = QualityCounters(migrated_engine).summary(source="council-tax")
    assert (counted.outcome, counted.rule, counted.count) == (
        "rejected",
        "postcode_format",
        kept + 1,
    )


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
        with engine.connect() as conn:
            digests = conn.execute(select(_TABLE.c.record_sha256).order_by(_TABLE.c.seq))
            assert [len(d) for d in digests.scalars()] == [64, 64]
        sqlite = engine.dialect.name == "sqlite"
        # another record at its position: kept on SQLite
        assert store.add([rejected("e-3", b"third")]) == (1 if sqlite else 0)
        downgrade(engine, "0022")  # one row a position again: the first one kept
        with engine.connect() as conn:
            kept = conn.execute(select(_TABLE.c.event_id).order_by(_TABLE.c.seq)).scalars()
            assert list(kept) == ["e-1", "e-2"]
        migrate(engine)
        assert store.add([rejected("e-3", b"third")]) == (1 if sqlite else 0)
    finally:
        engine.dispose()
