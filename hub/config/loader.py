"""Load and cross-check the configuration directory: systems.yaml and agreements/*.yaml."""

from __future__ import annotations

from pathlib import Path

from hub.config.model import Agreement, HubConfig, Role, System, SystemsFile
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
    if problems:
        raise ConfigError(f"invalid configuration in {config_dir}", problems)
    return HubConfig(systems=systems, agreements=tuple(agreements))


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
