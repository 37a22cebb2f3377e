"""Webhook and Kafka sinks: delivery outbox, attempts, dead letters, endpoint state (issue 5; filled in by its author).

Revision ID: 0006
"""

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
