"""Which names of a request the configuration does not know, and how that is said
(hub.audit.search_names, hub.unknown_names): pure, no database."""

from __future__ import annotations

import pytest

from hub.audit.queries import PersonRef, TransferQuery
from hub.audit.search_names import (
    SearchNames,
    name_problem,
    names_anything,
    not_configured,
    person_problem,
)
from hub.errors import Problem
from hub.unknown_names import REJECTED_NONE, SOURCE, UnknownName, refuse_unknown

NAMES = SearchNames(
    recipients=frozenset({"waste", "parking"}),
    sources=frozenset({"council-tax"}),
    agreements=frozenset({"DSA-001"}),
    event_types=frozenset({"address.changed"}),
)


def test_only_the_names_the_configuration_lacks_are_looked_for() -> None:
    q = TransferQuery(
        recipient="waste", source="council-tx", agreement_id="DSA-001", event_type="moved"
    )
    assert [(n.filter.field, n.filter.column, n.value) for n in not_configured(q, NAMES)] == [
        ("source", "source", "council-tx"),
        ("event_type", "event_type", "moved"),
    ]
    assert not_configured(TransferQuery(recipient="parking", outcome="failed"), NAMES) == []
    # an empty parameter (a blank form field) names nothing
    assert not_configured(TransferQuery(recipient="", agreement_id=""), NAMES) == []
    assert not names_anything(TransferQuery(recipient="", outcome="withheld"))
    assert names_anything(TransferQuery(agreement_id="DSA-9"))


def test_the_problem_names_the_field_the_value_and_the_choices() -> None:
    (typo,) = not_configured(TransferQuery(recipient="wastee"), NAMES)
    p = name_problem(typo, NAMES)
    assert (p.location, p.rule) == ("recipient", "unknown")
    assert p.message == (
        "'wastee' is not a receiving system in the configuration, and no transfer in the audit "
        "trail went to it: use one of parking, waste"
    )
    (agreement,) = not_configured(TransferQuery(agreement_id="DSA-9"), NAMES)
    none = SearchNames(frozenset(), frozenset(), frozenset(), frozenset())
    assert name_problem(agreement, none).message == (
        "'DSA-9' is not an agreement in the configuration, and no transfer in the audit trail "
        "was made under it"
    )


def test_a_person_never_seen_is_named_as_they_were_asked_for() -> None:
    by_hub_id = person_problem(PersonRef(hub_id="P-1"))
    assert by_hub_id.location == "hub_id" and "never seen person 'P-1'" in by_hub_id.message
    by_record = person_problem(PersonRef(local_id="W-9", system="waste"))
    assert by_record.location == "local_id"
    assert by_record.message == (
        "no person is linked to waste's record 'W-9', and no transfer carries that id; "
        "check the id and the system"
    )
    anywhere = person_problem(PersonRef(local_id="W-9")).message
    assert anywhere.startswith("no person is linked to any system's record 'W-9'")
    assert anywhere.endswith("check the id")


def test_a_name_is_looked_for_in_the_data_only_when_the_configuration_lacks_it() -> None:
    looked: list[str] = []

    def seen(name: str) -> bool:
        looked.append(name)
        return name == "retired-feed"

    def refuse(value: str | None) -> None:
        refuse_unknown("source", value, SOURCE, REJECTED_NONE, lambda: ["registrar"], seen)

    refuse(None)
    refuse("")
    refuse("registrar")
    assert looked == []
    refuse("retired-feed")  # only the data holds it: known
    with pytest.raises(UnknownName) as refused:
        refuse("registar")
    assert looked == ["retired-feed", "registar"]
    (problem,) = refused.value.problems
    assert problem == Problem(
        "source",
        "unknown",
        "'registar' is not a source system in the configuration, and no rejected record names "
        "it: use one of registrar",
    )
