"""Pull inbox: every recipient's cursors renumbered 1, 2, 3... in their order (dense per recipient).

Revision 0008 kept the rows written before it under their hub-wide `seq` and started every
recipient's counter at the hub-wide highest `seq`, so a recipient's cursors still showed how much
the hub had sent to others. Here each recipient's rows are renumbered by rank (order kept), its
counter set to its highest new cursor, and its handed-out cursor carried over (the rank of the
highest row it had been handed).

A client may still hold an old cursor. It cannot be told from a new one, so for every recipient
whose cursors changed the reader is marked `renumbered`: the inbox API then refuses `after > 0`
and acknowledgements (409 `cursors_renumbered`) until the client reads once from `after=0`
(only unacknowledged deliveries come back; de-duplicate on `delivery_id`). Nothing is skipped or
acknowledged by mistake. Downgrading keeps the new numbers (they are valid cursors under 0016).

Revision ID: 0018
"""

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("inbox_reader") as batch:
        batch.add_column(
            sa.Column("renumbered", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    op.execute(
        "CREATE TABLE inbox_renumber AS SELECT seq, recipient, cursor AS old_cursor, "
        "ROW_NUMBER() OVER (PARTITION BY recipient ORDER BY cursor) AS new_cursor "
        "FROM inbox_item"
    )
    op.execute("CREATE UNIQUE INDEX ix_inbox_renumber_seq ON inbox_renumber (seq)")
    changed = (
        "SELECT DISTINCT recipient FROM inbox_renumber WHERE old_cursor <> new_cursor "
        "UNION SELECT c.recipient FROM inbox_cursor c WHERE c.last_cursor <> "
        "(SELECT COALESCE(MAX(r.new_cursor), 0) FROM inbox_renumber r "
        "WHERE r.recipient = c.recipient)"
    )
    # what each reader was handed, in the new numbers (before the rows change)
    op.execute(
        "UPDATE inbox_reader SET renumbered = "
        f"CASE WHEN recipient IN ({changed}) THEN {_true()} ELSE {_false()} END, "
        "handed_out = (SELECT COALESCE(MAX(r.new_cursor), 0) FROM inbox_renumber r "
        "WHERE r.recipient = inbox_reader.recipient AND r.old_cursor <= inbox_reader.handed_out)"
    )
    # readers that never read but whose cursors changed: marked too (a client may hold one)
    op.execute(
        "INSERT INTO inbox_reader (recipient, handed_out, read_at, renumbered) "
        f"SELECT recipient, 0, CURRENT_TIMESTAMP, {_true()} FROM ({changed}) AS ch "
        "WHERE recipient NOT IN (SELECT recipient FROM inbox_reader)"
    )
    # two steps (negative first): no two rows of a recipient share a cursor at any moment
    op.execute(
        "UPDATE inbox_item SET cursor = -(SELECT r.new_cursor FROM inbox_renumber r "
        "WHERE r.seq = inbox_item.seq)"
    )
    op.execute("UPDATE inbox_item SET cursor = -cursor")
    op.execute(
        "UPDATE inbox_cursor SET last_cursor = (SELECT COALESCE(MAX(r.new_cursor), 0) "
        "FROM inbox_renumber r WHERE r.recipient = inbox_cursor.recipient)"
    )
    op.execute("DROP TABLE inbox_renumber")


def _true() -> str:
    return "TRUE" if op.get_bind().dialect.name == "postgresql" else "1"


def _false() -> str:
    return "FALSE" if op.get_bind().dialect.name == "postgresql" else "0"


def downgrade() -> None:
    with op.batch_alter_table("inbox_reader") as batch:
        batch.drop_column("renumbered")
