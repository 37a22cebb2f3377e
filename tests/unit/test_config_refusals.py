"""A broken configuration edit, any kind, is refused whole with file, line, field and words a
person can act on; an impossible date is one of those problems, never a crash (issue 13)."""

from __future__ import annotations

from pathlib import Path

import pytest

from hub.config.loader import load_config
from hub.config.watch import ConfigWatcher, refusal_lines
from hub.errors import ConfigError, Problem
from hub.events.schemas import SchemaRegistry

DSA1 = "agreements/DSA-001-waste-address.yaml"
LIBRARY_WORDS = ("Input should", "Input tag", "Extra inputs", "not permitted", "unicode string",
                 "does not match", "isoformat", "^[")  # fmt: skip


def edit(config_dir: Path, name: str, old: str, new: str) -> None:
    file = config_dir / name
    text = file.read_text()
    assert text.count(old) == 1, f"{old!r} not found exactly once in {name}"
    file.write_text(text.replace(old, new))


def only_problem(config_dir: Path, registry: SchemaRegistry) -> Problem:
    with pytest.raises(ConfigError) as info:
        load_config(config_dir, registry)
    assert len(info.value.problems) == 1, info.value.problems
    problem = info.value.problems[0]
    for words in LIBRARY_WORDS:
        assert words not in problem.message, problem
    return problem


@pytest.mark.parametrize(
    ("day", "why"),
    [("2028-13-31", "month must be 1 to 12"), ("2028-02-30", "that month has no such day")],
)
def test_an_impossible_date_is_a_problem_with_file_line_and_field(
    config_copy: Path, registry: SchemaRegistry, day: str, why: str
) -> None:
    edit(config_copy, DSA1, "review_by: 2027-06-30", f"review_by: {day}")
    p = only_problem(config_copy, registry)
    assert p.location == f"{config_copy / DSA1}:14 (review_by)"
    assert why in p.message and "YYYY-MM-DD" in p.message


def test_yaml_syntax_says_where_and_what_to_check(
    config_copy: Path, registry: SchemaRegistry
) -> None:
    edit(config_copy, DSA1, "status: active", "status: [active")
    p = only_problem(config_copy, registry)
    assert p.rule == "yaml_syntax"
    assert p.location.startswith(f"{config_copy / DSA1}:")
    assert "not valid YAML" in p.message and "indentation" in p.message


def test_an_unknown_delivery_kind_and_a_misspelt_field_in_plain_words(
    config_copy: Path, registry: SchemaRegistry
) -> None:
    edit(
        config_copy,
        "systems.yaml",
        "    subscriptions: [address.changed, death.notified]\n  - id: libraries",
        "    subscriptions: [address.changed, death.notified]\n    delivery: {kind: filedrop}\n"
        "  - id: libraries",
    )
    p = only_problem(config_copy, registry)
    assert p.message == "'filedrop' is not a known kind: use 'inbox', 'webhook' or 'kafka'"
    assert "(systems.2.delivery" in p.location


def test_the_watcher_refuses_an_impossible_date_and_keeps_the_config_in_force(
    config_copy: Path, registry: SchemaRegistry
) -> None:
    first = load_config(config_copy, registry)
    watcher = ConfigWatcher(config_copy, registry, first, interval_s=0)
    edit(config_copy, DSA1, "review_by: 2027-06-30", "review_by: 2028-02-30")
    assert watcher.reload_if_changed() is False
    assert watcher.current() is first
    assert refusal_lines(watcher) == [
        f"configuration change refused: {config_copy / DSA1}:14 review_by: not a date "
        "(that month has no such day): expected a real date written YYYY-MM-DD (e.g. 2028-12-31)"
    ]


def test_an_unexpected_failure_while_reloading_is_a_refusal_not_a_crash(
    config_copy: Path, registry: SchemaRegistry, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = load_config(config_copy, registry)
    watcher = ConfigWatcher(config_copy, registry, first, interval_s=0)
    edit(config_copy, DSA1, "status: active", "status: suspended")

    def broken(*_: object) -> None:
        raise ValueError("something the loader did not expect")

    monkeypatch.setattr("hub.config.watch.load_config", broken)
    assert watcher.reload_if_changed() is False
    assert watcher.current() is first
    assert watcher.last_error is not None
