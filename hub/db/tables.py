"""The hub's SQL schema (SQLModel). Changes go through an Alembic migration in db/migrations."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, Index, LargeBinary, Text, UniqueConstraint
from sqlmodel import Field, SQLModel


class AuditRecord(SQLModel, table=True):
    """One row per decision or outcome. References and field names only, never personal values."""

    __tablename__ = "audit_record"
    # An entry id belongs to one event (it is derived from the delivery's): unique per event,
    # keyed by event first, so an event's entries share an index page (revision 0019); this
    # index also answers searches by event id.
    __table_args__ = (Index("uq_audit_record_event_entry", "event_id", "entry_id", unique=True),)

    seq: int | None = Field(default=None, primary_key=True)
    entry_id: str = Field(max_length=200)
    recorded_at: datetime
    delivery_id: str = Field(max_length=64)
    event_id: str = Field(max_length=128)
    event_type: str = Field(max_length=64)
    source: str = Field(max_length=64)
    recipient: str = Field(index=True, max_length=64)
    subject_key: str = Field(index=True, max_length=64)
    outcome: str = Field(max_length=32)
    reason_codes: str = Field(default="", max_length=500)
    reasons: str = Field(default="")
    agreement_id: str | None = Field(default=None, max_length=64, index=True)
    agreement_version: str | None = Field(default=None, max_length=64)
    lawful_basis: str | None = Field(default=None)
    fields: str = Field(default="")
    event_time: datetime
    decided_at: datetime = Field(index=True)
    mode: str = Field(default="live", max_length=16)
    local_id: str | None = Field(default=None, max_length=64)
    purpose: str | None = Field(default=None)
    subject_flags: str = Field(default="[]", max_length=200)
    attempt: int | None = Field(default=None)
    http_status: int | None = Field(default=None)
    latency_ms: float | None = Field(default=None)
    prev_hash: str = Field(default="", max_length=64, description="row_hash of the row before")
    row_hash: str = Field(default="", max_length=64, description="sha256(prev_hash + canonical)")


class InboxItem(SQLModel, table=True):
    """A delivery waiting in a recipient's pull inbox until the recipient acknowledges it."""

    __tablename__ = "inbox_item"
    # A delivery id belongs to one event (it is derived from it): on SQLite unique per event,
    # keyed by event first, so an event's deliveries share an index page (revision 0020);
    # PostgreSQL keeps UNIQUE (delivery_id) instead, which a rolling deploy's earlier code needs.
    __table_args__ = (
        UniqueConstraint("recipient", "cursor", name="uq_inbox_item_recipient_cursor"),
        Index("uq_inbox_item_event_delivery", "event_id", "delivery_id", unique=True),
    )

    seq: int | None = Field(default=None, primary_key=True)
    delivery_id: str = Field(max_length=64)
    # no index of its own: UNIQUE (recipient, cursor) leads with it (revision 0021)
    recipient: str = Field(max_length=64)
    cursor: int = Field(
        sa_type=BigInteger,
        description="Position in the recipient's inbox, assigned in commit order (InboxStore.add)",
    )
    event_id: str = Field(max_length=128)
    payload: str
    created_at: datetime
    acked_at: datetime | None = Field(default=None)


class InboxCursor(SQLModel, table=True):
    """Per recipient: the last inbox cursor taken by a writer. Its row lock orders the writers."""

    __tablename__ = "inbox_cursor"

    recipient: str = Field(primary_key=True, max_length=64)
    last_cursor: int = Field(sa_type=BigInteger)


class InboxReader(SQLModel, table=True):
    """Per recipient: every unacknowledged delivery with cursor <= handed_out has been read.

    `POST /v1/inbox/ack` may not go beyond it. Kept apart from inbox_cursor so a reader never
    waits on a writer's row lock.
    """

    __tablename__ = "inbox_reader"

    recipient: str = Field(primary_key=True, max_length=64)
    handed_out: int = Field(sa_type=BigInteger)
    read_at: datetime
    renumbered: bool = Field(
        default=False,
        description="Cursors renumbered (migration 0018): the client reads once from after=0",
    )


class WorkerHeartbeat(SQLModel, table=True):
    """Each worker's liveness, for /readyz and health checks."""

    __tablename__ = "worker_heartbeat"

    worker_id: str = Field(primary_key=True, max_length=128)
    pid: int
    started_at: datetime
    last_seen: datetime
    assigned_partitions: int = 0


class RejectedEvent(SQLModel, table=True):
    """A record that reached the hub but failed decoding or validation: kept whole, to fix and replay."""

    __tablename__ = "rejected_event"
    # one row a record: its position and content (offsets begin again when the embedded broker
    # restarts), revision 0023. PostgreSQL keeps UNIQUE (position) for now, which a rolling
    # deploy's earlier code needs (with Apache Kafka, offsets never begin again).
    __table_args__ = (
        UniqueConstraint(
            "original_topic",
            "original_partition",
            "original_offset",
            "record_sha256",
            name="uq_rejected_event_record",
        ),
    )

    seq: int | None = Field(default=None, primary_key=True)
    rejected_at: datetime
    source: str = Field(default="", index=True, max_length=64)
    event_id: str = Field(default="", max_length=128)
    event_type: str = Field(default="", max_length=64)
    original_topic: str = Field(max_length=255)
    original_partition: int
    original_offset: int
    key: bytes | None = Field(default=None, sa_type=LargeBinary)
    value: bytes = Field(sa_type=LargeBinary)
    headers: str = Field(description="JSON list of [name, base64 value]")
    record_sha256: str = Field(max_length=64, description="hub.rejected.store.record_sha256")
    reason: str
    rules: str = Field(default="", max_length=500)
    status: str = Field(default="rejected", max_length=16)
    replayed_at: datetime | None = Field(default=None)
    replayed_as: str | None = Field(default=None, max_length=128)


class QualityCounter(SQLModel, table=True):
    """Data quality counts per day, source system, event type, outcome and rule."""

    __tablename__ = "quality_counter"
    __table_args__ = (UniqueConstraint("day", "source", "event_type", "outcome", "rule"),)

    id: int | None = Field(default=None, primary_key=True)
    day: date
    source: str = Field(max_length=64)
    event_type: str = Field(max_length=64)
    outcome: str = Field(max_length=16)
    rule: str = Field(default="", max_length=64)
    count: int = 0


class ConsentRecord(SQLModel, table=True):
    """A resident's consent, withdrawal or objection (from `consent.changed`): the durable record.

    The router may cache consent state in memory, but this table is the truth: it is written
    before the router acts on anything that follows, so a lost broker never loses a withdrawal.
    """

    __tablename__ = "consent_record"
    __table_args__ = (
        UniqueConstraint("source", "event_id", name="uq_consent_record_source_event"),
    )

    seq: int | None = Field(default=None, primary_key=True)
    source: str = Field(default="", max_length=64)
    event_id: str = Field(max_length=128)
    subject: str = Field(index=True, max_length=128)
    action: str = Field(max_length=16)
    purpose: str = Field(max_length=500)
    recipient: str | None = Field(default=None, max_length=64)
    effective_at: datetime
    recorded_at: datetime


class IdentityLink(SQLModel, table=True):
    """A system's local record id for a hub person (from `person.linked`); one per person and system."""

    __tablename__ = "identity_link"
    __table_args__ = (
        UniqueConstraint("subject", "system"),
        Index("ix_identity_link_system_local_id", "system", "local_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    subject: str = Field(max_length=128)
    system: str = Field(max_length=64)
    local_id: str = Field(max_length=64)
    event_id: str = Field(max_length=128)
    linked_at: datetime
    # provenance: person.linked (a customer index), auto (matching), clerical (a person), bulk
    method: str = Field(default="person.linked", max_length=16)
    match_probability: float | None = Field(default=None)
    model_version: str | None = Field(default=None, max_length=64)
    agreeing: str | None = Field(default=None, description="JSON list of the fields that agreed")
    decided_by: str | None = Field(default=None, max_length=128)


class SubjectStatus(SQLModel, table=True):
    """Facts about a hub person that change routing: deceased (from `death.notified`)."""

    __tablename__ = "subject_status"

    subject: str = Field(primary_key=True, max_length=128)
    deceased_on: date | None = Field(default=None)
    event_id: str = Field(max_length=128)
    recorded_at: datetime


class ReviewItem(SQLModel, table=True):
    """An event whose subject could not be resolved to any system's record: kept for review."""

    __tablename__ = "review_item"
    __table_args__ = (UniqueConstraint("source", "event_id", name="uq_review_item_source_event"),)

    seq: int | None = Field(default=None, primary_key=True)
    event_id: str = Field(max_length=128)
    event_type: str = Field(max_length=64)
    source: str = Field(max_length=64)
    subject_key: str = Field(index=True, max_length=64)
    reason: str
    topic: str = Field(max_length=255)
    key: bytes | None = Field(default=None, sa_type=LargeBinary)
    value: bytes = Field(sa_type=LargeBinary)
    headers: str = Field(description="JSON list of [name, base64 value]")
    created_at: datetime
    status: str = Field(default="open", max_length=16)
    resolved_at: datetime | None = Field(default=None)


class AuditChainHead(SQLModel, table=True):
    """The last chained audit row (one row, id 1): writers lock it to append in order."""

    __tablename__ = "audit_chain_head"

    id: int = Field(primary_key=True)
    head_seq: int
    head_hash: str = Field(max_length=64)


class AuditCheckpoint(SQLModel, table=True):
    """A signed statement of the chain's head: `published` (kept elsewhere) or `purge` (anchor)."""

    __tablename__ = "audit_checkpoint"

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=16)
    head_seq: int
    head_hash: str = Field(max_length=64)
    row_count: int
    created_at: datetime
    signature: str = Field(max_length=200)


class AuditAccessLog(SQLModel, table=True):
    """Who read the audit about a person, when, why (the purpose they gave) and through what."""

    __tablename__ = "audit_access_log"

    id: int | None = Field(default=None, primary_key=True)
    accessed_at: datetime
    actor: str = Field(max_length=64)
    purpose: str
    subject_key: str = Field(index=True, max_length=64)
    what: str = Field(max_length=64)
    via: str = Field(max_length=16)


class ApiKey(SQLModel, table=True):
    """An API key kept in the database (hashed): created by `hub systems add` / `hub keys rotate`."""

    __tablename__ = "api_key"

    id: int | None = Field(default=None, primary_key=True)
    system_id: str = Field(index=True, max_length=64)
    name: str = Field(max_length=200)
    roles: str = Field(max_length=100, description="comma-separated roles")
    key_sha256: str = Field(unique=True, max_length=64)
    created_at: datetime
    revoked_at: datetime | None = Field(default=None)


class ConnectorState(SQLModel, table=True):
    """A configured source connector: its position, counters, lag and whether it is paused."""

    __tablename__ = "connector_state"

    name: str = Field(primary_key=True, max_length=64)
    kind: str = Field(max_length=32)
    position: str = Field(default="", max_length=500)
    published: int = 0
    rejected: int = 0
    paused: bool = False
    pending: int = 0
    oldest_pending_at: datetime | None = Field(default=None)
    last_run_at: datetime | None = Field(default=None)
    last_error: str = Field(default="")
    updated_at: datetime | None = Field(default=None)
    # an outbox batch being marked in the source's database, as JSON (OutboxMarking): revision 0022
    marking: str | None = Field(default=None, sa_type=Text)


class ConnectorImport(SQLModel, table=True):
    """One file imported for a source and event type: rows done (acked) so far, so it resumes."""

    __tablename__ = "connector_import"
    __table_args__ = (UniqueConstraint("file_sha256", "source", "event_type"),)

    id: int | None = Field(default=None, primary_key=True)
    file_sha256: str = Field(max_length=64)
    source: str = Field(max_length=64)
    event_type: str = Field(max_length=64)
    connector: str = Field(default="", max_length=64)
    file_name: str = Field(max_length=500)
    rows_total: int = 0
    rows_done: int = 0
    published: int = 0
    rejected: int = 0
    duplicates: int = 0
    status: str = Field(default="running", max_length=16)
    started_at: datetime
    updated_at: datetime
    finished_at: datetime | None = Field(default=None)


class IngestJournal(SQLModel, table=True):
    """Every event the hub accepted, kept whole until each entitled recipient has a final outcome.

    `expected` is how many final outcomes routing produced (set by the router); the event is
    complete when the audit trail holds that many. The reconciler re-publishes incomplete events
    with their original id, so a broker that lost them (memory storage) loses nothing.
    """

    __tablename__ = "ingest_journal"
    __table_args__ = (
        UniqueConstraint("source", "event_id", name="uq_ingest_journal_source_event"),
    )

    seq: int | None = Field(default=None, primary_key=True)
    event_id: str = Field(max_length=128)
    event_type: str = Field(max_length=64)
    source: str = Field(max_length=64)
    content_sha256: str | None = Field(
        default=None, max_length=64, description="hub.events.content.content_hash of the event"
    )
    topic: str = Field(max_length=255)
    key: bytes | None = Field(default=None, sa_type=LargeBinary)
    value: bytes = Field(sa_type=LargeBinary)
    headers: str = Field(description="JSON list of [name, base64 value]")
    accepted_at: datetime = Field(index=True)
    status: str = Field(default="accepted", max_length=16, index=True)
    expected: int | None = Field(default=None)
    routed_at: datetime | None = Field(default=None)
    republished: int = 0
    republished_at: datetime | None = Field(default=None)
    completed_at: datetime | None = Field(default=None)
    kafka_partition: int | None = Field(
        default=None, description="the partition the broker acknowledged it on (latest copy)"
    )
    kafka_offset: int | None = Field(
        default=None,
        sa_type=BigInteger,
        description="its offset there: behind the router's committed offset, it is not lost",
    )


class EventClaim(SQLModel, table=True):
    """The first content the router saw for a (source, event id): ids are per source, and a
    repeat with other content is a conflict (rejected), not a silent duplicate."""

    __tablename__ = "event_claim"
    __table_args__ = (UniqueConstraint("source", "event_id", name="uq_event_claim_source_event"),)

    id: int | None = Field(default=None, primary_key=True)
    source: str = Field(max_length=64)
    event_id: str = Field(max_length=128)
    event_type: str = Field(max_length=64)
    content_sha256: str = Field(max_length=64)
    claimed_at: datetime


class WebhookOutbox(SQLModel, table=True):
    """A delivery handed to a webhook recipient's outbox: pending until a 2xx, or a dead letter.

    Written before the delivery's Kafka offset is committed, so a killed worker loses nothing;
    a row in flight when the worker died is sent again with the same `delivery_id` (webhook-id).
    """

    __tablename__ = "webhook_outbox"
    __table_args__ = (
        Index("ix_webhook_outbox_due", "recipient", "status", "next_attempt_at"),
        Index("ix_webhook_outbox_person", "recipient", "subject_key", "status", "seq"),
    )

    seq: int | None = Field(default=None, primary_key=True)
    delivery_id: str = Field(unique=True, max_length=64)
    recipient: str = Field(max_length=64)
    subject_key: str = Field(max_length=64)
    event_id: str = Field(max_length=128)
    event_type: str = Field(max_length=64)
    payload: str = Field(description="The Delivery as JSON (the webhook body)")
    status: str = Field(
        default="pending", max_length=16, description="pending|delivered|dead|withheld"
    )
    attempts: int = 0
    attempt_base: int = Field(default=0, description="attempts before the last redrive")
    next_attempt_at: datetime
    created_at: datetime
    updated_at: datetime
    last_http_status: int | None = Field(default=None)
    last_error: str = Field(default="", max_length=500)
    dead_at: datetime | None = Field(default=None)


class WebhookEndpoint(SQLModel, table=True):
    """A webhook recipient's endpoint state: disabled after a 410 Gone until an operator enables it."""

    __tablename__ = "webhook_endpoint"

    recipient: str = Field(primary_key=True, max_length=64)
    disabled_at: datetime | None = Field(default=None)
    reason: str = Field(default="", max_length=500)
    updated_at: datetime


class QuarantinedRecord(SQLModel, table=True):
    """A record on an internal topic that the hub did not sign (or that was altered): refused,
    never acted on, kept whole here for inspection (`hub quarantine list`)."""

    __tablename__ = "quarantined_record"

    seq: int | None = Field(default=None, primary_key=True)
    quarantined_at: datetime = Field(index=True)
    consumer: str = Field(max_length=64)
    topic: str = Field(max_length=255, index=True)
    record_partition: int
    record_offset: int
    key: bytes | None = Field(default=None, sa_type=LargeBinary)
    value: bytes = Field(sa_type=LargeBinary)
    headers: str = Field(description="JSON list of [name, base64 value]")
    reason: str = Field(max_length=64)
    digest: str = Field(unique=True, max_length=64)


class ServiceRecord(SQLModel, table=True):
    """A service's identifying fields for one of its people (its extract), minimised to these
    fields, for identity matching; never copied into the audit or logs."""

    __tablename__ = "service_record"
    __table_args__ = (
        UniqueConstraint("system", "local_id", name="uq_service_record_system_local_id"),
        Index("ix_service_record_postcode", "system", "k_postcode"),
        Index("ix_service_record_uprn", "system", "k_uprn"),
        Index("ix_service_record_dob", "system", "k_dob"),
        Index("ix_service_record_names", "system", "k_names"),
    )

    id: int | None = Field(default=None, primary_key=True)
    system: str = Field(max_length=64)
    local_id: str = Field(max_length=64)
    given_names: str | None = Field(default=None, max_length=200)
    family_name: str | None = Field(default=None, max_length=200)
    date_of_birth: date | None = Field(default=None)
    uprn: str | None = Field(default=None, max_length=12)
    address: str | None = Field(default=None, max_length=500)
    postcode: str | None = Field(default=None, max_length=10)
    previous_uprn: str | None = Field(default=None, max_length=12)
    previous_postcode: str | None = Field(default=None, max_length=10)
    email: str | None = Field(default=None, max_length=254)
    phone: str | None = Field(default=None, max_length=32)
    nhs_number: str | None = Field(default=None, max_length=10)
    # blocking keys (normalised): candidate lookups by index
    k_postcode: str | None = Field(default=None, max_length=10)
    k_uprn: str | None = Field(default=None, max_length=12)
    k_dob: str | None = Field(default=None, max_length=10)
    k_names: str | None = Field(default=None, max_length=64)
    updated_at: datetime = Field(index=True)


class MatchCandidate(SQLModel, table=True):
    """A candidate pair in the clerical band: a held event's person and a service's record."""

    __tablename__ = "match_candidate"
    __table_args__ = (
        UniqueConstraint("source", "event_id", "system", "local_id", name="uq_match_candidate"),
    )

    seq: int | None = Field(default=None, primary_key=True)
    source: str = Field(max_length=64)
    event_id: str = Field(max_length=128)
    event_type: str = Field(max_length=64)
    subject: str = Field(max_length=128, index=True)
    system: str = Field(max_length=64)
    local_id: str = Field(max_length=64)
    probability: float
    model_version: str = Field(max_length=64)
    fields: str = Field(description="JSON list of {field, level, verdict, weight}")
    status: str = Field(default="open", max_length=16, index=True)
    created_at: datetime
    decided_by: str | None = Field(default=None, max_length=128)
    decided_at: datetime | None = Field(default=None)


class IdentityLinkLog(SQLModel, table=True):
    """Every link and unlink, automatic or human, with its provenance (append only)."""

    __tablename__ = "identity_link_log"

    seq: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(index=True)
    action: str = Field(max_length=16)  # linked | unlinked | rejected | not_sure
    method: str = Field(max_length=16)  # person.linked | auto | clerical | bulk
    subject: str = Field(max_length=128, index=True)
    system: str = Field(max_length=64)
    local_id: str = Field(max_length=64)
    probability: float | None = Field(default=None)
    model_version: str | None = Field(default=None, max_length=64)
    agreeing: str | None = Field(default=None)
    decided_by: str | None = Field(default=None, max_length=128)
    event_id: str | None = Field(default=None, max_length=128)
