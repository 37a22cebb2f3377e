"""Inbox rows: unique per (event id, delivery id), instead of by delivery id alone.

A delivery id is derived from its event (source, event id, recipient; before revision 0009
from event id and recipient), so it already belongs to one event: this refuses exactly what
the unique delivery id refused (a delivery stored twice). What changes is where a row's key
lands in the index: delivery ids are hashes, so each of an event's K deliveries landed on its
own random index page (a batch wrote about one index page per row as the table grew); keyed by
event first, an event's deliveries share a page. The hand-over looks rows up by event id and
delivery id (hub/inbox/store.py), which this index answers. As revision 0019 did for the audit
entries.

SQLite only. There the unnamed UNIQUE (delivery_id) of 0001 is part of the table's
definition, so the table is rebuilt (rows copied as they are: seq, cursors, payloads and
acknowledgements). PostgreSQL keeps UNIQUE (delivery_id): a rolling deploy runs the earlier
code beside the migrated database for a while, and its `INSERT ... ON CONFLICT (delivery_id)`
needs that constraint (SQLite's `INSERT OR IGNORE` needs none, and a SQLite hub's processes
are restarted together). The hand-over's look-up, by event id and delivery id, uses whichever
index the database has.

Revision ID: 0020
"""

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None

TABLE = "inbox_item"
NEW = "uq_inbox_item_event_delivery"
# SQLite's unnamed constraint gets this name when batch mode reflects the table (and the
# downgrade gives it to the unique index it makes instead)
OLD_SQLITE = "uq_inbox_item_delivery_id"
NAMING = {"uq": "uq_%(table_name)s_%(column_0_name)s"}


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "sqlite":
        return  # PostgreSQL keeps UNIQUE (delivery_id): see above
    found = sa.inspect(bind)
    if any(i["name"] == OLD_SQLITE for i in found.get_indexes(TABLE)):
        op.drop_index(OLD_SQLITE, table_name=TABLE)  # this revision's downgrade made it
    if any(u["column_names"] == ["delivery_id"] for u in found.get_unique_constraints(TABLE)):
        with op.batch_alter_table(TABLE, naming_convention=NAMING, recreate="always") as b:
            b.drop_constraint(OLD_SQLITE, type_="unique")
    op.create_index(NEW, TABLE, ["event_id", "delivery_id"], unique=True)


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    op.drop_index(NEW, table_name=TABLE)
    op.create_index(OLD_SQLITE, TABLE, ["delivery_id"], unique=True)
