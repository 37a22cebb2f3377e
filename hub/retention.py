"""Retention of the stores that hold personal values: what is purged, and when.

| store | holds | purged | kept for correctness |
|---|---|---|---|
| ingest journal | each accepted event whole | complete events, `HUB_RETENTION_JOURNAL_DAYS` after completion | events still waiting for a final outcome (the reconciler re-publishes them) |
| pull inbox | each delivery's values | the values of deliveries acknowledged `HUB_RETENTION_INBOX_DAYS` ago | delivery id, recipient, event id, times (a redelivery is recognised, not shown again) |
| rejected events | each rejected record whole | records rejected `HUB_RETENTION_REJECTED_DAYS` ago | the data quality counters (counts only) |
| webhook outbox | each webhook delivery's values | rows delivered or withheld `HUB_RETENTION_WEBHOOK_DAYS` ago whose event is complete | pending rows and dead letters (redrive needs them) |
| review queue | each event held for review, whole | items released or retried `HUB_RETENTION_REVIEW_DAYS` ago | open items |
| quarantine | records refused on internal topics, whole (base64) | records quarantined `HUB_RETENTION_REJECTED_DAYS` ago (as rejected events) | the refusal counts in the logs and metrics |
| subject status | deceased flag and date of death | flags recorded `HUB_RETENTION_DECEASED_DAYS` ago | consent records and identity links (see `SubjectStore.purge_deceased`) |
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import ColumnElement, Engine, Table, delete, func, select

from hub.db.tables import IngestJournal, ReviewItem, WebhookOutbox
from hub.identity.store import ServiceRecords
from hub.inbox.store import InboxStore
from hub.journal.store import OPEN, JournalStore
from hub.rejected.quarantine import QuarantineStore
from hub.rejected.store import RejectedStore
from hub.settings import HubSettings
from hub.subjects.store import SubjectStore

STORES = (
    "journal",
    "inbox",
    "webhook",
    "rejected",
    "quarantine",
    "review",
    "deceased",
    "service_record",
)
_JOURNAL: Table = IngestJournal.__table__  # type: ignore[attr-defined]
_OUTBOX: Table = WebhookOutbox.__table__  # type: ignore[attr-defined]
_REVIEW: Table = ReviewItem.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True)
class RetentionPolicy:
    """Days each store keeps personal values (see the table above)."""

    journal_days: int = 30
    inbox_days: int = 30
    rejected_days: int = 90
    deceased_days: int = 2557
    webhook_days: int = 30
    review_days: int = 90
    service_record_days: int = 400

    @classmethod
    def from_settings(cls, settings: HubSettings) -> RetentionPolicy:
        return cls(
            journal_days=settings.retention_journal_days,
            inbox_days=settings.retention_inbox_days,
            rejected_days=settings.retention_rejected_days,
            deceased_days=settings.retention_deceased_days,
            webhook_days=settings.retention_webhook_days,
            review_days=settings.retention_review_days,
            service_record_days=settings.retention_service_record_days,
        )

    def cutoffs(self, now: datetime) -> dict[str, datetime]:
        """Per store, the moment before which its personal values are purged (UTC)."""
        now = now.astimezone(UTC) if now.tzinfo else now.replace(tzinfo=UTC)
        days = {
            "journal": self.journal_days,
            "inbox": self.inbox_days,
            "webhook": self.webhook_days,
            "rejected": self.rejected_days,
            "quarantine": self.rejected_days,
            "review": self.review_days,
            "deceased": self.deceased_days,
            "service_record": self.service_record_days,
        }
        return {store: now - timedelta(days=d) for store, d in days.items()}


@dataclass(frozen=True)
class Purged:
    store: str
    before: datetime
    count: int  # purged, or with dry_run, that would be


def _delete(engine: Engine, table: Table, where: ColumnElement[bool], dry_run: bool) -> int:
    with engine.begin() as conn:
        if dry_run:
            return int(
                conn.execute(select(func.count()).select_from(table).where(where)).scalar_one()
            )
        return int(conn.execute(delete(table).where(where)).rowcount or 0)


def purge_webhook_outbox(engine: Engine, before: datetime, dry_run: bool = False) -> int:
    """Delete webhook deliveries delivered or withheld before `before` (their outcome is in the
    audit trail) unless their event is still open in the journal, whose reconciler counts an
    outbox row as handed over. Pending rows and dead letters are kept."""
    still_open = select(_JOURNAL.c.event_id).where(_JOURNAL.c.status.in_(OPEN))
    settled = (
        _OUTBOX.c.status.in_(("delivered", "withheld"))
        & (_OUTBOX.c.updated_at < before)
        & _OUTBOX.c.event_id.not_in(still_open)
    )
    return _delete(engine, _OUTBOX, settled, dry_run)


def purge_review_items(engine: Engine, before: datetime, dry_run: bool = False) -> int:
    """Delete review items released or retried before `before`; open items are kept."""
    resolved = (_REVIEW.c.status != "open") & (_REVIEW.c.resolved_at < before)
    return _delete(engine, _REVIEW, resolved, dry_run)


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
        Purged("webhook", cut["webhook"], purge_webhook_outbox(engine, cut["webhook"], dry_run)),
        Purged(
            "rejected",
            cut["rejected"],
            RejectedStore(engine).purge_before(cut["rejected"], dry_run),
        ),
        Purged(
            "quarantine",
            cut["quarantine"],
            QuarantineStore(engine).purge_before(cut["quarantine"], dry_run),
        ),
        Purged("review", cut["review"], purge_review_items(engine, cut["review"], dry_run)),
        Purged(
            "deceased",
            cut["deceased"],
            SubjectStore(engine).purge_deceased(cut["deceased"], dry_run),
        ),
        Purged(
            "service_record",
            cut["service_record"],
            ServiceRecords(engine).purge(cut["service_record"], dry_run),
        ),
    ]
