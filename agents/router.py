"""Router agent: decode and validate each event, decide per recipient, emit the results.

Per batch: control events (`consent.changed`, `person.linked`) are written to the database
first; the state of every person in the batch is then read back from it, so nothing routed
after a withdrawal of consent can miss it, whichever worker handled the withdrawal. Allowed
transfers go to `deliveries.<recipient>`, withheld ones to the audit topic, events about a
person no system's record is linked to wait in the review queue, and records that cannot be
decoded or fail validation go to `events.rejected` with the reason (never dropped).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from types import MappingProxyType
from typing import Protocol

import structlog
from aiokafka import ConsumerRecord

from agents.app import WorkerDeps
from agents.batching import OutRecord, signed
from hub import metrics
from hub.broker.topics import source_topics
from hub.config.model import HubConfig, InboxSink, Role
from hub.config.watch import ConfigWatcher
from hub.errors import RecordRejected
from hub.events.cloudevents import audit_record, rejected_headers, routed_record
from hub.events.content import content_hash
from hub.events.envelope import Event
from hub.events.validation import accept_record
from hub.identity.service import MatchOutcome
from hub.inbox.delivered import Handed
from hub.metrics import (
    DELIVERIES_ROUTED,
    DELIVERIES_WITHHELD,
    EVENTS_ACCEPTED,
    EVENTS_REJECTED,
    BatchCounts,
)
from hub.policy.authority import authorise
from hub.policy.state import UNKNOWN, SubjectState
from hub.pseudonym import subject_key
from hub.quality.counters import Tally, TallySink
from hub.review.store import Review
from hub.routing.claims import Claim
from hub.routing.messages import Delivery
from hub.routing.route import (
    FOLLOW_UP_TYPES,
    OriginalTransfer,
    RoutingResult,
    original_of,
    route_event,
    route_follow_up,
)
from hub.routing.table import RoutingTable
from hub.signing.gate import admit_event_record
from hub.signing.records import RecordKeys, unsigned
from hub.subjects.changes import (
    CONSENT,
    CONTROL_TYPES,
    DEATH,
    LINK,
    DeathChange,
    consent_change,
    death_change,
    link_change,
)
from hub.subjects.store import SubjectChanges
from hub.timeutil import uk_date, utcnow

log = structlog.get_logger("agents.router")
_NOT_HELD = MatchOutcome()

REJECTED_REASON = "hub_rejected_reason"
REJECTED_RULES = "hub_rejected_rules"
ORIGINAL_TOPIC = "hub_original_topic"
ORIGINAL_OFFSET = "hub_original_offset"
REJECTED_SOURCE = "hub_rejected_source"  # the source the router lays a rejected record to
EVENT_ID_CONFLICT = "event_id_conflict"
UNRESOLVED = "no system's record is linked to this person (publish person.linked, then retry)"
CANDIDATES = "candidate records wait for clerical review (hub match review; accepting releases it)"


class SubjectStates(Protocol):
    def record(self, changes: SubjectChanges, recorded_at: datetime) -> None: ...
    def load(self, subjects: Sequence[str]) -> dict[str, SubjectState]: ...


class ReviewQueue(Protocol):
    def add(self, items: Sequence[Review]) -> None: ...
    def open_for(self, subject_keys: Sequence[str]) -> list[Review]: ...
    def mark_released(self, seqs: Sequence[int], at: datetime) -> None: ...


class OriginalsLookup(Protocol):
    def delivered(self, event_ids: Sequence[str]) -> dict[str, list[OriginalTransfer]]: ...


class RoutedMarks(Protocol):
    def mark_routed(self, expected: Mapping[tuple[str, str], int], at: datetime) -> None: ...


class EventMatcher(Protocol):
    def match(
        self, events: Sequence[tuple[Event, Sequence[str]]], now: datetime
    ) -> Mapping[tuple[str, str], MatchOutcome]: ...


class EventClaims(Protocol):
    def claim(
        self, claims: Sequence[Claim], at: datetime, count_on: date | None = None
    ) -> dict[tuple[str, str], str]:
        """The content of record of each key; with `count_on`, each event claimed for the first
        time is counted accepted on that day (data quality), in the claims' transaction."""
        ...


class InboxHandOver(Protocol):
    """Pull-inbox rows and their "delivered" audit entries in one transaction
    (hub.inbox.delivered.deliver_to_inbox over an engine)."""

    def __call__(
        self, deliveries: Sequence[Delivery], payloads: Sequence[str], at: datetime
    ) -> Handed: ...


@dataclass(frozen=True)
class RouterPorts:
    """The router's narrow view of the database."""

    quality: TallySink
    subjects: SubjectStates
    review: ReviewQueue
    originals: OriginalsLookup
    journal: RoutedMarks | None = None  # the ingest journal: what each event's routing produced
    claims: EventClaims | None = None  # (source, event id) -> content of record: conflicts
    matcher: EventMatcher | None = None  # identity resolution of unlinked people (Splink model)
    # Where the decision is made, a pull-inbox delivery is stored and audited at once (no
    # deliveries.<recipient> record, no audit record: two hops less); None: through the topics.
    inbox: InboxHandOver | None = None


@dataclass
class _Accepted:
    msg: ConsumerRecord[bytes, bytes]
    event: Event
    released: bool = False  # held for review, counted as accepted when it was held


class RouterHandler:
    def __init__(self, deps: WorkerDeps, ports: RouterPorts, watcher: ConfigWatcher) -> None:
        self.deps = deps
        self.ports = ports
        self.watcher = watcher
        self.secret = deps.settings.pseudonym_key.get_secret_value()
        self._use(watcher.current())
        self._released: list[int] = []
        self._routed: dict[tuple[str, str], int] = {}
        self._inbox: list[tuple[Delivery, str]] = []  # this batch's pull-inbox deliveries
        self._counts = BatchCounts()  # applied in after_sent: a retried batch counts once

    def _use(self, config: HubConfig) -> None:
        self.config = config
        self.inbox_recipients = frozenset(
            s.id for s in config.recipients if isinstance(s.delivery, InboxSink)
        )
        self.table = RoutingTable.build(config)
        self.sources = frozenset(s.id for s in config.systems if Role.SOURCE in s.roles)
        self.bound = source_topics(self.deps.names, config)  # sources.<id> -> id

    @property
    def topics(self) -> list[str]:
        """The hub's own events topics (signed records only) and each source's own topic."""
        names = self.deps.names
        return [
            *(names.events(t) for t in sorted(self.deps.event_types)),
            *source_topics(names, self.config),
        ]

    async def __call__(self, records: Sequence[ConsumerRecord[bytes, bytes]]) -> list[OutRecord]:
        config = await asyncio.to_thread(self.watcher.current)
        if config is not self.config:  # reloaded: the new agreements apply from this batch on
            self._use(config)
        self._routed = {}
        self._counts.clear()
        self._inbox = []
        out: list[OutRecord] = []
        tallies: list[Tally] = []
        now = utcnow()
        day = uk_date(now)
        accepted: list[_Accepted] = []
        for msg in records:
            # who wrote it: the hub (signed) on events.<type>, or the topic's own source
            refused = admit_event_record(
                msg.topic, msg.key, msg.value, msg.headers or (), self.deps.keys, self.bound
            )
            if refused is not None:
                out.append(self._reject(msg, refused, trusted=False))
                continue
            try:
                event = accept_record(
                    msg.value,
                    msg.headers or (),
                    self.deps.codec,
                    self.sources,
                    self.deps.rules.at(now),
                )
            except RecordRejected as rej:
                out.append(self._reject(msg, rej))
                continue
            if (refused := self._unauthorised(event)) is not None:
                out.append(self._reject(msg, refused))
                continue
            accepted.append(_Accepted(msg, event))

        accepted = await self._without_conflicts(accepted, out, day, now)
        changes = self._control_changes(accepted)
        waiting = await asyncio.to_thread(self._record_and_take_waiting, changes, now)
        self._released = [r.seq for r in waiting]
        accepted += self._accept_waiting(waiting, out, now)
        subjects = sorted({a.event.envelope.subject for a in accepted})
        states = await asyncio.to_thread(self._load, subjects)
        follow_ups = [
            original_of(a.event)[0] for a in accepted if a.event.envelope.type in FOLLOW_UP_TYPES
        ]
        originals = (
            await asyncio.to_thread(self.ports.originals.delivered, follow_ups)
            if follow_ups
            else {}
        )

        matched = await self._match(accepted, states, now)
        deaths: list[DeathChange] = []
        reviews: list[Review] = []
        for a in accepted:
            env = a.event.envelope
            if not a.released:
                self._counts.add(EVENTS_ACCEPTED, env.source, env.type)
                if self.ports.claims is None:  # else counted when claimed (once an event)
                    tallies.append(Tally(day, env.source, env.type, "accepted"))
            state = states.get(env.subject, UNKNOWN)
            result: RoutingResult | None = None
            if env.type in FOLLOW_UP_TYPES:
                result = route_follow_up(
                    a.event,
                    originals.get(original_of(a.event)[0], []),
                    self.table,
                    state,
                    now,
                    self.secret,
                )
            elif env.type in CONTROL_TYPES or state.resolved:
                result = route_event(a.event, self.table, state, now, self.secret)
            else:
                held = matched.get((env.source, env.id), _NOT_HELD).held
                reviews.append(self._review(a, now, CANDIDATES if held else UNRESOLVED))
            if result is not None and matched.get((env.source, env.id), _NOT_HELD).held:
                reviews.append(self._review(a, now, CANDIDATES))  # and routed to those linked
            if result is not None:
                out.extend(self._emit(a.msg, result))
            self._routed[(env.source, env.id)] = (
                len(result.deliveries) + len(result.withheld) if result is not None else 0
            )
            if env.type == DEATH and state.deceased_on is None:
                death = death_change(a.event)
                deaths.append(death)  # later events in this batch already see it
                states[env.subject] = SubjectState(state.consent, state.links, death.deceased_on)
        await asyncio.to_thread(self._after, deaths, reviews, tallies, now)
        if self._inbox and self.ports.inbox is not None:
            # durable before the batch's offsets are committed (the batch agent commits after)
            inbox, self._inbox = self._inbox, []
            handed = await asyncio.to_thread(
                self.ports.inbox, [d for d, _ in inbox], [p for _, p in inbox], utcnow()
            )
            metrics.audited(handed.entries, handed.audited, utcnow())
        return out

    async def _match(
        self, accepted: list[_Accepted], states: dict[str, SubjectState], now: datetime
    ) -> Mapping[tuple[str, str], MatchOutcome]:
        """Events about people no system has linked are scored against their recipients'
        records: links made are in `states` before routing; uncertain pairs wait for review."""
        matcher = self.ports.matcher
        if matcher is None:
            return {}
        wanted = [
            (a.event, sorted(self.table.subscribers_ids(a.event.envelope.type)))
            for a in accepted
            if a.event.envelope.type not in CONTROL_TYPES
            and a.event.envelope.type not in FOLLOW_UP_TYPES
            and not states.get(a.event.envelope.subject, UNKNOWN).resolved
        ]
        if not wanted:
            return {}
        outcomes = await asyncio.to_thread(matcher.match, wanted, now)
        for event, _ in wanted:
            env = event.envelope
            outcome = outcomes.get((env.source, env.id))
            if outcome is None or not outcome.links:
                continue
            state = states.get(env.subject, UNKNOWN)
            states[env.subject] = SubjectState(
                state.consent, MappingProxyType({**state.links, **outcome.links}), state.deceased_on
            )
        return outcomes

    def _control_changes(self, accepted: list[_Accepted]) -> SubjectChanges:
        consent, links = [], []
        for a in accepted:  # every one passed `authorise` (hub.policy.authority) already
            env = a.event.envelope
            if env.type == CONSENT:
                consent.append(consent_change(a.event))
            elif env.type == LINK:
                links.append(link_change(a.event))
        return SubjectChanges(consent=consent, links=links)

    async def _without_conflicts(
        self,
        accepted: list[_Accepted],
        out: list[OutRecord],
        day: date,
        now: datetime,
    ) -> list[_Accepted]:
        """Event ids are per source: a repeat of (source, event id) with the content of record
        is routed again (idempotently); one with other content goes to `events.rejected`."""
        if self.ports.claims is None or not accepted:
            return accepted
        claims = [
            Claim(a.event.envelope.source, a.event.envelope.id, a.event.envelope.type, h)
            for a, h in ((a, content_hash(a.event)) for a in accepted)
        ]
        # an event is counted accepted (data quality) when it is first claimed: once
        of_record = await asyncio.to_thread(self.ports.claims.claim, claims, now, day)
        kept: list[_Accepted] = []
        for a, c in zip(accepted, claims, strict=True):
            if of_record.get(c.key, c.content_sha256) in ("", c.content_sha256):
                kept.append(a)
                continue
            env = a.event.envelope
            log.warning(
                "event_id_conflict", event_id=env.id, source=env.source, event_type=env.type
            )
            reason = (
                f"{env.source} already sent event {env.id} with other content: event ids are "
                "per source and a repeat must carry the same content (send a new id for a new "
                "change, or a correction)"
            )
            out.append(self._reject(a.msg, RecordRejected(reason, (EVENT_ID_CONFLICT,))))
            self._routed.pop((env.source, env.id), None)  # the event of record is not this one
        return kept

    def _unauthorised(self, event: Event) -> RecordRejected | None:
        """A fact (death, consent, objection, link) its source has no authority to assert is
        rejected with the named reason, before it can change any state."""
        verdict = authorise(event, event.envelope.source, self.config)
        if verdict.allowed or verdict.code is None:
            return None
        log.warning(
            "fact_without_authority",
            event_id=event.envelope.id,
            source=event.envelope.source,
            event_type=event.envelope.type,
            code=verdict.code.value,
        )
        return RecordRejected(verdict.message, (verdict.code.value,))

    def _record_and_take_waiting(self, changes: SubjectChanges, now: datetime) -> list[Review]:
        """Record the batch's control events; return the queued events of people just linked."""
        self.ports.subjects.record(changes, now)
        keys = sorted({subject_key(self.secret, link.subject) for link in changes.links})
        return self.ports.review.open_for(keys) if keys else []

    def _load(self, subjects: Sequence[str]) -> dict[str, SubjectState]:
        return self.ports.subjects.load(subjects) if subjects else {}

    def _accept_waiting(
        self,
        waiting: Sequence[Review],
        out: list[OutRecord],
        now: datetime,
    ) -> list[_Accepted]:
        """Queued events about people linked in this batch are routed now, with their ids."""
        accepted: list[_Accepted] = []
        for item in waiting:
            msg: ConsumerRecord[bytes, bytes] = ConsumerRecord(
                topic=item.topic,
                partition=-1,
                offset=item.seq,
                timestamp=0,
                timestamp_type=0,
                key=item.key,
                value=item.value,
                checksum=None,
                serialized_key_size=len(item.key or b""),
                serialized_value_size=len(item.value),
                headers=tuple(item.headers),
            )
            try:
                event = accept_record(
                    msg.value, msg.headers, self.deps.codec, self.sources, self.deps.rules.at(now)
                )
            except RecordRejected as rej:  # e.g. now outside the effective-date window
                out.append(self._reject(msg, rej))
                continue
            if (refused := self._unauthorised(event)) is not None:  # the config changed since
                out.append(self._reject(msg, refused))
                continue
            log.info("review_item_released", event_id=item.event_id, review_seq=item.seq)
            accepted.append(_Accepted(msg, event, released=True))
        return accepted

    async def after_sent(self) -> None:
        """Once the batch's output is acknowledged: released review items leave the queue, and
        the journal learns how many final outcomes each event's routing produced."""
        self._counts.flush()
        if self._released:
            released, self._released = self._released, []
            await asyncio.to_thread(self.ports.review.mark_released, released, utcnow())
        if self._routed and self.ports.journal is not None:
            routed, self._routed = self._routed, {}
            await asyncio.to_thread(self.ports.journal.mark_routed, routed, utcnow())

    def _after(
        self, deaths: list[DeathChange], reviews: list[Review], tallies: list[Tally], now: datetime
    ) -> None:
        if deaths:
            self.ports.subjects.record(SubjectChanges(deaths=deaths), now)
        if reviews:
            self.ports.review.add(reviews)
            for r in reviews:
                log.warning("event_held_for_review", event_id=r.event_id, event_type=r.event_type)
        self.ports.quality.add(tallies)

    def _emit(self, msg: ConsumerRecord[bytes, bytes], result: RoutingResult) -> list[OutRecord]:
        names, keys = self.deps.names, self.deps.keys
        for d in result.deliveries:
            self._counts.add(DELIVERIES_ROUTED, d.recipient)
        for w in result.withheld:
            self._counts.add(DELIVERIES_WITHHELD, w.recipient)
        out: list[OutRecord] = []
        for d in result.deliveries:
            if self.ports.inbox is not None and d.recipient in self.inbox_recipients:
                self._inbox.append((d, d.model_dump_json()))
            else:
                out.append(signed(keys, names.deliveries(d.recipient), msg.key, *routed_record(d)))
        return [
            *out,
            *(signed(keys, names.audit, msg.key, *audit_record(w)) for w in result.withheld),
        ]

    def _review(self, a: _Accepted, now: datetime, reason: str = UNRESOLVED) -> Review:
        env = a.event.envelope
        return Review(
            event_id=env.id,
            event_type=env.type,
            source=env.source,
            subject_key=subject_key(self.secret, env.subject),
            reason=reason,
            topic=a.msg.topic,
            key=a.msg.key,
            value=a.msg.value or b"",
            headers=[(k, v or b"") for k, v in a.msg.headers or ()],
            created_at=now,
        )

    def _reject(
        self, msg: ConsumerRecord[bytes, bytes], rej: RecordRejected, trusted: bool = True
    ) -> OutRecord:
        """To events.rejected, signed, with the source it is laid to (`hub_rejected_source`):
        the rejected-event recorder lists and counts it there, once. Not `trusted` (not the
        hub's, or a source claiming another's name): the topic's source only (none on the hub's
        own topics), and it never marks the journal."""
        source, event_type = _header(msg, "ce_source"), _header(msg, "ce_type")
        if not trusted:
            source = self.bound.get(msg.topic, "")
        elif msg.topic in self.bound:
            pass  # a Kafka-native source's record: never in the ingest journal
        elif event_id := _header(msg, "ce_id", 128):
            # kept whole by the rejected-event recorder instead
            self._routed[(_header(msg, "ce_source"), event_id)] = 0
        known = (source in self.sources, event_type in self.deps.event_types)  # bounded labels
        self._counts.add(
            EVENTS_REJECTED,
            source if known[0] else "",
            event_type if known[1] else "",
            rej.rules[0] if rej.rules else "",
        )
        log.warning(
            "event_rejected",
            topic=msg.topic,
            partition=msg.partition,
            offset=msg.offset,
            rules=list(rej.rules),
        )
        return rejected(
            self.deps.names.rejected, msg, rej.reason, rej.rules, self.deps.keys, source
        )


def _header(msg: ConsumerRecord[bytes, bytes], name: str, limit: int = 64) -> str:
    for key, value in msg.headers or ():
        if key == name and value is not None:
            return str(value.decode(errors="replace"))[:limit]
    return ""


def rejected(
    topic: str,
    msg: ConsumerRecord[bytes, bytes],
    reason: str,
    rules: Sequence[str],
    keys: RecordKeys,
    source: str | None = None,
) -> OutRecord:
    """The original record, whole (its headers, signature dropped, under `original.`), in the
    hub's CloudEvents envelope, with why (and the source it is laid to, when given): signed by
    the hub."""
    original = unsigned(msg.headers or ())
    headers = rejected_headers(original, msg.topic, msg.partition, msg.offset, utcnow())
    headers += [
        (REJECTED_REASON, reason.encode()),
        (REJECTED_RULES, ",".join(rules).encode()),
        (ORIGINAL_TOPIC, msg.topic.encode()),
        (ORIGINAL_OFFSET, json.dumps([msg.partition, msg.offset]).encode()),
        *([(REJECTED_SOURCE, source.encode())] if source is not None else []),
    ]
    return signed(keys, topic, msg.key, msg.value or b"", headers)
