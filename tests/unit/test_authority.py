"""Who may say what: `authorise` (pure) and its declarations in systems.yaml (config check)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from hub.config.loader import load_config
from hub.config.model import HubConfig
from hub.errors import ConfigError
from hub.events.envelope import Envelope, Event
from hub.events.schemas import SchemaRegistry
from hub.policy.authority import AuthorityCode, authorise

ASC_PURPOSE = "Keep care and support records current"  # DSA-004
WASTE_PURPOSE = (
    "Keep waste collection rounds, assisted collections and bin registrations at the right property"
)


def event(type_: str, data: dict[str, Any], source: str = "council-tax") -> Event:
    return Event(
        envelope=Envelope(
            id="e-1",
            source=source,
            type=type_,
            subject="P-1",
            time=datetime(2026, 11, 19, tzinfo=UTC),
        ),
        data=data,
    )


def death(source: str) -> Event:
    return event("death.notified", {"date_of_death": date(2026, 11, 18)}, source)


def consent(source: str, action: str = "granted", purpose: str = ASC_PURPOSE, **kw: Any) -> Event:
    at = datetime(2026, 11, 1, tzinfo=UTC)
    return event(
        "consent.changed",
        {"action": action, "purpose": purpose, "recipient": None, "effective_at": at, **kw},
        source,
    )


def link(source: str, system: str) -> Event:
    return event("person.linked", {"system": system, "local_id": "X-1"}, source)


def code(e: Event, config: HubConfig) -> AuthorityCode | None:
    verdict = authorise(e, e.envelope.source, config)
    assert verdict.allowed is (verdict.code is None)
    assert verdict.message
    return verdict.code


def test_only_the_registrar_may_notify_a_death(config: HubConfig) -> None:
    assert code(death("registrar"), config) is None
    for source in ("council-tax", "customer-index"):
        assert code(death(source), config) is AuthorityCode.NO_DEATH_AUTHORITY


def test_consent_only_from_a_system_with_authority_for_that_agreements_purpose(
    config: HubConfig,
) -> None:
    assert code(consent("council-tax"), config) is None
    assert code(consent("council-tax", "withdrawn"), config) is None
    assert code(consent("registrar"), config) is AuthorityCode.NO_CONSENT_AUTHORITY
    # council-tax may record consent for DSA-004 only, not for DSA-001's purpose
    assert code(consent("council-tax", purpose=WASTE_PURPOSE), config) is (
        AuthorityCode.NO_CONSENT_AUTHORITY
    )
    # a purpose written differently (case, spaces) is the same purpose
    assert (
        code(consent("council-tax", purpose="  keep CARE and support records current"), config)
        is None
    )
    # ... but naming a recipient outside the agreement is not covered by it
    assert code(consent("council-tax", recipient="waste"), config) is (
        AuthorityCode.NO_CONSENT_AUTHORITY
    )
    assert code(consent("council-tax", recipient="adult-social-care"), config) is None


def test_an_objection_needs_objection_authority(config: HubConfig) -> None:
    assert code(consent("council-tax", "objection"), config) is None
    assert code(consent("registrar", "objection"), config) is AuthorityCode.NO_OBJECTION_AUTHORITY


def test_all_lets_a_system_record_consent_for_any_purpose(config: HubConfig) -> None:
    systems = tuple(
        s.model_copy(update={"authority": s.authority.model_copy(update={"consent": "all"})})
        if s.id == "registrar"
        else s
        for s in config.systems
    )
    wide = config.model_copy(update={"systems": systems})
    assert code(consent("registrar", purpose="anything at all"), wide) is None
    assert code(consent("registrar", "objection"), wide) is AuthorityCode.NO_OBJECTION_AUTHORITY


def test_links_own_records_or_any_for_an_identity_provider(config: HubConfig) -> None:
    assert code(link("council-tax", "council-tax"), config) is None
    assert code(link("council-tax", "waste"), config) is AuthorityCode.LINK_NOT_OWN_RECORD
    assert code(link("customer-index", "waste"), config) is None
    assert code(link("customer-index", "nowhere"), config) is AuthorityCode.LINK_UNKNOWN_SYSTEM


def test_a_listed_system_may_be_linked_too(config: HubConfig) -> None:
    systems = tuple(
        s.model_copy(update={"authority": s.authority.model_copy(update={"link": ("waste",)})})
        if s.id == "council-tax"
        else s
        for s in config.systems
    )
    listed = config.model_copy(update={"systems": systems})
    assert code(link("council-tax", "waste"), listed) is None
    assert code(link("council-tax", "parking"), listed) is AuthorityCode.LINK_NOT_OWN_RECORD


def test_other_events_need_no_authority_and_unknown_sources_have_none(config: HubConfig) -> None:
    move = event("address.changed", {}, "council-tax")
    assert code(move, config) is None
    assert code(death("nobody"), config) is AuthorityCode.UNKNOWN_SOURCE


# --- declarations in systems.yaml (hub config check) ------------------------------------------


def edit(config_dir: Path, old: str, new: str) -> None:
    file = config_dir / "systems.yaml"
    text = file.read_text()
    assert text.count(old) == 1, old
    file.write_text(text.replace(old, new))


def problems_of(config_dir: Path, registry: SchemaRegistry) -> list[tuple[str, str]]:
    with pytest.raises(ConfigError) as info:
        load_config(config_dir, registry)
    return [(p.location.split(" ", 1)[1], p.rule) for p in info.value.problems]


def test_unknown_agreements_and_systems_in_authority_are_problems_with_their_line(
    config_copy: Path, registry: SchemaRegistry
) -> None:
    edit(
        config_copy,
        "authority: {consent: [DSA-004], objection: [DSA-004]}",
        "authority: {consent: [DSA-004, DSA-404], objection: all, link: [waste, nowhere]}",
    )
    assert problems_of(config_copy, registry) == [
        ("(systems.0.authority.consent.1)", "known_agreement"),
        ("(systems.0.authority.link.1)", "known_system"),
    ]
    with pytest.raises(ConfigError) as info:
        load_config(config_copy, registry)
    assert "systems.yaml:17" in info.value.problems[0].location
    assert "DSA-404" in info.value.problems[0].message


def test_a_death_provider_without_death_authority_is_a_problem(
    config_copy: Path, registry: SchemaRegistry
) -> None:
    edit(config_copy, "authority: {death: true}", "authority: {}")
    assert problems_of(config_copy, registry) == [
        ("(systems.1.authority)", "death_authority"),
        ("(systems.1.authority)", "death_authority"),  # DSA-005 and DSA-006
    ]


def test_authority_on_a_system_that_is_not_a_source_is_a_problem(
    config_copy: Path, registry: SchemaRegistry
) -> None:
    edit(
        config_copy,
        "    subscriptions: [address.changed, death.notified]\n  - id: libraries",
        "    subscriptions: [address.changed, death.notified]\n"
        "    authority: {death: true}\n  - id: libraries",
    )
    assert problems_of(config_copy, registry) == [("(systems.2.authority)", "source_role")]


def test_a_misspelt_authority_key_is_refused(config_copy: Path, registry: SchemaRegistry) -> None:
    edit(config_copy, "authority: {death: true}", "authority: {deaths: true}")
    found = problems_of(config_copy, registry)
    assert found == [("(systems.1.authority.deaths)", "extra_forbidden")]
