"""Time in the hub is always timezone-aware UTC (the database layer keeps it so)."""

from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> datetime:
    return datetime.now(UTC)
