"""`hub deliveries replay`: re-run accepted events through the policy in force now, for one recipient.

For a newly subscribed recipient, or one that lost data. Events come from the ingest journal
(every event the hub accepted); each is decided again for the recipient with the agreements,
consent and links of today, and what is allowed now is delivered to it (mode `replay`, a
decision of its own in the audit trail); what is not is audited as withheld.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from hub.broker.producer import make_producer
from hub.config.model import Role
from hub.errors import HubError, RecordRejected
from hub.events.cloudevents import audit_record, routed_record
from hub.events.envelope import Event
from hub.events.validation import accept_record
from hub.journal.store import JournalStore
from hub.policy.state import UNKNOWN
from hub.pseudonym import subject_key
from hub.routing.messages import AuditEntry, Delivery, Mode
from hub.routing.originals import AuditOriginals
from hub.routing.route import (
    FOLLOW_UP_TYPES,
    decide_for,
    follow_up_decision,
    original_of,
    outcome_of,
)
from hub.routing.table import RoutingTable
from hub.settings import HubSettings
from hub.signing.keys import record_keys
from hub.subjects.changes import CONTROL_TYPES
from hub.subjects.store import SubjectStore
from runtime.wiring import Wiring


class ReplayRefused(HubError):
    code = "replay_refused"


@dataclass(frozen=True)
class ReplaySummary:
    considered: int
    delivered: int
    withheld: int
    skipped: int  # no longer valid by the rules in force when it was accepted, or not a record


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


async def replay_for(
    settings: HubSettings,
    bootstrap: str,
    w: Wiring,
    journal: JournalStore,
    subjects: SubjectStore,
    originals: AuditOriginals,
    recipient: str,
    since: datetime,
    event_type: str | None,
    now: datetime,
    until: datetime | None = None,
) -> ReplaySummary:
    """`until`: only events accepted up to then (a date range with `since`)."""
    system = w.config.system(recipient)
    if system is None or Role.RECIPIENT not in system.roles:
        raise ReplayRefused(f"{recipient!r} is not a recipient system (see config/systems.yaml)")
    if event_type is not None and event_type not in w.registry.event_types:
        raise ReplayRefused(f"unknown event type {event_type!r}")
    table = RoutingTable.build(w.config)
    sources = frozenset(s.id for s in w.config.systems if Role.SOURCE in s.roles)
    secret = settings.pseudonym_key.get_secret_value()
    entries = journal.accepted_since(since, event_type)
    if until is not None:
        entries = [e for e in entries if _aware(e.accepted_at) <= until]
    events = []
    skipped = 0
    for entry in entries:
        if entry.event_type in CONTROL_TYPES:
            continue
        try:  # checked by the rules as they were when it was accepted
            events.append(
                accept_record(
                    entry.value, entry.headers, w.codec, sources, w.rules.at(entry.accepted_at)
                )
            )
        except RecordRejected:
            skipped += 1
    states = subjects.load([e.envelope.subject for e in events])
    follow_ups = [original_of(e)[0] for e in events if e.envelope.type in FOLLOW_UP_TYPES]
    received = originals.delivered(follow_ups) if follow_ups else {}
    decided: list[tuple[Event, Delivery | AuditEntry]] = []
    for event in events:
        env = event.envelope
        state = states.get(env.subject, UNKNOWN)
        if env.type in FOLLOW_UP_TYPES:
            got = [o for o in received.get(original_of(event)[0], []) if o.recipient == recipient]
            if not got:
                skipped += 1
                continue
            decision = follow_up_decision(event, got[0], table, state, now)
        else:
            decision = decide_for(event, recipient, table, state, now)
        key = subject_key(secret, env.subject)
        decided.append((event, outcome_of(env, recipient, decision, table, key, now, Mode.REPLAY)))
    keys = record_keys(settings)
    producer = make_producer(settings, bootstrap)
    await producer.start()
    try:
        futures = []
        for event, out in decided:
            topic = w.names.deliveries(recipient) if isinstance(out, Delivery) else w.names.audit
            value, ce = routed_record(out) if isinstance(out, Delivery) else audit_record(out)
            kb = event.envelope.subject.encode()
            futures.append(
                await producer.send(
                    topic, value, key=kb, headers=keys.sign_headers(topic, kb, value, ce)
                )
            )
        for fut in futures:
            await fut
    finally:
        await producer.stop()
    delivered = sum(1 for _, out in decided if isinstance(out, Delivery))
    return ReplaySummary(len(entries), delivered, len(decided) - delivered, skipped)
