"""Review-date reminders in the API's log: a warning once a (UK) day while any agreement is past
its review date, ended or ending within 30 days, naming the agreements (ids only)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime

import structlog

from hub.audit.workbench import reminders
from hub.config.model import HubConfig
from hub.periodic import Periodic
from hub.timeutil import uk_date, utcnow

log = structlog.get_logger(__name__)


def warning_due(last_warned: date | None, today: date, due: int) -> bool:
    """Warn when something is due and nothing was said yet today (UK date)."""
    return due > 0 and last_warned != today


class ReminderLog:
    def __init__(
        self,
        config: Callable[[], HubConfig],
        check_every_s: float = 600.0,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.config = config
        self.clock = clock
        self.last_warned: date | None = None
        self._loop = Periodic("review-reminders", self.check, check_every_s)

    async def check(self) -> None:
        today = uk_date(self.clock())
        due = reminders(self.config(), today)
        if warning_due(self.last_warned, today, len(due)):
            self.last_warned = today
            log.warning(
                "agreements_need_review",
                count=len(due),
                agreements=[r.agreement_id for r in due],
                most_overdue_days=due[0].days_overdue,
            )

    def start(self) -> None:
        self._loop.start()

    async def stop(self) -> None:
        await self._loop.stop()
