"""When to retry a webhook: exponential backoff with jitter on a schedule, and `Retry-After`."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime
from email.utils import parsedate_to_datetime

MAX_RETRY_AFTER_S = 86_400.0  # a recipient cannot park a delivery for more than a day at a time


@dataclass(frozen=True)
class RetrySchedule:
    """`delays_s[n-1]` is the wait after failed attempt n; past the end the budget is spent."""

    delays_s: tuple[float, ...]
    jitter: float = 0.2

    @property
    def budget(self) -> int:
        """How many attempts in all (the first plus one per delay)."""
        return len(self.delays_s) + 1

    def next_delay(
        self,
        failed_attempts: int,
        rng: random.Random | None = None,
        retry_after: float | None = None,
    ) -> float | None:
        """Seconds to wait before the next attempt, or None when the retry budget is spent.

        A `Retry-After` from the recipient wins over the schedule when it asks for longer."""
        if failed_attempts >= self.budget:
            return None
        base = self.delays_s[failed_attempts - 1]
        spread = base * self.jitter
        delay = base + (rng or random).uniform(-spread, spread) if spread else base
        if retry_after is not None:
            delay = max(delay, retry_after)
        return max(0.0, delay)


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """`Retry-After` as seconds from `now`: delta-seconds or an HTTP date; None if absent/invalid."""
    if value is None:
        return None
    text = value.strip()
    if text.isdigit():
        return min(float(text), MAX_RETRY_AFTER_S)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return None
    return min(max(0.0, (when - now).total_seconds()), MAX_RETRY_AFTER_S)
