"""SQL connector positions round-trip in the key column's type; lag is the oldest pending change."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from connectors.outbox import _json_default
from connectors.sql_poll import position_text, position_value
from hub.connectors.store import ConnectorStatus


@pytest.mark.parametrize(
    ("value", "kind"),
    [
        (42, int),
        ("A-17", str),
        (Decimal("12345678901234567890"), Decimal),
        (1.5, float),
        (datetime(2026, 11, 20, 9, 30, tzinfo=UTC), datetime),
        (date(2026, 11, 20), date),
    ],
)
def test_positions_round_trip(value: object, kind: type) -> None:
    assert position_value(position_text(value), kind) == value


def test_integer_positions_compare_as_numbers() -> None:
    assert position_value(position_text(10), int) > position_value(position_text(9), int)  # type: ignore[operator]


def status(pending: int, oldest: datetime | None) -> ConnectorStatus:
    return ConnectorStatus(
        name="c",
        kind="sql_table",
        position="",
        published=0,
        rejected=0,
        paused=False,
        pending=pending,
        oldest_pending_at=oldest,
        last_run_at=None,
        last_error="",
    )


def test_lag_is_the_age_of_the_oldest_pending_change() -> None:
    now = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
    assert status(3, now - timedelta(seconds=90)).lag_seconds(now) == 90
    assert status(0, now - timedelta(seconds=90)).lag_seconds(now) == 0
    assert status(3, None).lag_seconds(now) == 0
    naive = (now - timedelta(seconds=5)).replace(tzinfo=None)  # SQLite gives naive UTC back
    assert status(1, naive).lag_seconds(now) == 5


def test_outbox_data_takes_dates_and_decimals() -> None:
    data = {"date_of_death": date(2026, 11, 18), "amount": Decimal("1.50")}
    assert json.loads(json.dumps(data, default=_json_default)) == {
        "date_of_death": "2026-11-18",
        "amount": "1.50",
    }
    with pytest.raises(TypeError):
        json.dumps({"x": object()}, default=_json_default)
