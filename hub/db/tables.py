"""The hub's SQL schema (SQLModel). Changes go through an Alembic migration in db/migrations."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel


class AuditRecord(SQLModel, table=True):
    """One row per decision or outcome. References and field names only, never personal values."""

    __tablename__ = "audit_record"

    seq: int | None = Field(default=None, primary_key=True)
    entry_id: str = Field(unique=True, max_length=200)
    recorded_at: datetime
    delivery_id: str = Field(max_length=64)
    event_id: str = Field(index=True, max_length=128)
    event_type: str = Field(max_length=64)
    source: str = Field(max_length=64)
    recipient: str = Field(index=True, max_length=64)
    subject_key: str = Field(index=True, max_length=64)
    outcome: str = Field(max_length=32)
    reason_codes: str = Field(default="", max_length=500)
    reasons: str = Field(default="")
    agreement_id: str | None = Field(default=None, max_length=64)
    agreement_version: str | None = Field(default=None, max_length=64)
    lawful_basis: str | None = Field(default=None)
    fields: str = Field(default="")
    event_time: datetime
    decided_at: datetime


class InboxItem(SQLModel, table=True):
    """A delivery waiting in a recipient's pull inbox until the recipient acknowledges it."""

    __tablename__ = "inbox_item"

    seq: int | None = Field(default=None, primary_key=True)
    delivery_id: str = Field(unique=True, max_length=64)
    recipient: str = Field(index=True, max_length=64)
    event_id: str = Field(max_length=128)
    payload: str
    created_at: datetime
    acked_at: datetime | None = Field(default=None)


class WorkerHeartbeat(SQLModel, table=True):
    """Each worker's liveness, for /readyz and health checks."""

    __tablename__ = "worker_heartbeat"

    worker_id: str = Field(primary_key=True, max_length=128)
    pid: int
    started_at: datetime
    last_seen: datetime
    assigned_partitions: int = 0
