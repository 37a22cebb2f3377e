"""Audit entries: unique per (event id, entry id), instead of by entry id alone.

An entry id is derived from its delivery id, which is derived from its event (source, event id,
recipient), so an entry id already belongs to one event: this refuses exactly what the unique
entry id refused (a redelivered entry). What changes is where an entry's key lands in the index.
Entry ids are hashes, so each of an event's K entries landed on its own random index page, and
as the table grew a batch wrote nearly one index page per row to the WAL; keyed by event first,
an event's entries share a page. The index on event id alone is dropped: the new one leads with
it and answers every search by event id (IG's audit search, the originals of a correction).

On SQLite the unnamed UNIQUE (entry_id) of 0001 is part of the table's definition, so the table
is rebuilt (rows copied as they are: seq, values and hashes, so the chain verifies unchanged).

Revision ID: 0019
"""

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None

TABLE = "audit_record"
NEW = "uq_audit_record_event_entry"
OLD_PG = "audit_record_entry_id_key"  # PostgreSQL's name for 0001's UNIQUE (entry_id)
# SQLite's unnamed constraint gets this name when batch mode reflects the table (and the
# downgrade gives it to the unique index it makes instead)
OLD_SQLITE = "uq_audit_record_entry_id"
NAMING = {"uq": "uq_%(table_name)s_%(column_0_name)s"}


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        found = sa.inspect(bind)
        if any(i["name"] == OLD_SQLITE for i in found.get_indexes(TABLE)):
            op.drop_index(OLD_SQLITE, table_name=TABLE)  # this revision's downgrade made it
        if any(u["column_names"] == ["entry_id"] for u in found.get_unique_constraints(TABLE)):
            with op.batch_alter_table(TABLE, naming_convention=NAMING, recreate="always") as b:
                b.drop_constraint(OLD_SQLITE, type_="unique")
    else:
        op.drop_constraint(OLD_PG, TABLE, type_="unique")
    op.create_index(NEW, TABLE, ["event_id", "entry_id"], unique=True)
    op.drop_index("ix_audit_record_event_id", table_name=TABLE)


def downgrade() -> None:
    op.create_index("ix_audit_record_event_id", TABLE, ["event_id"])
    op.drop_index(NEW, table_name=TABLE)
    if op.get_bind().dialect.name == "sqlite":
        op.create_index(OLD_SQLITE, TABLE, ["entry_id"], unique=True)
    else:
        op.create_unique_constraint(OLD_PG, TABLE, ["entry_id"])
