"""Redrive re-decides a dead letter under the policy in force now (pure: no broker, no database)."""

from __future__ import annotations

from datetime import UTC, date, datetime

from hub.config.model import AgreementStatus, HubConfig
from hub.delivery.redrive import redecide, redrive_entry_id
from hub.policy.state import SubjectState
from hub.routing.messages import AuditEntry, Delivery, Mode, Outcome, delivery_id
from hub.routing.table import RoutingTable

NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
LINKED = SubjectState(links={"waste": "WST-1", "parking": "PRK-1"})


def dead_letter(recipient: str, fields: tuple[str, ...], data: dict[str, object]) -> Delivery:
    return Delivery(
        delivery_id=delivery_id("evt-1", recipient, source="council-tax"),
        event_id="evt-1",
        event_type="address.changed",
        source="council-tax",
        subject="P-1",
        subject_key="k" * 64,
        recipient=recipient,
        local_id="X-1",
        event_time=datetime(2026, 11, 20, 9, 0, tzinfo=UTC),
        agreement_id="DSA-001",
        agreement_version="old",
        lawful_basis="old basis",
        purpose="old purpose",
        fields=fields,
        data=data,
        decided_at=datetime(2026, 11, 20, 9, 0, 1, tzinfo=UTC),
    )


WASTE = dead_letter(
    "waste",
    ("effective_date", "new_address"),
    {
        "effective_date": "2026-11-20",
        "new_address": {"uprn": "1", "lines": ["7 Orchard Close"], "postcode": "EX4 7QT"},
    },
)


def test_still_allowed_is_sent_again_under_the_current_agreement(config: HubConfig) -> None:
    again = redecide(WASTE, RoutingTable.build(config), LINKED, NOW)
    assert isinstance(again, Delivery)
    assert again.delivery_id == WASTE.delivery_id  # the recipient de-duplicates on it
    assert again.mode is Mode.REDRIVE and again.decided_at == NOW
    assert again.agreement_id == "DSA-001" and again.local_id == "WST-1"
    assert again.agreement_version != "old" and again.lawful_basis != "old basis"
    assert again.data == WASTE.data


def test_an_expired_agreement_means_withheld_in_redrive_mode(config: HubConfig) -> None:
    expired = HubConfig(
        systems=config.systems,
        agreements=tuple(
            a.model_copy(update={"valid_until": date(2026, 1, 31)}) if a.id == "DSA-001" else a
            for a in config.agreements
        ),
    )
    decided = redecide(WASTE, RoutingTable.build(expired), LINKED, NOW)
    assert isinstance(decided, AuditEntry)
    assert decided.outcome is Outcome.WITHHELD and decided.mode is Mode.REDRIVE
    assert decided.entry_id == redrive_entry_id(WASTE.delivery_id)
    assert [r.code for r in decided.reasons] == ["agreement_expired"]
    assert decided.fields == ()  # nothing was shared


def test_a_narrowed_agreement_re_minimises(config: HubConfig) -> None:
    narrowed = HubConfig(
        systems=config.systems,
        agreements=tuple(
            a.model_copy(update={"shares": {"address.changed": ("new_address.postcode",)}})
            if a.id == "DSA-001"
            else a
            for a in config.agreements
        ),
    )
    again = redecide(WASTE, RoutingTable.build(narrowed), LINKED, NOW)
    assert isinstance(again, Delivery)
    assert again.fields == ("new_address.postcode",)
    assert again.data == {"new_address": {"postcode": "EX4 7QT"}}


def test_a_suspended_agreement_withholds(config: HubConfig) -> None:
    suspended = HubConfig(
        systems=config.systems,
        agreements=tuple(
            a.model_copy(update={"status": AgreementStatus.SUSPENDED}) if a.id == "DSA-001" else a
            for a in config.agreements
        ),
    )
    decided = redecide(WASTE, RoutingTable.build(suspended), LINKED, NOW)
    assert isinstance(decided, AuditEntry) and decided.outcome is Outcome.WITHHELD
