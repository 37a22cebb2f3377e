"""The router agent's batch handler, driven with real records and no broker."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime

from aiokafka import ConsumerRecord

from agents.app import WorkerDeps
from agents.router import RouterHandler, RouterPorts
from hub.broker.topics import TopicNames
from hub.config.model import HubConfig
from hub.config.watch import ConfigWatcher
from hub.events.codec import AvroCodec
from hub.events.envelope import Envelope, Event
from hub.events.rules import RuleConfig
from hub.events.schemas import SchemaRegistry
from hub.policy.state import SubjectState
from hub.quality.counters import Tally
from hub.review.store import Review
from hub.routing.messages import AuditEntry, Delivery
from hub.routing.route import OriginalTransfer
from hub.settings import HubSettings
from hub.signing.records import RecordKeys
from hub.subjects.store import SubjectChanges

KEYS = RecordKeys.of("unit-test-record-key-0123456789")


def record(
    value: bytes | None,
    headers: list[tuple[str, bytes]],
    offset: int = 0,
    topic: str = "events.death.notified",
    sign: bool = True,
) -> ConsumerRecord[bytes, bytes]:
    """A record on an events topic, signed by the hub as the publisher signs it (by default)."""
    if sign:
        headers = KEYS.sign_headers(topic, b"P-1", value or b"", headers)
    return ConsumerRecord(
        topic=topic,
        partition=0,
        offset=offset,
        timestamp=0,
        timestamp_type=0,
        key=b"P-1",
        value=value,
        checksum=None,
        serialized_key_size=3,
        serialized_value_size=len(value or b""),
        headers=tuple(headers),
    )


class Tallies(list[Tally]):
    def add(self, tallies: Iterable[Tally]) -> None:
        self.extend(tallies)


RECIPIENTS = ("waste", "libraries", "parking", "adult-social-care", "electoral")
EVERYWHERE = SubjectState(links={r: f"L-{r}" for r in RECIPIENTS})


class Subjects:
    """The subject store's contract, in memory: changes recorded, states handed back."""

    def __init__(self, states: dict[str, SubjectState] | None = None) -> None:
        self.states = dict(states or {})
        self.calls: list[str] = []
        self.recorded: list[SubjectChanges] = []

    def record(self, changes: SubjectChanges, recorded_at: datetime) -> None:
        self.calls.append("record")
        self.recorded.append(changes)
        for link in changes.links:
            old = self.states.get(link.subject, SubjectState())
            self.states[link.subject] = SubjectState(
                old.consent, {**old.links, link.system: link.local_id}, old.deceased_on
            )

    def load(self, subjects: Sequence[str]) -> dict[str, SubjectState]:
        self.calls.append("load")
        return {s: self.states[s] for s in subjects if s in self.states}


class Reviews(list[Review]):
    """The review queue's contract, in memory."""

    released: list[int]

    def add(self, items: Sequence[Review]) -> None:  # type: ignore[override]
        for item in items:
            self.append(item.model_copy(update={"seq": len(self) + 1}))

    def open_for(self, subject_keys: Sequence[str]) -> list[Review]:
        done = set(getattr(self, "released", []))
        return [r for r in self if r.subject_key in subject_keys and r.seq not in done]

    def mark_released(self, seqs: Sequence[int], at: datetime) -> None:
        self.released = [*getattr(self, "released", []), *seqs]


class NoOriginals:
    def delivered(self, event_ids: Sequence[str]) -> dict[str, list[OriginalTransfer]]:
        return {}


def handler(
    config: HubConfig,
    registry: SchemaRegistry,
    tallies: Tallies | None = None,
    subjects: Subjects | None = None,
    reviews: Reviews | None = None,
) -> RouterHandler:
    settings = HubSettings(config_reload_interval_s=0)
    deps = WorkerDeps(
        settings,
        config,
        AvroCodec(registry),
        TopicNames(),
        registry.event_types,
        RuleConfig(effective_past_days=36_500),
        KEYS,
    )
    ports = RouterPorts(
        tallies if tallies is not None else Tallies(),
        subjects if subjects is not None else Subjects({"P-1": EVERYWHERE, "P-2": EVERYWHERE}),
        reviews if reviews is not None else Reviews(),
        NoOriginals(),
    )
    watcher = ConfigWatcher(settings.config_dir, registry, config, interval_s=0)
    return RouterHandler(deps, ports, watcher)


async def test_a_batch_fans_out_to_every_entitled_recipient(
    config: HubConfig, registry: SchemaRegistry
) -> None:
    codec = AvroCodec(registry)
    event = Event(
        envelope=Envelope(
            id="e-1",
            source="registrar",
            type="death.notified",
            subject="P-1",
            time=datetime(2026, 11, 19, tzinfo=UTC),
        ),
        data={"date_of_death": date(2026, 11, 18), "verified_by": "hospital"},
    )
    encoded = codec.encode_event(event)
    out = await handler(config, registry)([record(encoded.value, encoded.headers)])
    topics = sorted(o.topic for o in out)
    assert topics == [
        "deliveries.adult-social-care",
        "deliveries.electoral",
        "deliveries.libraries",
        "deliveries.parking",
        "deliveries.waste",
    ]
    deliveries = {
        Delivery.model_validate_json(o.value).recipient: Delivery.model_validate_json(o.value)
        for o in out
    }
    assert deliveries["waste"].data == {"date_of_death": "2026-11-18"}  # minimised: no verified_by
    assert deliveries["electoral"].data == {
        "date_of_death": "2026-11-18",
        "verified_by": "hospital",
    }
    assert all(o.key == b"P-1" for o in out)  # same key: per-person order is kept downstream


async def test_bad_records_go_to_rejected_with_the_original_bytes(
    config: HubConfig, registry: SchemaRegistry
) -> None:
    headers = [
        ("ce_id", b"x"),
        ("ce_source", b"registrar"),
        ("ce_type", b"pet.adopted"),
        ("ce_subject", b"P-1"),
        ("ce_time", b"2026-11-19T00:00:00Z"),
    ]
    out = await handler(config, registry)(
        [
            record(b"\x00\x00\x00\x00\x02\x02", headers, 1),
            record(None, headers, 2),
            record(b"junk", [], 3),
        ]
    )
    assert [o.topic for o in out] == ["events.rejected"] * 3
    assert [o.value for o in out] == [b"\x00\x00\x00\x00\x02\x02", b"", b"junk"]
    reasons = [dict(o.headers)["hub_rejected_reason"].decode() for o in out]
    assert "unknown event type 'pet.adopted'" in reasons[0]
    assert "tombstone" in reasons[1]
    assert "missing CloudEvents headers" in reasons[2]
    assert [json.loads(dict(o.headers)["hub_original_offset"]) for o in out] == [
        [0, 1],
        [0, 2],
        [0, 3],
    ]


async def test_withheld_decisions_go_to_the_audit_topic(
    config: HubConfig, registry: SchemaRegistry
) -> None:
    codec = AvroCodec(registry)
    address = {"uprn": "1", "lines": ["1 Road"], "postcode": "EX1 1AA"}
    event = Event(
        envelope=Envelope(
            id="e-2",
            source="council-tax",
            type="address.changed",
            subject="P-2",
            time=datetime(2026, 11, 19, tzinfo=UTC),
        ),
        data={
            "previous_address": address,
            "new_address": address,
            "effective_date": date(2026, 11, 1),
        },
    )
    encoded = codec.encode_event(event)
    out = await handler(config, registry)([record(encoded.value, encoded.headers)])
    audit = [AuditEntry.model_validate_json(o.value) for o in out if o.topic == "audit"]
    assert {(a.recipient, a.reasons[0].code) for a in audit} == {
        ("libraries", "no_agreement"),
        ("adult-social-care", "no_consent"),
    }
    assert "EX1 1AA" not in b"".join(o.value for o in out if o.topic == "audit").decode()


def encoded(
    codec: AvroCodec,
    type_: str,
    subject: str,
    data: dict[str, object],
    id_: str,
    source: str = "council-tax",
) -> ConsumerRecord[bytes, bytes]:
    event = Event(
        envelope=Envelope(
            id=id_,
            source=source,
            type=type_,
            subject=subject,
            time=datetime(2026, 11, 19, tzinfo=UTC),
        ),
        data=data,
    )
    e = codec.encode_event(event)
    return record(e.value, e.headers)


_ADDRESS = {"uprn": "1", "lines": ["1 Road"], "postcode": "EX1 1AA"}
MOVE = {"previous_address": _ADDRESS, "new_address": _ADDRESS, "effective_date": date(2026, 11, 1)}


def death_record(codec: AvroCodec, subject: str, id_: str) -> ConsumerRecord[bytes, bytes]:
    return encoded(
        codec,
        "death.notified",
        subject,
        {"date_of_death": date(2026, 11, 18), "verified_by": "registrar"},
        id_,
        "registrar",
    )


async def test_an_event_about_an_unknown_person_waits_in_the_review_queue(
    config: HubConfig, registry: SchemaRegistry
) -> None:
    reviews = Reviews()
    codec = AvroCodec(registry)
    out = await handler(config, registry, subjects=Subjects(), reviews=reviews)(
        [death_record(codec, "P-unknown", "e-unknown")]
    )
    assert out == []  # nothing routed, nothing lost:
    assert [r.event_id for r in reviews] == ["e-unknown"]
    assert reviews[0].value == death_record(codec, "P-unknown", "e-unknown").value
    assert "P-unknown" not in reviews[0].subject_key


async def test_links_in_a_batch_are_recorded_before_the_people_are_loaded(
    config: HubConfig, registry: SchemaRegistry
) -> None:
    codec = AvroCodec(registry)
    subjects = Subjects()
    link = encoded(
        codec,
        "person.linked",
        "P-9",
        {"system": "waste", "local_id": "W-9"},
        "l-1",
        "customer-index",
    )
    out = await handler(config, registry, subjects=subjects)(
        [death_record(codec, "P-9", "e-9"), link]
    )
    assert subjects.calls[:2] == ["record", "load"]
    deliveries = [
        Delivery.model_validate_json(o.value) for o in out if o.topic.startswith("deliveries.")
    ]
    assert [(d.recipient, d.local_id) for d in deliveries] == [("waste", "W-9")]
    withheld = [AuditEntry.model_validate_json(o.value) for o in out if o.topic == "audit"]
    assert {w.reasons[0].code for w in withheld} == {"no_local_record"}


async def test_a_source_may_not_link_another_systems_records(
    config: HubConfig, registry: SchemaRegistry
) -> None:
    codec = AvroCodec(registry)
    subjects = Subjects()
    link = encoded(codec, "person.linked", "P-9", {"system": "waste", "local_id": "W-9"}, "l-2")
    out = await handler(config, registry, subjects=subjects)([link])
    assert [o.topic for o in out] == ["events.rejected"]
    assert dict(out[0].headers)["hub_rejected_rules"] == b"link_not_own_record"
    assert all(not c.links for c in subjects.recorded)


async def test_a_death_from_a_source_without_death_authority_is_rejected_and_records_nothing(
    config: HubConfig, registry: SchemaRegistry
) -> None:
    codec = AvroCodec(registry)
    subjects = Subjects({"P-1": EVERYWHERE})
    tallies = Tallies()
    forged = encoded(
        codec,
        "death.notified",
        "P-1",
        {"date_of_death": date(2026, 11, 18), "verified_by": "hospital"},
        "d-ct",
        "council-tax",
    )
    route = handler(config, registry, tallies=tallies, subjects=subjects)
    out = await route([forged])
    assert [o.topic for o in out] == ["events.rejected"]
    headers = dict(out[0].headers)
    assert headers["hub_rejected_rules"] == b"no_death_authority"
    assert b"council-tax may not notify a death" in headers["hub_rejected_reason"]
    assert not any(c.deaths for c in subjects.recorded)
    assert headers["hub_rejected_source"] == b"council-tax" and not tallies  # the recorder counts
    # later deliveries about the person carry no deceased flag
    move = encoded(codec, "address.changed", "P-1", MOVE, "m-after")
    later = [
        Delivery.model_validate_json(o.value)
        for o in await route([move])
        if o.topic.startswith("deliveries.")
    ]
    assert later and all(d.subject_flags == () for d in later)


async def test_consent_from_a_source_without_consent_authority_is_rejected_and_records_nothing(
    config: HubConfig, registry: SchemaRegistry
) -> None:
    codec = AvroCodec(registry)
    subjects = Subjects({"P-1": EVERYWHERE})
    at = datetime(2026, 11, 1, tzinfo=UTC)
    grant = {
        "action": "granted",
        "purpose": "Keep care and support records current",
        "recipient": None,
        "effective_at": at,
    }
    out = await handler(config, registry, subjects=subjects)(
        [
            encoded(codec, "consent.changed", "P-1", grant, "c-reg", "registrar"),
            encoded(codec, "consent.changed", "P-1", grant, "c-ct", "council-tax"),
        ]
    )
    assert [(o.topic, dict(o.headers).get("hub_rejected_rules")) for o in out] == [
        ("events.rejected", b"no_consent_authority")
    ]
    recorded = [c.event_id for changes in subjects.recorded for c in changes.consent]
    assert recorded == ["c-ct"]


async def test_a_death_marks_the_person_deceased_for_later_events(
    config: HubConfig, registry: SchemaRegistry
) -> None:
    codec = AvroCodec(registry)
    subjects = Subjects({"P-1": EVERYWHERE})
    out = await handler(config, registry, subjects=subjects)(
        [death_record(codec, "P-1", "d-1"), death_record(codec, "P-1", "d-2")]
    )
    deaths = [d for c in subjects.recorded for d in c.deaths]
    assert [(d.subject, d.deceased_on) for d in deaths] == [("P-1", date(2026, 11, 18))]
    flags = {
        (d.event_id, d.subject_flags)
        for d in (
            Delivery.model_validate_json(o.value) for o in out if o.topic.startswith("deliveries.")
        )
    }
    assert flags == {("d-1", ()), ("d-2", ("deceased",))}


async def test_a_queued_event_is_routed_once_its_person_is_linked(
    config: HubConfig, registry: SchemaRegistry
) -> None:
    codec = AvroCodec(registry)
    subjects, reviews = Subjects(), Reviews()
    route = handler(config, registry, subjects=subjects, reviews=reviews)
    assert await route([death_record(codec, "P-7", "e-7")]) == []
    link = encoded(
        codec,
        "person.linked",
        "P-7",
        {"system": "parking", "local_id": "PK-7"},
        "l-7",
        "customer-index",
    )
    out = await route([link])
    deliveries = [
        Delivery.model_validate_json(o.value) for o in out if o.topic.startswith("deliveries.")
    ]
    assert [(d.event_id, d.recipient, d.local_id) for d in deliveries] == [
        ("e-7", "parking", "PK-7")
    ]
    assert not getattr(reviews, "released", [])  # only once the output is acknowledged:
    await route.after_sent()
    assert reviews.released == [1]
    assert await route([link]) == []  # a redelivered link does not route it twice


class InboxHandOver:
    """The router's pull-inbox port, in memory: what it was handed, per batch."""

    def __init__(self) -> None:
        self.batches: list[list[Delivery]] = []

    def __call__(self, deliveries: Sequence[Delivery], payloads: Sequence[str], at: datetime):  # type: ignore[no-untyped-def]
        from hub.inbox.delivered import Audited, Handed

        parsed = [Delivery.model_validate_json(p) for p in payloads]  # the JSON a reader gets
        assert [p.delivery_id for p in parsed] == [d.delivery_id for d in deliveries]
        self.batches.append(list(deliveries))
        entries = tuple(Audited(d.recipient, "delivered", at) for d in deliveries)
        return Handed(len(deliveries), entries, len(entries))


async def test_pull_inbox_deliveries_are_handed_over_where_the_decision_is_made(
    config: HubConfig, registry: SchemaRegistry
) -> None:
    """Inbox recipients get their row (and its audit entry) from the router itself; a webhook
    recipient's delivery still goes through its deliveries topic to the delivery agent."""
    from hub.config.model import WebhookSink

    systems = tuple(
        s.model_copy(
            update={"delivery": WebhookSink(kind="webhook", url="https://parking.example/hook")}
        )
        if s.id == "parking"
        else s
        for s in config.systems
    )
    config = config.model_copy(update={"systems": systems})
    inbox = InboxHandOver()
    h = handler(config, registry)
    h.ports = RouterPorts(
        h.ports.quality, h.ports.subjects, h.ports.review, h.ports.originals, inbox=inbox
    )
    codec = AvroCodec(registry)
    events = [
        Event(
            envelope=Envelope(
                id=f"e-{i}",
                source="registrar",
                type="death.notified",
                subject=subject,
                time=datetime(2026, 11, 19, tzinfo=UTC),
            ),
            data={"date_of_death": date(2026, 11, 18), "verified_by": "hospital"},
        )
        for i, subject in enumerate(["P-1", "P-2", "P-1"])
    ]
    encoded = [codec.encode_event(e) for e in events]
    out = await h([record(r.value, r.headers, offset=i) for i, r in enumerate(encoded)])
    assert sorted({o.topic for o in out}) == ["deliveries.parking"]
    [handed] = inbox.batches
    assert {d.recipient for d in handed} == set(RECIPIENTS) - {"parking"}
    # per-person order: each recipient's deliveries in the order of the events
    assert [d.event_id for d in handed if d.recipient == "waste"] == ["e-0", "e-1", "e-2"]
