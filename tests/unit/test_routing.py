"""route_event: a delivery per allowed subscriber, a withheld audit entry per denied one."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime
from typing import Any

from hub.config.model import AgreementStatus, HubConfig
from hub.events.envelope import Envelope, Event
from hub.policy.reasons import ReasonCode
from hub.policy.state import ConsentAction, ConsentFact, SubjectState
from hub.pseudonym import subject_key
from hub.routing.messages import (
    AuditEntry,
    Delivery,
    Outcome,
    delivered_entry,
    delivery_id,
)
from hub.routing.route import OriginalTransfer, RoutingResult, route_event, route_follow_up
from hub.routing.table import RoutingTable

from .samples import (
    NEW_LINES,
    NEW_POSTCODE,
    NEW_UPRN,
    NOW,
    OLD_LINES,
    OLD_POSTCODE,
    OLD_UPRN,
    SUBJECT,
    address_data,
    death_data,
)

SECRET = "unit-test-pseudonym-secret"
ASC_PURPOSE = "Keep care and support records current"  # DSA-004's purpose


def make_event(
    type_: str = "address.changed",
    source: str = "council-tax",
    event_id: str = "evt-20260314-0001",
    data: dict[str, Any] | None = None,
) -> Event:
    if data is None:
        data = address_data() if type_ == "address.changed" else death_data()
    env = Envelope(
        id=event_id,
        source=source,
        type=type_,
        subject=SUBJECT,
        time=datetime(2026, 3, 16, 9, 30, tzinfo=UTC),
    )
    return Event(envelope=env, data=data)


RECIPIENTS = ("waste", "libraries", "parking", "adult-social-care", "electoral")
LINKED = SubjectState(links={r: f"{r.upper()}-0417" for r in RECIPIENTS})


def route(
    config: HubConfig,
    event: Event | None = None,
    subject: SubjectState = LINKED,
    secret: str = SECRET,
) -> RoutingResult:
    return route_event(event or make_event(), RoutingTable.build(config), subject, NOW, secret)


def by_recipient(result: RoutingResult) -> tuple[dict[str, Delivery], dict[str, AuditEntry]]:
    return (
        {d.recipient: d for d in result.deliveries},
        {w.recipient: w for w in result.withheld},
    )


def test_address_change_goes_to_covered_subscribers_and_is_withheld_from_the_rest(
    config: HubConfig,
) -> None:
    delivered, withheld = by_recipient(route(config))
    assert set(delivered) == {"waste", "parking", "electoral"}
    assert set(withheld) == {"libraries", "adult-social-care"}
    assert [r.code for r in withheld["libraries"].reasons] == [ReasonCode.NO_AGREEMENT.value]
    assert [r.code for r in withheld["adult-social-care"].reasons] == [ReasonCode.NO_CONSENT.value]
    assert withheld["adult-social-care"].agreement_id == "DSA-004"
    assert withheld["libraries"].agreement_id is None


def test_every_subscriber_gets_exactly_one_outcome(config: HubConfig) -> None:
    result = route(config)
    recipients = [d.recipient for d in result.deliveries] + [w.recipient for w in result.withheld]
    assert sorted(recipients) == sorted(s.id for s in config.subscribers("address.changed"))


def test_consent_on_record_releases_the_consent_based_flow(config: HubConfig) -> None:
    granted = ConsentFact(ConsentAction.GRANTED, ASC_PURPOSE, None, NOW, 1)
    subject = SubjectState(consent=(granted,), links=LINKED.links)
    delivered, withheld = by_recipient(route(config, subject=subject))
    assert "adult-social-care" in delivered
    assert delivered["adult-social-care"].agreement_id == "DSA-004"
    assert set(withheld) == {"libraries"}


def test_each_delivery_carries_only_its_agreement_fields(config: HubConfig) -> None:
    delivered, _ = by_recipient(route(config))
    parking = delivered["parking"]
    assert parking.data == {
        "new_address": {"uprn": NEW_UPRN, "postcode": NEW_POSTCODE},
        "effective_date": address_data()["effective_date"],
    }
    assert parking.fields == ("effective_date", "new_address.postcode", "new_address.uprn")
    assert all(line not in parking.model_dump_json() for line in NEW_LINES)

    waste = delivered["waste"]
    assert set(waste.data) == {"new_address", "effective_date"}
    assert waste.data["new_address"]["lines"] == NEW_LINES

    electoral = delivered["electoral"]
    assert electoral.data["previous_address"] == {"uprn": OLD_UPRN}
    assert OLD_POSTCODE not in electoral.model_dump_json()

    for d in delivered.values():
        as_json = d.model_dump_json()
        for value in (OLD_POSTCODE, *OLD_LINES):
            assert value not in as_json


def test_delivery_records_agreement_and_provenance(config: HubConfig) -> None:
    delivered, _ = by_recipient(route(config))
    waste = delivered["waste"]
    dsa = next(a for a in config.agreements if a.id == "DSA-001")
    assert waste.agreement_id == "DSA-001"
    assert waste.agreement_version == dsa.version
    assert waste.lawful_basis == dsa.lawful_basis
    assert waste.purpose == dsa.purpose
    assert waste.event_id == "evt-20260314-0001"
    assert waste.event_type == "address.changed"
    assert waste.source == "council-tax"
    assert waste.subject == SUBJECT
    assert waste.subject_key == subject_key(SECRET, SUBJECT)
    assert waste.decided_at == NOW
    assert waste.local_id == "WASTE-0417"


def test_each_recipient_gets_its_own_local_id_and_unlinked_ones_get_nothing(
    config: HubConfig,
) -> None:
    subject = SubjectState(links={"waste": "WST-000417", "council-tax": "CT-1"})
    delivered, withheld = by_recipient(route(config, subject=subject))
    assert delivered["waste"].local_id == "WST-000417"
    assert [r.code for r in withheld["parking"].reasons] == [ReasonCode.NO_LOCAL_RECORD.value]
    assert "parking" not in delivered


def test_delivery_id_is_stable_per_event_and_recipient(config: HubConfig) -> None:
    first = route(config)
    second = route(config)
    ids_first = {d.recipient: d.delivery_id for d in first.deliveries}
    ids_second = {d.recipient: d.delivery_id for d in second.deliveries}
    assert ids_first == ids_second
    assert len(set(ids_first.values())) == len(ids_first)
    for recipient, did in ids_first.items():
        assert did == delivery_id("evt-20260314-0001", recipient, source="council-tax")
    other = route(config, event=make_event(event_id="evt-20260314-0002"))
    assert {d.delivery_id for d in other.deliveries}.isdisjoint(ids_first.values())


def test_delivery_id_function() -> None:
    a = delivery_id("evt-1", "waste", source="council-tax")
    assert a == delivery_id("evt-1", "waste", source="council-tax")
    assert a.startswith("dlv_")
    assert a != delivery_id("evt-1", "parking", source="council-tax")
    assert a != delivery_id("evt-2", "waste", source="council-tax")
    # the separator keeps (event, recipient) pairs apart that would concatenate alike
    assert delivery_id("evt-1w", "aste", source="council-tax") != delivery_id(
        "evt-1", "waste", source="council-tax"
    )
    # event ids are per source: two sources' events with one id are two deliveries
    assert a != delivery_id("evt-1", "waste", source="registrar")


def test_withheld_entries_are_audit_records_with_stable_ids(config: HubConfig) -> None:
    _, withheld = by_recipient(route(config))
    entry = withheld["libraries"]
    did = delivery_id("evt-20260314-0001", "libraries", source="council-tax")
    assert entry.delivery_id == did
    assert entry.entry_id == f"{did}:withheld"
    assert entry.outcome is Outcome.WITHHELD
    assert entry.event_id == "evt-20260314-0001"
    assert entry.fields == ()
    assert entry.decided_at == NOW


def _assert_no_personal_values(text: str) -> None:
    data = address_data()
    for value in (
        SUBJECT,
        OLD_UPRN,
        NEW_UPRN,
        OLD_POSTCODE,
        NEW_POSTCODE,
        *OLD_LINES,
        *NEW_LINES,
        data["effective_date"].isoformat(),
    ):
        assert value not in text, value


def test_withheld_audit_entries_hold_no_personal_data(config: HubConfig) -> None:
    result = route(config)
    assert result.withheld
    for entry in result.withheld:
        _assert_no_personal_values(entry.model_dump_json())


def test_delivered_audit_entries_hold_no_personal_data(config: HubConfig) -> None:
    result = route(config)
    assert result.deliveries
    for d in result.deliveries:
        entry = delivered_entry(d, NOW)
        as_json = entry.model_dump_json()
        _assert_no_personal_values(as_json)
        assert "data" not in json.loads(as_json)
        assert entry.outcome is Outcome.DELIVERED
        assert entry.entry_id == f"{d.delivery_id}:delivered"
        assert entry.fields == d.fields
        assert entry.agreement_version == d.agreement_version
        assert entry.lawful_basis == d.lawful_basis


def test_audit_entry_model_has_no_place_for_values() -> None:
    assert "data" not in AuditEntry.model_fields
    assert "subject" not in AuditEntry.model_fields


def test_subject_key_is_an_hmac_of_the_subject(config: HubConfig) -> None:
    result = route(config)
    expected = hmac.new(SECRET.encode(), SUBJECT.encode(), hashlib.sha256).hexdigest()[:32]
    keys = {e.subject_key for e in result.withheld} | {d.subject_key for d in result.deliveries}
    assert keys == {expected}
    assert SUBJECT not in expected
    other = route(config, secret="another-secret")
    assert {e.subject_key for e in other.withheld} != {expected}


def test_death_notification_follows_its_own_agreements(config: HubConfig) -> None:
    delivered, withheld = by_recipient(
        route(config, event=make_event("death.notified", "registrar"))
    )
    assert withheld == {}
    assert set(delivered) == {"waste", "libraries", "parking", "adult-social-care", "electoral"}
    for rid in ("waste", "libraries", "parking", "adult-social-care"):
        assert delivered[rid].agreement_id == "DSA-005"
        assert delivered[rid].data == {"date_of_death": death_data()["date_of_death"]}
        assert delivered[rid].fields == ("date_of_death",)
    assert delivered["electoral"].agreement_id == "DSA-006"
    assert delivered["electoral"].data == {
        k: v for k, v in death_data().items() if k in ("date_of_death", "verified_by")
    }  # the informant is not in DSA-006


def test_an_event_from_the_wrong_source_is_withheld_from_everyone(config: HubConfig) -> None:
    result = route(config, event=make_event("death.notified", "council-tax"))
    assert result.deliveries == ()
    assert {w.recipient for w in result.withheld} == {
        s.id for s in config.subscribers("death.notified")
    }
    assert all([r.code for r in w.reasons] == ["no_agreement"] for w in result.withheld)


def test_non_subscribers_are_not_considered(config: HubConfig) -> None:
    trimmed = config.model_copy(
        update={"systems": tuple(s for s in config.systems if s.id != "parking")}
    )
    result = route(trimmed)
    recipients = {d.recipient for d in result.deliveries} | {w.recipient for w in result.withheld}
    assert "parking" not in recipients
    assert {d.recipient for d in result.deliveries} == {"waste", "electoral"}


def test_a_recipient_without_a_record_is_notified_to_match_where_its_agreement_allows(
    config: HubConfig,
) -> None:
    subject = SubjectState(links={"council-tax": "CT-1", "waste": "W-1"})
    delivered, withheld = by_recipient(route(config, subject=subject))
    electoral = delivered["electoral"]  # DSA-002 allows notify-to-match
    assert electoral.local_id is None
    assert electoral.fields == ("effective_date", "new_address")
    assert "previous_address" not in electoral.data
    assert [r.code for r in withheld["parking"].reasons] == ["no_local_record"]


def test_a_correction_goes_to_those_that_received_the_original_minimised(
    config: HubConfig,
) -> None:
    corrected = address_data()
    corrected["new_address"] = {**corrected["new_address"], "postcode": "EX4 7QU"}
    correction = make_event(
        "correction",
        event_id="evt-fix-1",
        data={
            "original_event_id": "evt-20260314-0001",
            "original_event_type": "address.changed",
            "reason": "wrong postcode keyed",
            "corrected_data": json.dumps(corrected, default=str),
        },
    )
    originals = [
        OriginalTransfer("parking", "council-tax", "address.changed"),
        OriginalTransfer("waste", "council-tax", "address.changed"),
    ]
    result = route_follow_up(correction, originals, RoutingTable.build(config), LINKED, NOW, SECRET)
    delivered, withheld = by_recipient(result)
    assert set(delivered) == {"parking", "waste"}  # not electoral: it is not in `originals`
    parking = delivered["parking"]
    assert parking.event_type == "correction"
    assert parking.mode == "correction"
    assert parking.data == {
        "original_event_id": "evt-20260314-0001",
        "original_event_type": "address.changed",
        "corrected": {
            "new_address": {"uprn": NEW_UPRN, "postcode": "EX4 7QU"},
            "effective_date": corrected["effective_date"].isoformat(),
        },
    }
    assert "reason" not in parking.data
    assert withheld == {}


def test_a_retraction_under_an_agreement_that_has_since_ended_is_withheld(
    config: HubConfig,
) -> None:
    ended = tuple(
        a.model_copy(update={"status": AgreementStatus.ENDED}) if a.id == "DSA-003" else a
        for a in config.agreements
    )
    table = RoutingTable.build(config.model_copy(update={"agreements": ended}))
    retraction = make_event(
        "retraction",
        event_id="evt-retract-1",
        data={
            "original_event_id": "evt-20260314-0001",
            "original_event_type": "address.changed",
            "reason": "sent in error",
        },
    )
    originals = [
        OriginalTransfer("parking", "council-tax", "address.changed"),
        OriginalTransfer("waste", "council-tax", "address.changed"),
    ]
    delivered, withheld = by_recipient(
        route_follow_up(retraction, originals, table, LINKED, NOW, SECRET)
    )
    assert delivered["waste"].data == {
        "original_event_id": "evt-20260314-0001",
        "original_event_type": "address.changed",
    }
    assert [r.code for r in withheld["parking"].reasons] == ["agreement_not_active"]
    assert withheld["parking"].mode == "correction"
