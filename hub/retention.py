"""Retention of the stores that hold personal values: what is purged, and when.

| store | holds | purged | kept for correctness |
|---|---|---|---|
| ingest journal | each accepted event whole | complete events, `HUB_RETENTION_JOURNAL_DAYS` after completion | events still waiting for a final outcome (the reconciler re-publishes them) |
| pull inbox | each delivery's values | the values of deliveries acknowledged `HUB_RETENTION_INBOX_DAYS` ago | delivery id, recipient, event id, times (a redelivery is recognised, not shown again) |
| rejected events | each rejected record whole | records rejected `HUB_RETENTION_REJECTED_DAYS` ago | the data quality counters (counts only) |
| subject status | deceased flag and date of death | flags recorded `HUB_RETENTION_DECEASED_DAYS` ago | consent records and identity links (see `SubjectStore.purge_deceased`) |
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine

from hub.inbox.store import InboxStore
from hub.journal.store import JournalStore
from hub.rejected.store import RejectedStore
from hub.settings import HubSettings
from hub.subjects.store import SubjectStore

STORES = ("journal", "inbox", "rejected", "deceased")


@dataclass(frozen=True)
class RetentionPolicy:
    """Days each store keeps personal values (see the table above)."""

    journal_days: int = 30
    inbox_days: int = 30
    rejected_days: int = 90
    deceased_days: int = 2557

    @classmethod
    def from_settings(cls, settings: HubSettings) -> RetentionPolicy:
        return cls(
            journal_days=settings.retention_journal_days,
            inbox_days=settings.retention_inbox_days,
            rejected_days=settings.retention_rejected_days,
            deceased_days=settings.retention_deceased_days,
        )

    def cutoffs(self, now: datetime) -> dict[str, datetime]:
        """Per store, the moment before which its personal values are purged (UTC)."""
        now = now.astimezone(UTC) if now.tzinfo else now.replace(tzinfo=UTC)
        days = {
            "journal": self.journal_days,
            "inbox": self.inbox_days,
            "rejected": self.rejected_days,
            "deceased": self.deceased_days,
        }
        return {store: now - timedelta(days=d) for store, d in days.items()}


@dataclass(frozen=True)
class Purged:
    store: str
    before: datetime
    count: int  # purged, or with dry_run, that would be


def purge(
    engine: Engine, policy: RetentionPolicy, now: datetime, dry_run: bool = False
) -> list[Purged]:
    """Purge every store past its retention (each in its own transaction); counts per store."""
    cut = policy.cutoffs(now)
    return [
        Purged(
            "journal",
            cut["journal"],
            JournalStore(engine).purge_complete(cut["journal"], dry_run),
        ),
        Purged("inbox", cut["inbox"], InboxStore(engine).purge_acknowledged(cut["inbox"], dry_run)),
        Purged(
            "rejected",
            cut["rejected"],
            RejectedStore(engine).purge_before(cut["rejected"], dry_run),
        ),
        Purged(
            "deceased",
            cut["deceased"],
            SubjectStore(engine).purge_deceased(cut["deceased"], dry_run),
        ),
    ]
