"""The quarantine store on SQLite and PostgreSQL: kept whole, once per record, counted, purged."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine

from hub.rejected.quarantine import Quarantined, QuarantineStore

T0 = datetime(2026, 11, 24, 9, 30, tzinfo=UTC)


def refused(offset: int, topic: str = "audit", value: bytes = b"{}") -> Quarantined:
    return Quarantined(
        quarantined_at=T0 + timedelta(minutes=offset),
        consumer="audit-writer",
        topic=topic,
        partition=0,
        offset=offset,
        key=None,
        value=value,
        headers=[("x", b"\x00\xff")],
        reason="unsigned",
    )


def test_kept_whole_once_counted_and_purged(migrated_engine: Engine) -> None:
    store = QuarantineStore(migrated_engine)
    assert store.add([refused(1), refused(2, "deliveries.waste", b"\xfe\x00raw")]) == 2
    assert store.add([refused(1)]) == 0  # a redelivered batch is not kept twice
    # the same position after a broker restart, another record: kept too
    assert store.add([refused(1, value=b"other")]) == 1
    listed = store.list()
    assert [q.offset for q in listed] == [1, 2, 1]
    raw = store.list(topic="deliveries.waste")[0]
    assert raw.value == b"\xfe\x00raw" and raw.key is None and raw.headers == [("x", b"\x00\xff")]
    assert raw.value_b64 == "/gByYXc="
    assert store.counts() == {("audit", "unsigned"): 2, ("deliveries.waste", "unsigned"): 1}
    assert store.purge_before(T0 + timedelta(minutes=2)) == 2
    assert [q.topic for q in store.list()] == ["deliveries.waste"]
