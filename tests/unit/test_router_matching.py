"""The router with a matcher: an event about a person nobody linked is routed to the records
matching found (under their own ids), held for review when pairs are uncertain, and left in the
review queue when nothing matched."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime

from agents.app import WorkerDeps
from agents.router import CANDIDATES, UNRESOLVED, RouterHandler, RouterPorts
from hub.broker.topics import TopicNames
from hub.config.model import HubConfig
from hub.config.watch import ConfigWatcher
from hub.events.codec import AvroCodec
from hub.events.envelope import Envelope, Event
from hub.events.rules import RuleConfig
from hub.events.schemas import SchemaRegistry
from hub.identity.service import MatchOutcome
from hub.routing.messages import Delivery
from hub.settings import HubSettings
from tests.unit.test_router_handler import KEYS, NoOriginals, Reviews, Subjects, Tallies, record


class FakeMatcher:
    def __init__(self, outcomes: dict[str, MatchOutcome]) -> None:
        self.outcomes = outcomes
        self.asked: list[tuple[str, tuple[str, ...]]] = []

    def match(
        self, events: Sequence[tuple[Event, Sequence[str]]], now: datetime
    ) -> Mapping[tuple[str, str], MatchOutcome]:
        self.asked += [(e.envelope.subject, tuple(r)) for e, r in events]
        return {
            (e.envelope.source, e.envelope.id): self.outcomes[e.envelope.subject]
            for e, _ in events
            if e.envelope.subject in self.outcomes
        }


def death(subject: str) -> Event:
    return Event(
        envelope=Envelope(
            id=f"d-{subject}",
            source="registrar",
            type="death.notified",
            subject=subject,
            time=datetime(2026, 11, 19, tzinfo=UTC),
        ),
        data={"date_of_death": date(2026, 11, 18), "verified_by": "hospital"},
    )


async def test_matching_links_routes_and_holds_for_review(
    config: HubConfig, registry: SchemaRegistry
) -> None:
    settings = HubSettings(config_reload_interval_s=0)
    codec = AvroCodec(registry)
    deps = WorkerDeps(
        settings,
        config,
        codec,
        TopicNames(),
        registry.event_types,
        RuleConfig(effective_past_days=36_500),
        KEYS,
    )
    matcher = FakeMatcher(
        {
            "P-auto": MatchOutcome(links={"waste": "W-1", "electoral": "E-1"}),
            "P-some": MatchOutcome(links={"waste": "W-2"}, held=True),
            "P-held": MatchOutcome(held=True),
        }
    )
    reviews = Reviews()
    ports = RouterPorts(Tallies(), Subjects({}), reviews, NoOriginals(), matcher=matcher)
    handler = RouterHandler(
        deps, ports, ConfigWatcher(settings.config_dir, registry, config, interval_s=0)
    )
    records = []
    for subject in ("P-auto", "P-some", "P-held", "P-none"):
        encoded = codec.encode_event(death(subject))
        records.append(record(encoded.value, encoded.headers))
    out = await handler(records)

    assert {s for s, _ in matcher.asked} == {"P-auto", "P-some", "P-held", "P-none"}
    assert all("waste" in recipients for _, recipients in matcher.asked)
    delivered = {
        (d.subject, d.recipient): d.local_id
        for d in (
            Delivery.model_validate_json(o.value) for o in out if o.topic.startswith("deliveries.")
        )
    }
    assert delivered[("P-auto", "waste")] == "W-1"
    assert delivered[("P-auto", "electoral")] == "E-1"
    assert delivered[("P-some", "waste")] == "W-2"
    assert not any(s in ("P-held", "P-none") for s, _ in delivered)
    held = {(r.event_id, r.reason) for r in reviews}
    assert held == {("d-P-some", CANDIDATES), ("d-P-held", CANDIDATES), ("d-P-none", UNRESOLVED)}


async def test_inbox_hand_over_gets_the_matched_deliveries_as_the_topic_path_does(
    config: HubConfig, registry: SchemaRegistry
) -> None:
    """With the pull-inbox port (rows and their audit entries written where the router
    decides), matching still runs first, and each inbox recipient gets the same delivery, the
    same v2 message and the same "delivered" audit entry the deliveries topic would carry."""
    from hub.delivery.shape import to_message
    from hub.routing.messages import delivered_entry
    from tests.unit.test_router_handler import InboxHandOver as Recording

    class InboxHandOver(Recording):
        def __init__(self) -> None:
            super().__init__()
            self.payloads: list[list[str]] = []

        def __call__(self, deliveries, payloads, at):  # type: ignore[no-untyped-def]
            self.payloads.append(list(payloads))
            return super().__call__(deliveries, payloads, at)

    settings = HubSettings(config_reload_interval_s=0)
    codec = AvroCodec(registry)
    deps = WorkerDeps(
        settings,
        config,
        codec,
        TopicNames(),
        registry.event_types,
        RuleConfig(effective_past_days=36_500),
        KEYS,
    )
    outcomes = {
        "P-auto": MatchOutcome(links={"waste": "W-1", "electoral": "E-1"}),
        "P-some": MatchOutcome(links={"waste": "W-2"}, held=True),
        "P-held": MatchOutcome(held=True),
    }
    records = []
    for subject in ("P-auto", "P-some", "P-held", "P-none"):
        encoded = codec.encode_event(death(subject))
        records.append(record(encoded.value, encoded.headers))

    def router(
        inbox: InboxHandOver | None, matcher: FakeMatcher, reviews: Reviews
    ) -> RouterHandler:
        ports = RouterPorts(
            Tallies(), Subjects({}), reviews, NoOriginals(), matcher=matcher, inbox=inbox
        )
        return RouterHandler(
            deps, ports, ConfigWatcher(settings.config_dir, registry, config, interval_s=0)
        )

    via_topics_matcher, via_topics_reviews = FakeMatcher(outcomes), Reviews()
    out = await router(None, via_topics_matcher, via_topics_reviews)(records)
    via_topics = [
        Delivery.model_validate_json(o.value) for o in out if o.topic.startswith("deliveries.")
    ]
    inbox, matcher, reviews = InboxHandOver(), FakeMatcher(outcomes), Reviews()
    out = await router(inbox, matcher, reviews)(records)

    assert {s for s, _ in matcher.asked} == {"P-auto", "P-some", "P-held", "P-none"}
    assert not [o for o in out if o.topic.startswith("deliveries.")]  # every recipient: inbox
    [batch] = inbox.batches
    [payloads] = inbox.payloads
    handed = [Delivery.model_validate_json(p) for p in payloads]  # the rows' JSON, as stored
    assert [(d.subject, d.recipient, d.local_id) for d in batch] == [
        (d.subject, d.recipient, d.local_id) for d in via_topics
    ]
    assert len(handed) == len(via_topics) == 3

    def same(d: Delivery) -> dict[str, object]:
        return d.model_dump(mode="json", exclude={"decided_at"})

    assert [same(d) for d in handed] == [same(d) for d in via_topics]
    assert [to_message(d) for d in handed] == [to_message(d) for d in via_topics]
    at = datetime(2026, 11, 20, tzinfo=UTC)
    assert [delivered_entry(d, at).model_dump(exclude={"entry_id"}) for d in handed] == [
        delivered_entry(d, at).model_dump(exclude={"entry_id"}) for d in via_topics
    ]
    assert {(r.event_id, r.reason) for r in reviews} == {
        (r.event_id, r.reason) for r in via_topics_reviews
    }
