"""Load and cross-check the configuration directory: systems.yaml and agreements/*.yaml."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from hub.config.model import Agreement, AgreementStatus, HubConfig, Role, System, SystemsFile
from hub.config.yaml_source import YamlDocument, load_yaml, parse_model
from hub.errors import ConfigError, Problem
from hub.events.schemas import SchemaRegistry


def load_config(config_dir: Path, registry: SchemaRegistry) -> HubConfig:
    """Load every file, then check references across files; all problems are reported at once."""
    systems_doc = load_yaml(config_dir / "systems.yaml")
    systems = parse_model(systems_doc, SystemsFile, systems_doc.data).systems
    problems: list[Problem] = []
    _check_systems(systems_doc, systems, registry, problems)

    agreement_dir = config_dir / "agreements"
    agreements: list[Agreement] = []
    docs: list[YamlDocument] = []
    for file in sorted(agreement_dir.glob("*.y*ml")) if agreement_dir.is_dir() else []:
        try:
            doc = load_yaml(file)
            agreements.append(parse_model(doc, Agreement, doc.data))
            docs.append(doc)
        except ConfigError as exc:
            problems.extend(exc.problems)
    by_id = {s.id: s for s in systems}
    seen: dict[str, Path] = {}
    for doc, agreement in zip(docs, agreements, strict=True):
        if agreement.id in seen:
            problems.append(
                doc.problem(("id",), "unique_id", f"agreement id also used in {seen[agreement.id]}")
            )
        seen[agreement.id] = doc.file
        _check_parties(doc, "providers", agreement.providers, Role.SOURCE, by_id, problems)
        _check_parties(doc, "recipients", agreement.recipients, Role.RECIPIENT, by_id, problems)
        for event_type, fields in agreement.shares.items():
            if event_type not in registry.event_types:
                problems.append(
                    doc.problem(
                        ("shares", event_type),
                        "known_event_type",
                        f"unknown event type {event_type!r}",
                    )
                )
                continue
            known = registry.latest(event_type).field_paths()
            for i, field in enumerate(fields):
                if field not in known:
                    problems.append(
                        doc.problem(
                            ("shares", event_type, i),
                            "known_field",
                            f"{event_type} has no field {field!r}",
                        )
                    )
        _check_notify_to_match(doc, agreement, registry, problems)
    problems.extend(contradictions(list(zip(docs, agreements, strict=True))))
    problems.extend(authority_problems(systems_doc, systems, agreements))
    if problems:
        raise ConfigError(f"invalid configuration in {config_dir}", problems)
    return HubConfig(systems=systems, agreements=tuple(agreements))


def _check_notify_to_match(
    doc: YamlDocument, agreement: Agreement, registry: SchemaRegistry, problems: list[Problem]
) -> None:
    for event_type, fields in agreement.notify_to_match.items():
        if event_type not in agreement.shares:
            problems.append(
                doc.problem(
                    ("notify_to_match", event_type),
                    "shared_event_type",
                    f"notify_to_match names {event_type!r}, which the agreement does not share",
                )
            )
            continue
        known = (
            registry.latest(event_type).field_paths()
            if event_type in registry.event_types
            else set()
        )
        for i, field in enumerate(fields):
            if field not in known:
                problems.append(
                    doc.problem(
                        ("notify_to_match", event_type, i),
                        "known_field",
                        f"{event_type} has no field {field!r}",
                    )
                )


def _terms(agreement: Agreement, event_type: str) -> tuple[object, ...]:
    """What two agreements covering the same flow must agree on."""
    return (
        tuple(sorted(agreement.shares[event_type])),
        agreement.consent,
        agreement.after_death,
        tuple(sorted(agreement.notify_to_match.get(event_type, ()))),
    )


def _overlap(a: Agreement, b: Agreement) -> bool:
    a_end = a.valid_until or date.max
    b_end = b.valid_until or date.max
    return a.valid_from <= b_end and b.valid_from <= a_end


def contradictions(agreements: list[tuple[YamlDocument, Agreement]]) -> list[Problem]:
    """Active agreements covering one flow (provider, recipient, event type) at overlapping
    times must say the same thing: the same fields, consent mode, notify-to-match and
    after-death rule. Otherwise which one applies would depend on their ids."""
    problems: list[Problem] = []
    active = [(d, a) for d, a in agreements if a.status is AgreementStatus.ACTIVE]
    for i, (doc_a, a) in enumerate(active):
        for doc_b, b in active[i + 1 :]:
            if a.id == b.id or not _overlap(a, b):
                continue
            for event_type in sorted(set(a.shares) & set(b.shares)):
                shared_flows = sorted(
                    (p, r)
                    for p in set(a.providers) & set(b.providers)
                    for r in set(a.recipients) & set(b.recipients)
                )
                if not shared_flows or _terms(a, event_type) == _terms(b, event_type):
                    continue
                provider, recipient = shared_flows[0]
                for doc, this, other, other_doc in ((doc_a, a, b, doc_b), (doc_b, b, a, doc_a)):
                    problems.append(
                        doc.problem(
                            ("shares", event_type),
                            "no_contradiction",
                            f"{this.id} and {other.id} ({other_doc.file.name}) both cover "
                            f"{provider} -> {recipient} {event_type} at overlapping dates but "
                            "differ in fields, consent, notify_to_match or after_death",
                        )
                    )
    return problems


def _check_systems(
    doc: YamlDocument,
    systems: tuple[System, ...],
    registry: SchemaRegistry,
    problems: list[Problem],
) -> None:
    seen_ids: set[str] = set()
    seen_keys: set[str] = set()
    for i, system in enumerate(systems):
        if system.id in seen_ids:
            problems.append(
                doc.problem(("systems", i, "id"), "unique_id", f"duplicate system id {system.id!r}")
            )
        seen_ids.add(system.id)
        if system.api_key_sha256 in seen_keys:
            problems.append(
                doc.problem(
                    ("systems", i, "api_key_sha256"), "unique_key", "two systems share one API key"
                )
            )
        seen_keys.add(system.api_key_sha256)
        if system.delivery.kind != "inbox" and Role.RECIPIENT not in system.roles:
            problems.append(
                doc.problem(
                    ("systems", i, "delivery", "kind"),
                    "recipient_role",
                    f"a {system.delivery.kind} delivery needs the recipient role",
                )
            )
        for j, event_type in enumerate(system.subscriptions):
            if event_type not in registry.event_types:
                problems.append(
                    doc.problem(
                        ("systems", i, "subscriptions", j),
                        "known_event_type",
                        f"unknown event type {event_type!r}",
                    )
                )


def _check_parties(
    doc: YamlDocument,
    field: str,
    system_ids: tuple[str, ...],
    role: Role,
    by_id: dict[str, System],
    problems: list[Problem],
) -> None:
    """Every system an agreement names must exist and have the role the agreement needs of it."""
    for i, system_id in enumerate(system_ids):
        system = by_id.get(system_id)
        if system is None:
            problems.append(
                doc.problem((field, i), "known_system", f"unknown system {system_id!r}")
            )
        elif role not in system.roles:
            problems.append(
                doc.problem(
                    (field, i), f"{role.value}_role", f"{system_id!r} is not a {role.value}"
                )
            )


def authority_problems(
    doc: YamlDocument, systems: tuple[System, ...], agreements: list[Agreement]
) -> list[Problem]:
    """Every `authority:` declaration must name known agreements and systems, belong to a
    source system, and every source an agreement takes deaths from must have death authority."""
    problems: list[Problem] = []
    known_agreements = {a.id for a in agreements}
    known_systems = {s.id for s in systems}
    for i, system in enumerate(systems):
        auth = system.authority
        declared = (
            auth.death
            or auth.consent == "all"
            or bool(auth.consent)
            or auth.objection == "all"
            or bool(auth.objection)
            or auth.link != "own"
        )
        if declared and Role.SOURCE not in system.roles:
            problems.append(
                doc.problem(
                    ("systems", i, "authority"),
                    "source_role",
                    f"{system.id!r} declares authority but is not a source: only a source "
                    "system publishes facts",
                )
            )
        for key, ids in (("consent", auth.consent), ("objection", auth.objection)):
            if ids == "all":
                continue
            for j, agreement_id in enumerate(ids):
                if agreement_id not in known_agreements:
                    problems.append(
                        doc.problem(
                            ("systems", i, "authority", key, j),
                            "known_agreement",
                            f"unknown agreement {agreement_id!r} (not in agreements/)",
                        )
                    )
        if auth.link not in ("own", "any"):
            for j, system_id in enumerate(auth.link):
                if system_id not in known_systems:
                    problems.append(
                        doc.problem(
                            ("systems", i, "authority", "link", j),
                            "known_system",
                            f"unknown system {system_id!r}",
                        )
                    )
    by_id = {s.id: s for s in systems}
    for agreement in agreements:
        if "death.notified" not in agreement.shares:
            continue
        for provider in agreement.providers:
            giver = by_id.get(provider)
            if giver is not None and not giver.authority.death:
                i = systems.index(giver)
                problems.append(
                    doc.problem(
                        ("systems", i, "authority"),
                        "death_authority",
                        f"{provider!r} provides death.notified under {agreement.id} but has no "
                        "`authority: {death: true}`: its deaths would all be rejected",
                    )
                )
    return problems
