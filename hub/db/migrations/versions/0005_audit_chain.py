"""Audit hash chain and IG workbench: every AuditEntry field, row and previous-row hashes, the
chain head (the writers' lock), checkpoints (published and signed purge anchors), the log of
reads about a person, and API keys kept in the database.

Rows written before this migration are chained here, in seq order.

Revision ID: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("audit_record") as batch:
        batch.add_column(sa.Column("mode", sa.String(16), nullable=False, server_default="live"))
        batch.add_column(sa.Column("local_id", sa.String(64), nullable=True))
        batch.add_column(sa.Column("purpose", sa.Text(), nullable=True))
        batch.add_column(
            sa.Column("subject_flags", sa.String(200), nullable=False, server_default="[]")
        )
        batch.add_column(sa.Column("attempt", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("http_status", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("latency_ms", sa.Float(), nullable=True))
        batch.add_column(sa.Column("prev_hash", sa.String(64), nullable=False, server_default=""))
        batch.add_column(sa.Column("row_hash", sa.String(64), nullable=False, server_default=""))
    op.create_index("ix_audit_record_decided_at", "audit_record", ["decided_at"])
    op.create_index("ix_audit_record_agreement_id", "audit_record", ["agreement_id"])
    op.create_table(
        "audit_chain_head",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("head_seq", sa.Integer(), nullable=False),
        sa.Column("head_hash", sa.String(64), nullable=False),
    )
    op.create_table(
        "audit_checkpoint",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("head_seq", sa.Integer(), nullable=False),
        sa.Column("head_hash", sa.String(64), nullable=False),
        sa.Column("row_count", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("signature", sa.String(64), nullable=False),
    )
    op.create_table(
        "audit_access_log",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("accessed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("purpose", sa.Text(), nullable=False),
        sa.Column("subject_key", sa.String(64), nullable=False, index=True),
        sa.Column("what", sa.String(64), nullable=False),
        sa.Column("via", sa.String(16), nullable=False),
    )
    op.create_table(
        "api_key",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("system_id", sa.String(64), nullable=False, index=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("roles", sa.String(100), nullable=False),
        sa.Column("key_sha256", sa.String(64), nullable=False, unique=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
    )
    from hub.audit.ledger import chain_existing_rows

    chain_existing_rows(op.get_bind())


def downgrade() -> None:
    op.drop_table("api_key")
    op.drop_table("audit_access_log")
    op.drop_table("audit_checkpoint")
    op.drop_table("audit_chain_head")
    op.drop_index("ix_audit_record_agreement_id", table_name="audit_record")
    op.drop_index("ix_audit_record_decided_at", table_name="audit_record")
    with op.batch_alter_table("audit_record") as batch:
        for column in (
            "row_hash",
            "prev_hash",
            "latency_ms",
            "http_status",
            "attempt",
            "subject_flags",
            "purpose",
            "local_id",
            "mode",
        ):
            batch.drop_column(column)
