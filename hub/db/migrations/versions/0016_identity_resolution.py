"""Identity resolution: service record extracts, candidate pairs, link provenance and log.

Revision ID: 0016
"""

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("identity_link") as batch:
        batch.add_column(
            sa.Column("method", sa.String(16), nullable=False, server_default="person.linked")
        )
        batch.add_column(sa.Column("match_probability", sa.Float(), nullable=True))
        batch.add_column(sa.Column("model_version", sa.String(64), nullable=True))
        batch.add_column(sa.Column("agreeing", sa.Text(), nullable=True))
        batch.add_column(sa.Column("decided_by", sa.String(128), nullable=True))
    op.create_table(
        "service_record",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("system", sa.String(64), nullable=False),
        sa.Column("local_id", sa.String(64), nullable=False),
        sa.Column("given_names", sa.String(200), nullable=True),
        sa.Column("family_name", sa.String(200), nullable=True),
        sa.Column("date_of_birth", sa.Date(), nullable=True),
        sa.Column("uprn", sa.String(12), nullable=True),
        sa.Column("address", sa.String(500), nullable=True),
        sa.Column("postcode", sa.String(10), nullable=True),
        sa.Column("previous_uprn", sa.String(12), nullable=True),
        sa.Column("previous_postcode", sa.String(10), nullable=True),
        sa.Column("email", sa.String(254), nullable=True),
        sa.Column("phone", sa.String(32), nullable=True),
        sa.Column("nhs_number", sa.String(10), nullable=True),
        sa.Column("k_postcode", sa.String(10), nullable=True),
        sa.Column("k_uprn", sa.String(12), nullable=True),
        sa.Column("k_dob", sa.String(10), nullable=True),
        sa.Column("k_names", sa.String(64), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, index=True),
        sa.UniqueConstraint("system", "local_id", name="uq_service_record_system_local_id"),
    )
    op.create_index("ix_service_record_postcode", "service_record", ["system", "k_postcode"])
    op.create_index("ix_service_record_uprn", "service_record", ["system", "k_uprn"])
    op.create_index("ix_service_record_dob", "service_record", ["system", "k_dob"])
    op.create_index("ix_service_record_names", "service_record", ["system", "k_names"])
    op.create_table(
        "match_candidate",
        sa.Column("seq", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("source", sa.String(64), nullable=False),
        sa.Column("event_id", sa.String(128), nullable=False),
        sa.Column("event_type", sa.String(64), nullable=False),
        sa.Column("subject", sa.String(128), nullable=False, index=True),
        sa.Column("system", sa.String(64), nullable=False),
        sa.Column("local_id", sa.String(64), nullable=False),
        sa.Column("probability", sa.Float(), nullable=False),
        sa.Column("model_version", sa.String(64), nullable=False),
        sa.Column("fields", sa.Text(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False, index=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_by", sa.String(128), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.UniqueConstraint("source", "event_id", "system", "local_id", name="uq_match_candidate"),
    )
    op.create_table(
        "identity_link_log",
        sa.Column("seq", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False, index=True),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("method", sa.String(16), nullable=False),
        sa.Column("subject", sa.String(128), nullable=False, index=True),
        sa.Column("system", sa.String(64), nullable=False),
        sa.Column("local_id", sa.String(64), nullable=False),
        sa.Column("probability", sa.Float(), nullable=True),
        sa.Column("model_version", sa.String(64), nullable=True),
        sa.Column("agreeing", sa.Text(), nullable=True),
        sa.Column("decided_by", sa.String(128), nullable=True),
        sa.Column("event_id", sa.String(128), nullable=True),
    )


def downgrade() -> None:
    op.drop_table("identity_link_log")
    op.drop_table("match_candidate")
    op.drop_table("service_record")
    with op.batch_alter_table("identity_link") as batch:
        for column in ("decided_by", "agreeing", "model_version", "match_probability", "method"):
            batch.drop_column(column)
