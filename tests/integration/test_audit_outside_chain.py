"""Rows outside the chain (seq <= 0, past the chain head) are reported by verify by number and
never shown as audit, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import Engine, text

from hub.audit.queries import (
    PersonRef,
    ResolvedPerson,
    TransferQuery,
    agreements_overview,
    failures,
    rows_about,
    search,
    transfers_per_day,
    withheld_by_reason,
)
from hub.audit.store import AuditFilter
from hub.config.model import HubConfig
from tests.integration.test_audit_chain import T0, entry, filled, verify

FORGE = (
    "INSERT INTO audit_record (seq, entry_id, recorded_at, delivery_id, event_id, event_type, "
    "source, recipient, subject_key, outcome, reason_codes, reasons, fields, event_time, "
    "decided_at, mode, subject_flags, prev_hash, row_hash) "
    "SELECT {seq}, 'forged-{name}', recorded_at, delivery_id, 'forged-{name}', event_type, "
    "source, 'parking', subject_key, '{outcome}', reason_codes, reasons, fields, event_time, "
    "decided_at, mode, subject_flags, prev_hash, row_hash FROM audit_record WHERE seq = 1"
)


def forge(engine: Engine, seq: int, name: str, outcome: str = "delivered") -> None:
    with engine.begin() as conn:
        conn.execute(text(FORGE.format(seq=seq, name=name, outcome=outcome)))


def test_a_row_past_the_head_is_reported_and_not_listed(migrated_engine: Engine) -> None:
    engine = migrated_engine
    store = filled(engine)
    assert verify(engine)[0]
    forge(engine, 11, "past", "failed")  # head is row 10
    ok, seq, problem = verify(engine)
    assert not ok and seq == 11
    assert "11 (past the chain head, row 10)" in problem
    assert "forged-past" not in {r.event_id for r in store.query(AuditFilter(limit=1000))}
    page = search(engine, TransferQuery(limit=1000), None)
    assert [r.seq for r in page.rows] == list(range(1, 11))
    assert failures(engine) == []
    # the writer's next batch takes seq 11 (unique): it fails and is retried, never chained past
    # a forged row; removing the forgery lets it in and the chain verifies again
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_record WHERE seq = 11"))
    store.write([entry(11)], T0)
    assert verify(engine)[0]


def test_rows_with_seq_zero_or_below_are_reported_and_not_listed(migrated_engine: Engine) -> None:
    engine = migrated_engine
    store = filled(engine)
    forge(engine, 0, "zero")
    forge(engine, -3, "negative", "withheld")
    ok, seq, problem = verify(engine)
    assert not ok and seq == -3
    assert "2 row(s) outside the chain" in problem and "-3, 0" in problem
    listed = store.query(AuditFilter(limit=1000, after_seq=-100))
    assert {r.seq for r in listed} == set(range(1, 11))
    page = search(engine, TransferQuery(limit=1000, after_seq=-100), None)
    assert min(r.seq for r in page.rows) == 1
    everyone = ResolvedPerson(subject_keys=tuple({r.subject_key for r in listed}))
    assert {r.seq for r in rows_about(engine, everyone)} == set(range(1, 11))
    assert withheld_by_reason(engine) == []  # the forged withheld row is not counted
    flows = agreements_overview(engine, HubConfig(systems=(), agreements=()), date(2026, 11, 24))
    assert flows == []
    per_day = transfers_per_day(engine, T0.date() + timedelta(days=1))
    assert sum(d.count for d in per_day) == 10
    assert PersonRef().given is False


def test_rows_appended_while_verifying_are_not_reported(migrated_engine: Engine) -> None:
    """Rows and head move in one transaction: a normal write is never 'outside the chain'."""
    engine = migrated_engine
    store = filled(engine, 3)
    store.write([entry(i) for i in range(4, 8)], T0)
    assert verify(engine)[0]
    assert len(store.query(AuditFilter(limit=100))) == 7
