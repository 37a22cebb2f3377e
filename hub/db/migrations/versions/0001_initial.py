"""Initial schema: audit records, pull inbox, worker heartbeats.

Revision ID: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "audit_record",
        sa.Column("seq", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("entry_id", sa.String(200), nullable=False, unique=True),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("delivery_id", sa.String(64), nullable=False),
        sa.Column("event_id", sa.String(128), nullable=False, index=True),
        sa.Column("event_type", sa.String(64), nullable=False),
        sa.Column("source", sa.String(64), nullable=False),
        sa.Column("recipient", sa.String(64), nullable=False, index=True),
        sa.Column("subject_key", sa.String(64), nullable=False, index=True),
        sa.Column("outcome", sa.String(32), nullable=False),
        sa.Column("reason_codes", sa.String(500), nullable=False),
        sa.Column("reasons", sa.Text(), nullable=False),
        sa.Column("agreement_id", sa.String(64), nullable=True),
        sa.Column("agreement_version", sa.String(64), nullable=True),
        sa.Column("lawful_basis", sa.Text(), nullable=True),
        sa.Column("fields", sa.Text(), nullable=False),
        sa.Column("event_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "inbox_item",
        sa.Column("seq", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("delivery_id", sa.String(64), nullable=False, unique=True),
        sa.Column("recipient", sa.String(64), nullable=False, index=True),
        sa.Column("event_id", sa.String(128), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("acked_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_table(
        "worker_heartbeat",
        sa.Column("worker_id", sa.String(128), primary_key=True),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen", sa.DateTime(timezone=True), nullable=False),
        sa.Column("assigned_partitions", sa.Integer(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("worker_heartbeat")
    op.drop_table("inbox_item")
    op.drop_table("audit_record")
