"""`hub agreements check` problems beyond the schema: contradictions, notify-to-match, Art. 9,
review flags, and the atomic reload of the directory."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from hub.config.loader import load_config
from hub.config.review import ReviewFlag, review_flags
from hub.config.watch import ConfigWatcher
from hub.errors import ConfigError, Problem
from hub.events.schemas import SchemaRegistry

DSA1 = "agreements/DSA-001-waste-address.yaml"
DSA2 = "agreements/DSA-002-electoral-address.yaml"


def problems(config_dir: Path, registry: SchemaRegistry) -> list[Problem]:
    with pytest.raises(ConfigError) as exc:
        load_config(config_dir, registry)
    return exc.value.problems


def second_waste_agreement(
    config_dir: Path, fields: str, valid_from: str = "2026-06-01", valid_until: str = "2028-12-31"
) -> None:
    text = (config_dir / DSA1).read_text()
    text = text.replace("id: DSA-001", "id: DSA-101").replace(
        "[new_address, effective_date]", fields
    )
    text = text.replace("valid_from: 2026-01-01", f"valid_from: {valid_from}")
    text = text.replace("valid_until: 2028-12-31", f"valid_until: {valid_until}")
    (config_dir / "agreements" / "DSA-101.yaml").write_text(text)


def test_two_active_agreements_saying_different_things_about_one_flow_are_refused(
    config_copy: Path, registry: SchemaRegistry
) -> None:
    second_waste_agreement(config_copy, "[new_address.postcode, effective_date]")
    found = problems(config_copy, registry)
    assert {p.rule for p in found} == {"no_contradiction"}
    where = sorted(p.location.split(":")[0].rsplit("/", 1)[1] for p in found)
    assert where == ["DSA-001-waste-address.yaml", "DSA-101.yaml"]  # both files are named
    assert "council-tax -> waste address.changed" in found[0].message


def test_agreements_for_one_flow_that_agree_or_do_not_overlap_in_time_are_fine(
    config_copy: Path, registry: SchemaRegistry
) -> None:
    second_waste_agreement(config_copy, "[new_address, effective_date]")
    assert len(load_config(config_copy, registry).agreements) == 7
    second_waste_agreement(
        config_copy, "[new_address.uprn]", valid_from="2029-01-01", valid_until="2030-12-31"
    )
    assert len(load_config(config_copy, registry).agreements) == 7


def test_a_draft_next_version_does_not_contradict_the_active_one(
    config_copy: Path, registry: SchemaRegistry
) -> None:
    second_waste_agreement(config_copy, "[new_address.postcode]")
    path = config_copy / "agreements" / "DSA-101.yaml"
    path.write_text(path.read_text().replace("status: active", "status: draft"))
    assert len(load_config(config_copy, registry).agreements) == 7


def test_notify_to_match_fields_must_exist_and_be_for_a_shared_type(
    config_copy: Path, registry: SchemaRegistry
) -> None:
    path = config_copy / DSA2
    path.write_text(
        path.read_text().replace(
            "address.changed: [new_address, effective_date]\n",
            "address.changed: [new_address, shoe_size]\n  death.notified: [date_of_death]\n",
        )
    )
    found = {(p.rule, p.location.rsplit("(", 1)[1]) for p in problems(config_copy, registry)}
    assert found == {
        ("known_field", "notify_to_match.address.changed.1)"),
        ("shared_event_type", "notify_to_match.death.notified)"),
    }


def test_special_category_data_needs_an_article_9_condition(
    config_copy: Path, registry: SchemaRegistry
) -> None:
    path = config_copy / DSA1
    path.write_text(path.read_text() + "special_category: true\n")
    [p] = problems(config_copy, registry)
    assert "article9_condition" in p.message and "DSA-001" in p.location


def test_review_by_and_retention_are_required(config_copy: Path, registry: SchemaRegistry) -> None:
    path = config_copy / DSA1
    text = "\n".join(
        line
        for line in path.read_text().splitlines()
        if not line.startswith(("review_by", "recipient_retention"))
    )
    path.write_text(text + "\n")
    found = {p.location.rsplit("(", 1)[1].rstrip(")") for p in problems(config_copy, registry)}
    assert found == {"review_by", "recipient_retention"}


@pytest.mark.parametrize(
    ("today", "flags"),
    [
        (date(2026, 6, 1), ()),
        (date(2027, 7, 1), (ReviewFlag.PAST_REVIEW,)),
        (date(2028, 12, 15), (ReviewFlag.EXPIRING_SOON, ReviewFlag.PAST_REVIEW)),
        (date(2029, 1, 1), (ReviewFlag.EXPIRED, ReviewFlag.PAST_REVIEW)),
        (date(2025, 12, 31), (ReviewFlag.NOT_YET_VALID,)),
    ],
)
def test_review_flags(
    config_copy: Path, registry: SchemaRegistry, today: date, flags: tuple[ReviewFlag, ...]
) -> None:
    dsa1 = next(a for a in load_config(config_copy, registry).agreements if a.id == "DSA-001")
    assert review_flags(dsa1, today) == flags


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_the_watcher_applies_a_valid_edit_and_keeps_the_old_config_on_a_broken_one(
    config_copy: Path, registry: SchemaRegistry
) -> None:
    clock = Clock()
    first = load_config(config_copy, registry)
    watcher = ConfigWatcher(config_copy, registry, first, interval_s=5, clock=clock)
    assert watcher.current() is first

    path = config_copy / DSA1
    path.write_text(path.read_text().replace("status: active", "status: suspended"))
    assert watcher.current() is first  # not re-checked before the interval
    clock.now = 5
    suspended = watcher.current()
    assert suspended is not first
    assert next(a for a in suspended.agreements if a.id == "DSA-001").status.value == "suspended"

    # a half-written edit: one file broken. Nothing of it applies, not even the valid parts.
    (config_copy / DSA2).write_text("id: DSA-002\ntitle: [unclosed\n")
    path.write_text(path.read_text().replace("status: suspended", "status: active"))
    clock.now = 10
    assert watcher.current() is suspended
    assert watcher.last_error is not None

    # fixed: the whole new state applies at the next check
    (config_copy / DSA2).write_text(
        (Path(__file__).resolve().parents[2] / "config" / DSA2).read_text()
    )
    clock.now = 15
    fixed = watcher.current()
    assert next(a for a in fixed.agreements if a.id == "DSA-001").status.value == "active"
    assert watcher.generation == 2 and watcher.last_error is None
