"""Event ids are per source: the idempotency key is (source, event id).

- ingest_journal, review_item: unique (source, event_id) instead of event_id alone; the journal
  keeps each event's content hash, so a repeat can be told a duplicate or a conflict;
- consent_record: gains its source; unique (source, event_id);
- event_claim (new): the first content the router saw for each (source, event id).

Revision ID: 0009
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

# Names the unnamed column-level UNIQUE constraints get when SQLite's tables are rebuilt.
_SQLITE_NAMES = {"uq": "uq_%(table_name)s_%(column_0_name)s"}


def _swap_unique(table: str, old_column: str, new_name: str, columns: list[str]) -> None:
    """Replace the unique constraint on `old_column` by one on `columns`."""
    if op.get_bind().dialect.name == "postgresql":
        op.drop_constraint(f"{table}_{old_column}_key", table, type_="unique")
        op.create_unique_constraint(new_name, table, columns)
        return
    with op.batch_alter_table(table, recreate="always", naming_convention=_SQLITE_NAMES) as batch:
        batch.drop_constraint(f"uq_{table}_{old_column}", type_="unique")
        batch.create_unique_constraint(new_name, columns)


def _restore_unique(table: str, old_column: str, new_name: str) -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.drop_constraint(new_name, table, type_="unique")
        op.create_unique_constraint(f"{table}_{old_column}_key", table, [old_column])
        return
    with op.batch_alter_table(table, recreate="always") as batch:
        batch.drop_constraint(new_name, type_="unique")
        batch.create_unique_constraint(f"uq_{table}_{old_column}", [old_column])


def upgrade() -> None:
    op.add_column("ingest_journal", sa.Column("content_sha256", sa.String(64), nullable=True))
    _swap_unique(
        "ingest_journal", "event_id", "uq_ingest_journal_source_event", ["source", "event_id"]
    )
    _swap_unique("review_item", "event_id", "uq_review_item_source_event", ["source", "event_id"])
    op.add_column(
        "consent_record",
        sa.Column("source", sa.String(64), nullable=False, server_default=""),
    )
    _swap_unique(
        "consent_record", "event_id", "uq_consent_record_source_event", ["source", "event_id"]
    )
    op.create_table(
        "event_claim",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("source", sa.String(64), nullable=False),
        sa.Column("event_id", sa.String(128), nullable=False),
        sa.Column("event_type", sa.String(64), nullable=False),
        sa.Column("content_sha256", sa.String(64), nullable=False),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("source", "event_id", name="uq_event_claim_source_event"),
    )


def downgrade() -> None:
    op.drop_table("event_claim")
    _restore_unique("consent_record", "event_id", "uq_consent_record_source_event")
    with op.batch_alter_table("consent_record") as batch:
        batch.drop_column("source")
    _restore_unique("review_item", "event_id", "uq_review_item_source_event")
    _restore_unique("ingest_journal", "event_id", "uq_ingest_journal_source_event")
    with op.batch_alter_table("ingest_journal") as batch:
        batch.drop_column("content_sha256")
