"""Event ids are per source: the content hash that tells a duplicate from a conflict (pure), and
the router's handling of a conflicting repeat (no broker)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

from hub.config.model import HubConfig
from hub.events.codec import AvroCodec
from hub.events.content import canonical_content, content_hash
from hub.events.envelope import Envelope, Event
from hub.events.rules import RuleConfig
from hub.events.schemas import SchemaRegistry
from hub.events.validation import accept_record, build_event
from hub.routing.claims import Claim, conflicts
from hub.routing.messages import Delivery

from .samples import NOW, SUBJECT, address_data
from .test_router_handler import EVERYWHERE, Subjects, Tallies, encoded, handler


def event(
    data: dict[str, Any] | None = None,
    *,
    id_: str = "e-1",
    source: str = "council-tax",
    subject: str = SUBJECT,
    type_: str = "address.changed",
    time: datetime = NOW,
) -> Event:
    return Event(
        envelope=Envelope(id=id_, source=source, type=type_, subject=subject, time=time),
        data=address_data() if data is None else data,
    )


def test_the_content_hash_is_of_type_subject_and_data_only() -> None:
    base = content_hash(event())
    assert len(base) == 64
    # not content: the id, the source, the time, the correlation id
    assert (
        content_hash(event(id_="other", source="registrar", time=NOW + timedelta(hours=1))) == base
    )
    # content: data, subject, type
    moved = {**address_data(), "move_type": "into_area"}
    assert content_hash(event(moved)) != base
    assert content_hash(event(subject="person-other")) != base
    assert content_hash(event(type_="name.changed")) != base


def test_canonical_content_ignores_key_order_and_time_zones() -> None:
    at = datetime(2026, 3, 1, 12, 0, 0, 123456, tzinfo=UTC)
    a = canonical_content("t", "s", {"b": 1, "a": {"y": at, "x": [1, 2]}})
    b = canonical_content(
        "t", "s", {"a": {"x": [1, 2], "y": at.astimezone(UTC).replace(microsecond=123000)}, "b": 1}
    )
    assert a == b  # times to the millisecond (what Avro keeps), keys sorted
    assert canonical_content("t", "s", {"a": [2, 1]}) != canonical_content("t", "s", {"a": [1, 2]})


def test_the_canonical_content_is_spelt_as_stored_hashes_were() -> None:
    """Claims and the journal keep these hashes: a change of spelling would turn every repeat
    of an event seen before the upgrade into a conflict."""
    data = {
        "b": 1,
        "a": {"y": datetime(2026, 3, 4, 5, 6, 7, 891234, tzinfo=UTC), "x": [1, 2]},
        "d": date(2026, 1, 2),
        "é": "Zoë",
        "n": None,
    }
    assert canonical_content("address.changed", "P-1", data) == (
        '{"data":{"a":{"x":[1,2],"y":"2026-03-04T05:06:07.891+00:00"},"b":1,"d":"2026-01-02",'
        '"n":null,"é":"Zoë"},"subject":"P-1","type":"address.changed"}'
    )


def test_an_event_hashes_alike_at_the_api_and_back_off_kafka(registry: SchemaRegistry) -> None:
    """The API hashes what build_event validated; the router what it decoded: the same."""
    rules = RuleConfig(effective_past_days=36_500).at(NOW)
    codec = AvroCodec(registry)
    submissions: list[dict[str, Any]] = [
        {
            "type": "address.changed",
            "subject": SUBJECT,
            "data": {
                "previous_address": {
                    "uprn": "100023336956",
                    "lines": ["1 Road"],
                    "postcode": "ex1 2ab",
                },
                "new_address": {"uprn": "200004711808", "lines": ["2 Lane"], "postcode": "EX4 7QT"},
                "effective_date": "2026-03-14",
            },
        },
        {
            "type": "consent.changed",
            "subject": SUBJECT,
            "data": {
                "action": "granted",
                "purpose": "Care",
                "effective_at": "2026-03-01T10:00:00.123456+01:00",
            },
        },
        {
            "type": "death.notified",
            "subject": SUBJECT,
            "data": {
                "date_of_death": "2026-02-27",
                "verified_by": "registrar",
            },
        },
    ]
    for body in submissions:
        built = build_event({**body, "id": "x-1"}, "council-tax", registry, rules)
        record = codec.encode_event(built)
        decoded = accept_record(
            record.value, record.headers, codec, frozenset({"council-tax"}), rules
        )
        assert content_hash(decoded) == content_hash(built), body["type"]


def test_conflicts_are_claims_whose_content_differs_from_the_content_of_record() -> None:
    claims = [
        Claim("council-tax", "X", "address.changed", "h1"),
        Claim("registrar", "X", "death.notified", "h2"),
        Claim("council-tax", "Y", "address.changed", "h3"),
    ]
    of_record = {("council-tax", "X"): "h1", ("registrar", "X"): "h9"}
    assert conflicts(claims, of_record) == {("registrar", "X")}


class MemoryClaims:
    """The claim store's contract, in memory."""

    def __init__(self) -> None:
        self.first: dict[tuple[str, str], str] = {}

    def claim(
        self, claims: Sequence[Claim], at: datetime, count_on: date | None = None
    ) -> dict[tuple[str, str], str]:
        for c in claims:
            self.first.setdefault(c.key, c.content_sha256)
        return {c.key: self.first[c.key] for c in claims}


async def test_a_repeat_with_other_content_is_rejected_as_event_id_conflict(
    config: HubConfig, registry: SchemaRegistry
) -> None:
    codec = AvroCodec(registry)
    subjects = Subjects({"P-1": EVERYWHERE})
    tallies = Tallies()
    route = handler(config, registry, tallies=tallies, subjects=subjects)
    route.ports = route.ports.__class__(**{**route.ports.__dict__, "claims": MemoryClaims()})
    death = {"date_of_death": datetime(2026, 11, 18).date(), "verified_by": "registrar"}
    first = await route([encoded(codec, "death.notified", "P-1", death, "X", "registrar")])
    assert len([o for o in first if o.topic.startswith("deliveries.")]) == 5
    # the same id from another source is another event: delivered, with its own delivery ids
    address = {"uprn": "1", "lines": ["1 Road"], "postcode": "EX1 1AA"}
    move = {
        "previous_address": address,
        "new_address": address,
        "effective_date": death["date_of_death"],
    }
    other = await route([encoded(codec, "address.changed", "P-1", move, "X", "council-tax")])
    other_ids = {
        Delivery.model_validate_json(o.value).delivery_id
        for o in other
        if o.topic.startswith("deliveries.")
    }
    first_ids = {
        Delivery.model_validate_json(o.value).delivery_id
        for o in first
        if o.topic.startswith("deliveries.")
    }
    assert other_ids and other_ids.isdisjoint(first_ids)
    # the same content again: routed again, with the same delivery ids (downstream dedups)
    again = await route([encoded(codec, "death.notified", "P-1", death, "X", "registrar")])
    assert {
        Delivery.model_validate_json(o.value).delivery_id
        for o in again
        if o.topic.startswith("deliveries.")
    } == first_ids
    # other content under the registrar's id X: rejected, nothing routed, nothing recorded
    subjects.recorded.clear()
    changed = {**death, "date_of_death": datetime(2026, 11, 17).date()}
    out = await route([encoded(codec, "death.notified", "P-1", changed, "X", "registrar")])
    assert [(o.topic, dict(o.headers)["hub_rejected_rules"]) for o in out] == [
        ("events.rejected", b"event_id_conflict")
    ]
    assert b"other content" in dict(out[0].headers)["hub_rejected_reason"]
    assert not any(c.deaths for c in subjects.recorded)
    # laid to the registrar, and counted by the rejected-event recorder when it stores it
    assert dict(out[0].headers)["hub_rejected_source"] == b"registrar"
    assert "rejected" not in {t.outcome for t in tallies}
