"""Audit entries are unique per (event id, entry id), keyed by event first (revision 0019): a
redelivered entry is still refused, and a chain written before the change upgrades (and
downgrades) with every row, and its verification, intact. SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine, insert, inspect, select
from sqlalchemy.exc import IntegrityError

from hub.audit.checkpoint import CheckpointStore
from hub.audit.ledger import AUDIT
from hub.audit.store import AuditFilter, AuditStore
from hub.audit.verify import verify_chain
from hub.db.engine import downgrade, make_engine, migrate
from tests.integration.conftest import reset_schema
from tests.integration.test_audit_chain import SIGNER, T0, entry


@pytest.fixture(params=["sqlite", "postgres"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'hub.db'}"
    server: str = request.getfixturevalue("postgres_url")
    reset_schema(server)
    return server


def chain_ok(engine: Engine) -> int:
    result = verify_chain(engine, CheckpointStore.signing(engine, SIGNER))
    assert result.ok, result.first_break
    return result.rows_checked


def stored(engine: Engine) -> list[tuple[object, ...]]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(select(AUDIT).order_by(AUDIT.c.seq))]


def unique_keys(engine: Engine) -> set[tuple[str, ...]]:
    """Column lists the database keeps unique on audit_record (constraints and indexes)."""
    found = inspect(engine)
    keys = {tuple(u["column_names"]) for u in found.get_unique_constraints("audit_record")}
    keys |= {
        tuple(str(c) for c in i["column_names"])
        for i in found.get_indexes("audit_record")
        if i["unique"]
    }
    return keys


def test_entries_are_unique_per_event_and_a_redelivered_one_is_refused(url: str) -> None:
    engine = make_engine(url)
    try:
        migrate(engine)
        assert ("event_id", "entry_id") in unique_keys(engine)
        assert ("entry_id",) not in unique_keys(engine)  # no index keyed by a hash alone
        store = AuditStore(engine)
        assert store.write([entry(i) for i in range(1, 21)], T0) == 20
        # a redelivered batch, partly new: only the new entries are appended
        assert store.write([entry(i) for i in range(15, 26)], T0) == 5
        with engine.connect() as conn:
            first = dict(conn.execute(select(AUDIT).limit(1)).mappings().one())
        with pytest.raises(IntegrityError), engine.begin() as conn:  # the database refuses it
            conn.execute(insert(AUDIT), [first | {"seq": 999}])
        assert [r.seq for r in store.query(AuditFilter(limit=100))] == list(range(1, 26))
        assert [r.event_id for r in store.query(AuditFilter(event_ids=("e7",)))] == ["e7"]
        assert chain_ok(engine) == 25
    finally:
        engine.dispose()


def test_a_chain_written_before_upgrades_and_downgrades_intact(url: str) -> None:
    engine = make_engine(url)
    try:
        migrate(engine, "0018")
        assert ("entry_id",) in unique_keys(engine)
        store = AuditStore(engine)
        assert store.write([entry(i) for i in range(1, 31)], T0) == 30
        before = stored(engine)

        migrate(engine)
        assert stored(engine) == before  # every row, seq and hash as it was
        assert chain_ok(engine) == 30
        assert store.write([entry(i) for i in range(25, 41)], T0) == 10
        assert chain_ok(engine) == 40

        downgrade(engine, "0018")
        assert ("entry_id",) in unique_keys(engine)
        assert store.write([entry(i) for i in range(35, 46)], T0) == 5
        assert chain_ok(engine) == 45
        assert stored(engine)[:30] == before

        migrate(engine)  # and up again from the downgrade's own unique index
        assert ("event_id", "entry_id") in unique_keys(engine)
        assert ("entry_id",) not in unique_keys(engine)
        assert store.write([entry(i) for i in range(40, 51)], T0) == 5
        assert chain_ok(engine) == 50
    finally:
        engine.dispose()
