"""Inbox rows and their "delivered" audit entries are written in one transaction, once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import Engine

from hub.audit.checkpoint import CheckpointStore
from hub.audit.signing import Signer
from hub.audit.store import AuditFilter, AuditStore
from hub.audit.verify import verify_chain
from hub.db.engine import make_engine, migrate
from hub.inbox.delivered import deliver_to_inbox
from hub.inbox.store import CursorTaken, InboxStore
from hub.routing.messages import Delivery, Mode, delivery_id

NOW = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
SIGNER = Signer(Ed25519PrivateKey.generate())


def delivery(event_id: str, recipient: str) -> Delivery:
    return Delivery(
        delivery_id=delivery_id(event_id, recipient, source="council-tax"),
        event_id=event_id,
        event_type="address.changed",
        source="council-tax",
        subject="P-1",
        subject_key="k" * 32,
        recipient=recipient,
        local_id="W-1",
        event_time=NOW,
        agreement_id="DSA-001",
        agreement_version="abc123",
        lawful_basis="Art. 6(1)(e)",
        purpose="bins",
        fields=("new_address.postcode",),
        data={"new_address": {"postcode": "EX4 7QT"}},
        decided_at=NOW,
        mode=Mode.LIVE,
    )


def handed(engine: Engine, batch: list[Delivery], at: datetime) -> tuple[int, int]:
    h = deliver_to_inbox(engine, batch, [d.model_dump_json() for d in batch], at)
    return h.stored, h.audited


def numbered(engine: Engine, recipient: str) -> list[tuple[int, str]]:
    """(cursor, event id) of each delivery in `recipient`'s inbox, as a reader pages it."""
    return [(e.cursor, e.delivery.event_id) for e in InboxStore(engine).fetch(recipient, 0, 100)]


def test_each_delivery_is_stored_and_audited_once_and_the_chain_verifies(
    migrated_engine: Engine,
) -> None:
    first = [delivery(f"e-{i}", r) for i in range(3) for r in ("waste", "parking")]
    assert handed(migrated_engine, first, NOW) == (6, 6)
    # a redelivered batch (at-least-once), with one new delivery in it, later
    again = [*first[:4], delivery("e-9", "waste")]
    assert handed(migrated_engine, again, NOW + timedelta(seconds=5)) == (1, 1)
    rows = AuditStore(migrated_engine).query(AuditFilter(limit=100))
    assert len(rows) == 7 and {r.outcome for r in rows} == {"delivered"}
    assert sorted(r.delivery_id for r in rows) == sorted(d.delivery_id for d in [*first, again[-1]])
    # the redelivered ones took no number: the new one follows on
    assert [e.cursor for e in InboxStore(migrated_engine).fetch("waste", 0, 100)] == [1, 2, 3, 4]
    result = verify_chain(migrated_engine, CheckpointStore.signing(migrated_engine, SIGNER))
    assert result.ok, result.first_break


def test_a_row_stored_before_without_its_entry_is_not_stored_twice_nor_numbered_again(
    migrated_engine: Engine,
) -> None:
    """An inbox row can stand without its "delivered" entry in the chain (stored by an earlier
    version through the audit topic, whose entry had not arrived): handed over again, it keeps
    its row and number, its entry is recorded, and a new delivery takes the next number."""
    first = [delivery("e-1", "waste"), delivery("e-2", "waste")]
    assert handed(migrated_engine, first, NOW) == (2, 2)
    with migrated_engine.begin() as conn:
        conn.exec_driver_sql("DELETE FROM audit_record")
        conn.exec_driver_sql("DELETE FROM audit_chain_head")
    again = [*first, delivery("e-3", "waste")]
    assert handed(migrated_engine, again, NOW + timedelta(seconds=5)) == (1, 3)
    assert numbered(migrated_engine, "waste") == [
        (1, "e-1"),
        (2, "e-2"),
        (3, "e-3"),
    ]


def test_nothing_is_stored_when_the_audit_entries_cannot_be(migrated_engine: Engine) -> None:
    """One transaction: an inbox row never stands without its audit entry (the database itself
    refuses the audit rows, however they are written: INSERT on SQLite, COPY on PostgreSQL)."""
    refuse, allow = _refusing_trigger(migrated_engine.dialect.name)
    with migrated_engine.begin() as conn:
        for sql in refuse:
            conn.exec_driver_sql(sql)
    try:
        try:
            handed(migrated_engine, [delivery("e-1", "waste")], NOW)
        except Exception as exc:
            assert "disk full" in str(exc)
        else:
            raise AssertionError("the write should have failed")
    finally:
        with migrated_engine.begin() as conn:
            for sql in allow:
                conn.exec_driver_sql(sql)
    assert InboxStore(migrated_engine).fetch("waste", 0, 100) == []
    assert handed(migrated_engine, [delivery("e-1", "waste")], NOW) == (1, 1)


def _refusing_trigger(dialect: str) -> tuple[list[str], list[str]]:
    """SQL making the database refuse every audit row ("disk full"), and SQL undoing it."""
    if dialect == "sqlite":
        return (
            [
                "CREATE TRIGGER refuse_audit BEFORE INSERT ON audit_record "
                "BEGIN SELECT RAISE(ABORT, 'disk full'); END"
            ],
            ["DROP TRIGGER refuse_audit"],
        )
    return (
        [
            "CREATE FUNCTION refuse_audit() RETURNS trigger LANGUAGE plpgsql AS "
            "$$ BEGIN RAISE EXCEPTION 'disk full'; END $$",
            "CREATE TRIGGER refuse_audit BEFORE INSERT ON audit_record "
            "FOR EACH ROW EXECUTE FUNCTION refuse_audit()",
        ],
        ["DROP TRIGGER refuse_audit ON audit_record", "DROP FUNCTION refuse_audit()"],
    )


@pytest.mark.parametrize(
    "set_back",
    [
        "UPDATE inbox_cursor SET last_cursor = 0 WHERE recipient = 'waste'",
        "UPDATE inbox_cursor SET last_cursor = 1 WHERE recipient = 'waste'",
        "DELETE FROM inbox_cursor WHERE recipient = 'waste'",
    ],
    ids=["counter-at-0", "counter-one-behind", "counter-row-gone"],
)
def test_a_counter_behind_its_rows_is_caught_up_and_no_delivery_is_lost(
    migrated_engine: Engine, set_back: str
) -> None:
    """Were a recipient's counter ever behind its rows (a database put back from copies taken
    at different times), a new delivery's number would collide with a stored one. The counter
    is moved up to the largest cursor held and the batch goes in with the next numbers: never
    a delivery skipped while its "delivered" entry is recorded, never a worker stopped."""
    first = [delivery("e-1", "waste"), delivery("e-2", "waste")]
    assert handed(migrated_engine, first, NOW) == (2, 2)
    with migrated_engine.begin() as conn:
        conn.exec_driver_sql(set_back)
    later = [delivery("e-3", "waste"), delivery("e-3", "parking"), delivery("e-4", "waste")]
    assert handed(migrated_engine, later, NOW + timedelta(seconds=5)) == (3, 3)
    assert numbered(migrated_engine, "waste") == [
        (1, "e-1"),
        (2, "e-2"),
        (3, "e-3"),
        (4, "e-4"),
    ]
    assert [e.cursor for e in InboxStore(migrated_engine).fetch("parking", 0, 100)] == [1]
    audited = AuditStore(migrated_engine).query(AuditFilter(limit=100))
    assert sorted(r.event_id for r in audited) == ["e-1", "e-2", "e-3", "e-3", "e-4"]
    result = verify_chain(migrated_engine, CheckpointStore.signing(migrated_engine, SIGNER))
    assert result.ok, result.first_break
    # and the next batch takes the next number without a repair
    assert handed(migrated_engine, [delivery("e-5", "waste")], NOW + timedelta(seconds=9)) == (1, 1)
    assert InboxStore(migrated_engine).fetch("waste", 4, 100)[0].cursor == 5


def test_a_counter_is_caught_up_past_what_its_reader_was_handed_out(
    migrated_engine: Engine,
) -> None:
    """The counter is caught up to the larger of the largest cursor held and what the
    recipient's reader has been handed out: a new delivery numbered at or below a reader's
    position would never be read."""
    first = [delivery(f"e-{i}", "waste") for i in range(1, 4)]
    assert handed(migrated_engine, first, NOW) == (3, 3)
    store = InboxStore(migrated_engine)
    assert [e.cursor for e in store.fetch("waste", 0, 100)] == [1, 2, 3]
    assert store.ack("waste", 3, NOW) == 3
    with migrated_engine.begin() as conn:  # acknowledged and purged: no number collides
        conn.exec_driver_sql("DELETE FROM inbox_item")
        conn.exec_driver_sql("UPDATE inbox_cursor SET last_cursor = 0")
    assert handed(migrated_engine, [delivery("e-9", "waste")], NOW + timedelta(seconds=5)) == (
        1,
        1,
    )
    assert [e.cursor for e in store.fetch("waste", 3, 100)] == [4]


def test_the_store_numbers_above_a_counter_behind_too(migrated_engine: Engine) -> None:
    """`InboxStore.add` (the numbering under the hand-over) catches a counter up as well."""
    store = InboxStore(migrated_engine)
    assert store.add([delivery("e-1", "waste")], NOW) == 1
    with migrated_engine.begin() as conn:
        conn.exec_driver_sql("UPDATE inbox_cursor SET last_cursor = 0 WHERE recipient = 'waste'")
    assert store.add([delivery("e-2", "waste")], NOW) == 1
    assert numbered(migrated_engine, "waste") == [
        (1, "e-1"),
        (2, "e-2"),
    ]


def test_a_delivery_the_insert_skips_unstored_fails_the_batch_on_sqlite(tmp_path: Path) -> None:
    """SQLite's INSERT OR IGNORE would skip a row silently, its "delivered" entry recorded
    anyway. A skipped delivery that is not in the inbox fails the batch instead (CursorTaken):
    nothing of it is stored. A trigger skips the row here, as a writer outside the hub might."""
    engine = make_engine(f"sqlite:///{tmp_path / 'hub.db'}")
    migrate(engine)
    with engine.begin() as conn:
        conn.exec_driver_sql(
            "CREATE TRIGGER skip_e2 BEFORE INSERT ON inbox_item WHEN NEW.event_id = 'e-2' "
            "BEGIN SELECT RAISE(IGNORE); END"
        )
    with pytest.raises(CursorTaken, match="something other than the hub wrote waste's inbox"):
        handed(engine, [delivery("e-1", "waste"), delivery("e-2", "waste")], NOW)
    assert InboxStore(engine).fetch("waste", 0, 100) == []
    assert AuditStore(engine).query(AuditFilter(limit=100)) == []
    engine.dispose()
