"""Retry schedule (backoff with jitter, budget) and Retry-After parsing."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

from hub.delivery.schedule import MAX_RETRY_AFTER_S, RetrySchedule, parse_retry_after
from hub.settings import HubSettings

NOW = datetime(2026, 11, 24, 3, 0, tzinfo=UTC)


def test_delays_follow_the_schedule_within_the_jitter() -> None:
    schedule = RetrySchedule((5, 300, 1800), jitter=0.2)
    rng = random.Random(7)
    for failed, base in ((1, 5), (2, 300), (3, 1800)):
        for _ in range(50):
            delay = schedule.next_delay(failed, rng)
            assert delay is not None
            assert base * 0.8 <= delay <= base * 1.2


def test_jitter_spreads_retries() -> None:
    schedule = RetrySchedule((60,), jitter=0.2)
    rng = random.Random(1)
    assert len({schedule.next_delay(1, rng) for _ in range(20)}) > 1


def test_the_budget_ends_after_the_last_delay() -> None:
    schedule = RetrySchedule((1, 2), jitter=0)
    assert schedule.budget == 3
    assert schedule.next_delay(1) == 1
    assert schedule.next_delay(2) == 2
    assert schedule.next_delay(3) is None


def test_retry_after_wins_when_longer() -> None:
    schedule = RetrySchedule((1,), jitter=0)
    assert schedule.next_delay(1, retry_after=30) == 30
    assert schedule.next_delay(1, retry_after=0.5) == 1


def test_default_schedule_is_seconds_minutes_hours_over_about_three_days() -> None:
    delays = HubSettings().webhook_retry_schedule_s
    assert delays[0] < 60 <= delays[1] < 3600 <= delays[3]
    assert 2.5 * 86400 <= sum(delays) <= 3.5 * 86400


def test_retry_after_seconds_and_http_date() -> None:
    assert parse_retry_after("120", NOW) == 120
    later = format_datetime(NOW + timedelta(seconds=90), usegmt=True)
    assert parse_retry_after(later, NOW) == 90
    earlier = format_datetime(NOW - timedelta(seconds=90), usegmt=True)
    assert parse_retry_after(earlier, NOW) == 0


def test_retry_after_absent_invalid_or_huge() -> None:
    assert parse_retry_after(None, NOW) is None
    assert parse_retry_after("soon", NOW) is None
    assert parse_retry_after("-5", NOW) is None
    assert parse_retry_after("99999999", NOW) == MAX_RETRY_AFTER_S
