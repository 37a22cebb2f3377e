"""The moments the stores write by hand are spelt exactly as before (and as SQLAlchemy does)."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta, timezone

from hub.audit.chain import canonical_time
from hub.db.engine import sqlite_time_rows
from hub.timeutil import utc_text


def _moments() -> list[datetime]:
    rng = random.Random(7)
    start = datetime(1900, 1, 1, tzinfo=UTC)
    picked = [
        start,
        datetime(2026, 12, 6, 18, 0, 0, 0, tzinfo=UTC),  # no microseconds: still six digits
        datetime(2026, 12, 6, 18, 0, 0, 1, tzinfo=UTC),
        datetime(2999, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC),
    ]
    span = int((datetime(2999, 12, 31, tzinfo=UTC) - start).total_seconds())
    for _ in range(2_000):
        micro = rng.choice([0, rng.randrange(1_000_000)])
        picked.append(start + timedelta(seconds=rng.randrange(span), microseconds=micro))
    return picked


def test_utc_text_is_strftimes_spelling_for_aware_and_naive_moments() -> None:
    for moment in _moments():
        assert utc_text(moment) == moment.strftime("%Y-%m-%d %H:%M:%S.%f")
        naive = moment.replace(tzinfo=None)
        assert utc_text(naive, "T") == naive.strftime("%Y-%m-%dT%H:%M:%S.%f")


def test_the_chain_spells_moments_in_utc_with_six_digits_and_z() -> None:
    for moment in _moments():
        assert canonical_time(moment) == moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    local = datetime(2026, 6, 1, 12, 30, 0, 250, tzinfo=timezone(timedelta(hours=1)))
    assert canonical_time(local) == "2026-06-01T11:30:00.000250Z"
    assert canonical_time(datetime(2026, 6, 1, 12, 30)) == "2026-06-01T12:30:00.000000Z"


def test_sqlite_rows_spell_their_moments_as_sqlalchemy_stores_them() -> None:
    moment = datetime(2026, 12, 6, 18, 0, 0, tzinfo=UTC)
    rows = sqlite_time_rows([("a", moment, None), ("b", moment, moment)], (1, 2))
    assert rows == [
        ("a", "2026-12-06 18:00:00.000000", None),
        ("b", "2026-12-06 18:00:00.000000", "2026-12-06 18:00:00.000000"),
    ]
