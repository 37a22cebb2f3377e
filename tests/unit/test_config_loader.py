"""load_config: the sample loads; broken files give problems naming file, line and field."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from hub.config.loader import load_config
from hub.config.model import Agreement, AgreementStatus, ConsentMode, HubConfig, Role
from hub.errors import ConfigError, Problem
from hub.events.schemas import SchemaRegistry

DSA1 = "agreements/DSA-001-waste-address.yaml"
DSA2 = "agreements/DSA-002-electoral-address.yaml"
DSA3 = "agreements/DSA-003-parking-address.yaml"
DSA5 = "agreements/DSA-005-death-notification.yaml"


def edit(config_dir: Path, name: str, old: str, new: str) -> None:
    file = config_dir / name
    text = file.read_text()
    assert text.count(old) == 1, f"{old!r} not found exactly once in {name}"
    file.write_text(text.replace(old, new))


def problems(config_dir: Path, registry: SchemaRegistry) -> list[Problem]:
    with pytest.raises(ConfigError) as info:
        load_config(config_dir, registry)
    assert info.value.problems
    return info.value.problems


def only_problem(config_dir: Path, registry: SchemaRegistry) -> Problem:
    found = problems(config_dir, registry)
    assert len(found) == 1, found
    return found[0]


def at(config_dir: Path, name: str, line: int, field: str) -> str:
    return f"{config_dir / name}:{line} ({field})"


# --- the shipped sample -----------------------------------------------------------------------


def test_the_sample_configuration_loads(config: HubConfig) -> None:
    assert len(config.systems) == 9
    assert len(config.agreements) == 6
    assert [a.id for a in config.agreements] == [f"DSA-00{i}" for i in range(1, 7)]
    assert {s.id for s in config.recipients} == {
        "waste",
        "libraries",
        "parking",
        "adult-social-care",
        "electoral",
    }
    assert {s.id for s in config.subscribers("death.notified")} == {s.id for s in config.recipients}
    assert config.system("council-tax") is not None
    assert config.system("council-tax").roles == frozenset({Role.SOURCE})
    assert config.system("nobody") is None


def test_sample_agreement_values_are_parsed(config: HubConfig) -> None:
    dsa4 = next(a for a in config.agreements if a.id == "DSA-004")
    assert dsa4.consent is ConsentMode.REQUIRED
    assert dsa4.status is AgreementStatus.ACTIVE
    assert dsa4.valid_from == date(2026, 1, 1)
    assert dsa4.valid_until == date(2028, 12, 31)
    assert dsa4.shares == {"address.changed": ("new_address", "effective_date")}
    assert dsa4.recipients == ("adult-social-care",)


def test_an_unedited_copy_loads_the_same(config_copy: Path, registry: SchemaRegistry) -> None:
    assert load_config(config_copy, registry) == load_config(config_copy, registry)


def test_yml_extension_is_loaded_too(config_copy: Path, registry: SchemaRegistry) -> None:
    (config_copy / DSA1).rename(config_copy / "agreements" / "DSA-001.yml")
    assert len(load_config(config_copy, registry).agreements) == 6


def test_no_agreements_directory_means_no_agreements(
    config_copy: Path, registry: SchemaRegistry
) -> None:
    for file in (config_copy / "agreements").iterdir():
        file.unlink()
    (config_copy / "agreements").rmdir()
    edit(
        config_copy,
        "systems.yaml",
        "    authority: {consent: [DSA-004], objection: [DSA-004]}\n",
        "",
    )
    edit(config_copy, "systems.yaml", "    authority: {death: true}\n", "")
    assert load_config(config_copy, registry).agreements == ()


# --- agreement problems -----------------------------------------------------------------------


def test_unknown_shared_field_names_file_line_and_field(
    config_copy: Path, registry: SchemaRegistry
) -> None:
    edit(config_copy, DSA1, "[new_address, effective_date]", "[new_address, new_address.colour]")
    p = only_problem(config_copy, registry)
    assert p.location == at(config_copy, DSA1, 6, "shares.address.changed.1")
    assert p.rule == "known_field"
    assert "new_address.colour" in p.message


def test_unknown_shared_field_in_a_block_list_points_at_its_own_line(
    config_copy: Path, registry: SchemaRegistry
) -> None:
    edit(
        config_copy,
        DSA1,
        "  address.changed: [new_address, effective_date]\n",
        "  address.changed:\n    - new_address\n    - new_address.colour\n    - effective_date\n",
    )
    p = only_problem(config_copy, registry)
    assert p.location == at(config_copy, DSA1, 8, "shares.address.changed.1")


def test_unknown_recipient_system(config_copy: Path, registry: SchemaRegistry) -> None:
    edit(config_copy, DSA3, "recipients: [parking]", "recipients: [parking, bin-men]")
    p = only_problem(config_copy, registry)
    assert p.location == at(config_copy, DSA3, 4, "recipients.1")
    assert p.rule == "known_system"
    assert "bin-men" in p.message


def test_recipient_without_the_recipient_role(config_copy: Path, registry: SchemaRegistry) -> None:
    edit(config_copy, DSA1, "recipients: [waste]", "recipients: [council-tax]")
    p = only_problem(config_copy, registry)
    assert p.location == at(config_copy, DSA1, 4, "recipients.0")
    assert p.rule == "recipient_role"


def test_provider_must_be_a_known_source(config_copy: Path, registry: SchemaRegistry) -> None:
    edit(config_copy, DSA1, "providers: [council-tax]", "providers: [waste, nobody]")
    found = {p.location: p.rule for p in problems(config_copy, registry)}
    assert found == {
        at(config_copy, DSA1, 3, "providers.0"): "source_role",
        at(config_copy, DSA1, 3, "providers.1"): "known_system",
    }


def test_missing_lawful_basis_points_at_the_parent_mapping(
    config_copy: Path, registry: SchemaRegistry
) -> None:
    edit(
        config_copy,
        DSA1,
        'lawful_basis: "UK GDPR Art. 6(1)(e) public task'
        ' (Environmental Protection Act 1990 s.45)"\n',
        "",
    )
    p = only_problem(config_copy, registry)
    assert p.location == at(config_copy, DSA1, 1, "lawful_basis")
    assert p.rule == "missing"


def test_wrong_value_points_at_its_line(config_copy: Path, registry: SchemaRegistry) -> None:
    edit(config_copy, DSA2, "status: active", "status: approved")
    p = only_problem(config_copy, registry)
    assert p.location == at(config_copy, DSA2, 12, "status")
    assert p.rule == "enum"


def test_unknown_top_level_key_is_rejected(config_copy: Path, registry: SchemaRegistry) -> None:
    edit(config_copy, DSA2, "consent: none\n", "consent: none\nretention: 6 years\n")
    p = only_problem(config_copy, registry)
    assert p.location == at(config_copy, DSA2, 10, "retention")
    assert p.rule == "extra_forbidden"


def test_unknown_event_type_in_shares(config_copy: Path, registry: SchemaRegistry) -> None:
    edit(config_copy, DSA5, "  death.notified: [date_of_death]", "  pet.adopted: [date_of_death]")
    p = only_problem(config_copy, registry)
    assert p.location == at(config_copy, DSA5, 6, "shares.pet.adopted")
    assert p.rule == "known_event_type"


def test_invalid_yaml_names_the_line_of_the_error(
    config_copy: Path, registry: SchemaRegistry
) -> None:
    edit(
        config_copy,
        DSA2,
        "title: Change of address for the electoral register\n",
        "title: Change of address for the electoral register\n  oops: 1\n",
    )
    p = only_problem(config_copy, registry)
    assert p.location == f"{config_copy / DSA2}:3"
    assert p.rule == "yaml_syntax"


def test_valid_until_before_valid_from_is_rejected(
    config_copy: Path, registry: SchemaRegistry
) -> None:
    edit(config_copy, DSA1, "valid_until: 2028-12-31", "valid_until: 2025-12-31")
    p = only_problem(config_copy, registry)
    assert p.location.startswith(f"{config_copy / DSA1}:")
    assert "valid_until is before valid_from" in p.message


def test_valid_until_before_valid_from_names_the_line_and_field(
    config_copy: Path, registry: SchemaRegistry
) -> None:
    edit(config_copy, DSA1, "valid_until: 2028-12-31", "valid_until: 2025-12-31")
    p = only_problem(config_copy, registry)
    assert p.location == at(config_copy, DSA1, 11, "valid_until")


def test_duplicate_agreement_id(config_copy: Path, registry: SchemaRegistry) -> None:
    edit(config_copy, DSA2, "id: DSA-002", "id: DSA-001")
    p = only_problem(config_copy, registry)
    assert p.location == at(config_copy, DSA2, 1, "id")
    assert p.rule == "unique_id"
    assert "DSA-001-waste-address.yaml" in p.message


def test_every_problem_across_files_is_reported_at_once(
    config_copy: Path, registry: SchemaRegistry
) -> None:
    edit(config_copy, DSA1, "recipients: [waste]", "recipients: [nobody]")
    edit(config_copy, DSA2, "status: active", "status: approved")
    edit(
        config_copy,
        "systems.yaml",
        "subscriptions: [address.changed, death.notified]\n  - id: libraries",
        "subscriptions: [pet.adopted, death.notified]\n  - id: libraries",
    )
    found = {p.location for p in problems(config_copy, registry)}
    assert found == {
        at(config_copy, DSA1, 4, "recipients.0"),
        at(config_copy, DSA2, 12, "status"),
        at(config_copy, "systems.yaml", 27, "systems.2.subscriptions.0"),
    }


def test_a_yaml_error_does_not_hide_problems_in_other_files(
    config_copy: Path, registry: SchemaRegistry
) -> None:
    edit(config_copy, DSA1, "recipients: [waste]", "recipients: [nobody]")
    edit(config_copy, DSA2, "status: active", "status: [active")
    rules = {p.rule for p in problems(config_copy, registry)}
    assert rules == {"known_system", "yaml_syntax"}


def test_duplicate_key_in_an_agreement_is_rejected(
    config_copy: Path, registry: SchemaRegistry
) -> None:
    edit(config_copy, DSA1, "status: active\n", "status: draft\nstatus: active\n")
    p = only_problem(config_copy, registry)
    assert f"{config_copy / DSA1}:13" in p.location


# --- systems.yaml problems --------------------------------------------------------------------


def test_duplicate_system_id(config_copy: Path, registry: SchemaRegistry) -> None:
    edit(config_copy, "systems.yaml", "- id: libraries", "- id: waste")
    found = [p for p in problems(config_copy, registry) if p.rule == "unique_id"]
    assert [p.location for p in found] == [at(config_copy, "systems.yaml", 28, "systems.3.id")]
    assert "'waste'" in found[0].message


def test_two_systems_with_one_api_key(config_copy: Path, registry: SchemaRegistry) -> None:
    edit(
        config_copy,
        "systems.yaml",
        "163fb651609df7f49f7d8e339f7f5f7c6f9623d30a87d5089053ebb62ba86c3e",
        "b1d38ec11f10233453a0082e1ba80bb4a2506bc3cb05e2e1f38c55fed27dd970",
    )
    p = only_problem(config_copy, registry)
    assert p.location == at(config_copy, "systems.yaml", 31, "systems.3.api_key_sha256")
    assert p.rule == "unique_key"


def test_unknown_event_type_in_subscriptions(config_copy: Path, registry: SchemaRegistry) -> None:
    edit(
        config_copy,
        "systems.yaml",
        "subscriptions: [address.changed, death.notified]\n  - id: parking",
        "subscriptions: [address.changed, pet.adopted]\n  - id: parking",
    )
    p = only_problem(config_copy, registry)
    assert p.location == at(config_copy, "systems.yaml", 32, "systems.3.subscriptions.1")
    assert p.rule == "known_event_type"


def test_missing_system_field_points_at_the_system_entry(
    config_copy: Path, registry: SchemaRegistry
) -> None:
    edit(config_copy, "systems.yaml", "    name: Waste and Recycling\n", "")
    p = only_problem(config_copy, registry)
    assert p.location == at(config_copy, "systems.yaml", 23, "systems.2.name")
    assert p.rule == "missing"


def test_source_only_system_cannot_subscribe(config_copy: Path, registry: SchemaRegistry) -> None:
    edit(
        config_copy,
        "systems.yaml",
        "    roles: [source]\n    api_key_sha256: d5f8",
        "    roles: [source]\n    subscriptions: [death.notified]\n    api_key_sha256: d5f8",
    )
    p = only_problem(config_copy, registry)
    assert p.location == at(config_copy, "systems.yaml", 13, "systems.0")
    assert "recipient role" in p.message


def test_bad_api_key_hash(config_copy: Path, registry: SchemaRegistry) -> None:
    edit(
        config_copy,
        "systems.yaml",
        "d5f84b363974858e0b75f13d1e3ba6fe7ed9206f52fb427c835557ec2019ff39",
        "demo-council-tax-key",
    )
    p = only_problem(config_copy, registry)
    assert p.location == at(config_copy, "systems.yaml", 16, "systems.0.api_key_sha256")


def test_missing_systems_file(config_copy: Path, registry: SchemaRegistry) -> None:
    (config_copy / "systems.yaml").unlink()
    p = only_problem(config_copy, registry)
    assert p.location.endswith("systems.yaml")
    assert p.rule == "readable"


def test_problem_text_reads_location_message_and_rule(
    config_copy: Path, registry: SchemaRegistry
) -> None:
    edit(config_copy, DSA3, "recipients: [parking]", "recipients: [bin-men]")
    with pytest.raises(ConfigError) as info:
        load_config(config_copy, registry)
    text = str(info.value)
    assert f"{config_copy / DSA3}:4 (recipients.0)" in text
    assert "[known_system]" in text
    assert info.value.code == "config_invalid"


# --- Agreement.version ------------------------------------------------------------------------


def _dsa1(config: HubConfig) -> Agreement:
    return next(a for a in config.agreements if a.id == "DSA-001")


def test_agreement_version_is_stable(
    config: HubConfig, config_copy: Path, registry: SchemaRegistry
) -> None:
    reloaded = _dsa1(load_config(config_copy, registry))
    assert reloaded.version == _dsa1(config).version
    assert len(reloaded.version) == 12
    assert Agreement.model_validate(reloaded.model_dump()).version == reloaded.version


def test_agreement_version_ignores_yaml_formatting(
    config_copy: Path, registry: SchemaRegistry
) -> None:
    before = _dsa1(load_config(config_copy, registry)).version
    edit(config_copy, DSA1, "recipients: [waste]", "recipients:\n  - waste   # bins\n")
    assert _dsa1(load_config(config_copy, registry)).version == before


@pytest.mark.parametrize(
    "change",
    [
        {"title": "Another title"},
        {"recipients": ("waste", "libraries")},
        {"shares": {"address.changed": ("new_address",)}},
        {"purpose": "Another purpose"},
        {"lawful_basis": "UK GDPR Art. 6(1)(a) consent"},
        {"consent": ConsentMode.OPT_OUT},
        {"valid_from": date(2026, 1, 2)},
        {"valid_until": None},
        {"status": AgreementStatus.SUSPENDED},
        {"data_owner": "Someone else"},
    ],
    ids=lambda c: next(iter(c)),
)
def test_agreement_version_changes_with_any_field(
    config: HubConfig, change: dict[str, object]
) -> None:
    original = _dsa1(config)
    changed = Agreement.model_validate({**original.model_dump(), **change})
    assert changed.version != original.version


def test_agreement_version_changes_when_the_file_is_edited(
    config_copy: Path, registry: SchemaRegistry
) -> None:
    before = _dsa1(load_config(config_copy, registry)).version
    edit(config_copy, DSA1, "valid_until: 2028-12-31", "valid_until: 2029-03-31")
    assert _dsa1(load_config(config_copy, registry)).version != before


def test_empty_field_list_is_rejected(config_copy: Path, registry: SchemaRegistry) -> None:
    edit(config_copy, DSA1, "[new_address, effective_date]", "[]")
    p = only_problem(config_copy, registry)
    assert "no fields listed for address.changed" in p.message


def test_agreement_version_does_not_depend_on_key_order(config: HubConfig) -> None:
    base = _dsa1(config).model_dump()
    one = {"address.changed": ("new_address",), "death.notified": ("date_of_death",)}
    two = {"death.notified": ("date_of_death",), "address.changed": ("new_address",)}
    first = Agreement.model_validate({**base, "shares": one})
    second = Agreement.model_validate({**base, "shares": two})
    assert list(first.shares) != list(second.shares)
    assert first.version == second.version
