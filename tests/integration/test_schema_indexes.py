"""Every index the hub's migrations leave is one some query needs: none is covered by another
key of its table that starts with the same columns (revision 0021 dropped the inbox's index on
recipient alone, which UNIQUE (recipient, cursor) covers). Each such index costs every insert
one more index write and serves no query the longer key does not. SQLite and PostgreSQL."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine, Inspector, PrimaryKeyConstraint, UniqueConstraint, inspect
from sqlmodel import SQLModel

import hub.db.tables  # noqa: F401  (registers the tables)
from hub.db.engine import downgrade, migrate


@dataclass(frozen=True)
class Key:
    name: str
    columns: tuple[str, ...]
    unique: bool


def covered(keys: list[Key]) -> list[str]:
    """Non-unique indexes whose columns lead another key of the same table, each with the keys
    that cover it ("ix_a ('a',) covered by uq_ab")."""
    found = []
    for k in keys:
        by = sorted(
            o.name for o in keys if o.name != k.name and o.columns[: len(k.columns)] == k.columns
        )
        if by and not k.unique:
            found.append(f"{k.name} {k.columns} covered by {', '.join(by)}")
    return sorted(found)


def database_keys(found: Inspector, table: str) -> list[Key]:
    keys = [
        Key(i["name"] or "", tuple(str(c) for c in i["column_names"]), bool(i["unique"]))
        for i in found.get_indexes(table)
    ]
    keys += [
        Key(u["name"] or "", tuple(u["column_names"]), True)
        for u in found.get_unique_constraints(table)
    ]
    pk = found.get_pk_constraint(table)
    if pk["constrained_columns"]:
        keys.append(Key("primary key", tuple(pk["constrained_columns"]), True))
    return keys


def redundant(engine: Engine) -> list[str]:
    found = inspect(engine)
    return [f"{t}: {c}" for t in found.get_table_names() for c in covered(database_keys(found, t))]


def test_the_covered_rule_finds_a_prefix_and_only_a_prefix() -> None:
    keys = [
        Key("ix_r", ("recipient",), False),
        Key("uq_rc", ("recipient", "cursor"), True),
        Key("ix_c", ("cursor",), False),
        Key("ix_rs", ("recipient", "status"), False),
    ]
    assert covered(keys) == ["ix_r ('recipient',) covered by ix_rs, uq_rc"]
    assert covered([Key("ix_a", ("a",), False), Key("uq_a", ("a",), True)]) == [
        "ix_a ('a',) covered by uq_a"
    ]
    assert covered([Key("uq_a", ("a",), True), Key("uq_ab", ("a", "b"), True)]) == []


def test_the_models_declare_no_covered_index() -> None:
    for table in SQLModel.metadata.sorted_tables:
        keys = [
            Key(i.name or "", tuple(c.name for c in i.columns), bool(i.unique))
            for i in table.indexes
        ]
        keys += [
            Key(
                str(c.name or f"unnamed {type(c).__name__}"),
                tuple(col.name for col in c.columns),
                True,
            )
            for c in table.constraints
            if isinstance(c, UniqueConstraint | PrimaryKeyConstraint)
        ]
        assert covered(keys) == [], table.name


def test_the_migrated_database_keeps_no_covered_index(migrated_engine: Engine) -> None:
    assert redundant(migrated_engine) == []


def inbox_indexes(engine: Engine) -> set[str | None]:
    return {i["name"] for i in inspect(engine).get_indexes("inbox_item")}


def test_the_inbox_recipient_index_comes_back_on_downgrade(migrated_engine: Engine) -> None:
    assert "ix_inbox_item_recipient" not in inbox_indexes(migrated_engine)
    downgrade(migrated_engine, "0020")
    assert "ix_inbox_item_recipient" in inbox_indexes(migrated_engine)
    migrate(migrated_engine)
    assert "ix_inbox_item_recipient" not in inbox_indexes(migrated_engine)


def test_an_inbox_whose_index_was_dropped_by_hand_upgrades(migrated_engine: Engine) -> None:
    downgrade(migrated_engine, "0020")
    with migrated_engine.begin() as conn:
        conn.exec_driver_sql("DROP INDEX ix_inbox_item_recipient")  # an operator did it
    migrate(migrated_engine)
    assert "ix_inbox_item_recipient" not in inbox_indexes(migrated_engine)
    assert redundant(migrated_engine) == []
