"""Time in the hub is timezone-aware UTC; calendar dates are UK dates (Europe/London)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

UK = ZoneInfo("Europe/London")


def utcnow() -> datetime:
    return datetime.now(UTC)


def uk_date(moment: datetime) -> date:
    """The calendar date in the UK at `moment`: agreements and event dates are UK dates."""
    return moment.astimezone(UK).date()
