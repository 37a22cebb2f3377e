"""Identity resolution, pure parts: normalisation, the UK-aware comparisons, scoring one pair
with a model, thresholds per event type, bulk decisions, extract validation."""

from __future__ import annotations

import math
from datetime import date
from typing import Any

import pytest

from hub.identity import normalise as n
from hub.identity.bulk import Candidate, accuracy, decide_bulk
from hub.identity.comparisons import ADDRESS, COMPARISONS, DOB, FAMILY, GIVEN
from hub.identity.extracts import ExtractError, parse_rows, probe_keys
from hub.identity.generator import generate
from hub.identity.matcher import probe_for, resolve
from hub.identity.model import MatchModel, ModelError, model_version
from hub.identity.normalise import PersonFields, features
from hub.identity.thresholds import Band, Thresholds, threshold_problem, thresholds_for


def person(**kw: Any) -> PersonFields:
    base: dict[str, Any] = {
        "local_id": "X-1",
        "given_names": "William",
        "family_name": "Smith",
        "date_of_birth": date(1970, 3, 4),
        "uprn": "100023336956",
        "postcode": "EX1 2AB",
    }
    return PersonFields(**(base | kw))


def level_label(comparison: Any, left: PersonFields, right: PersonFields) -> str:
    return str(comparison.levels[comparison.level(features(left), features(right))].label)


# --- normalisation ---------------------------------------------------------------------------


def test_nicknames_map_to_their_canonical_name() -> None:
    assert n.canonical_given("bill") == "william"
    assert n.canonical_given("peggy") == "margaret"
    assert n.canonical_given("zebedee") == "zebedee"


def test_names_are_folded_titles_dropped_and_surname_parts_split() -> None:
    assert n.given_name("Dr  Zoë Anne") == "zoe"
    assert n.family_name("Smith-Jones") == "smith jones"
    assert n.family_name("O'Brien") == "obrien"
    assert n.given_name("") is None


def test_postcodes_uprns_phones_and_nhs_numbers_normalise() -> None:
    assert n.postcode("ex4 7qt") == "EX4 7QT"
    assert n.postcode("SW1A1AA") == "SW1A 1AA"
    assert n.postcode("not a postcode") is None
    assert n.uprn("000123") == "123"
    assert n.uprn("1234567890123") is None
    assert n.phone("+44 7700 900123") == "07700900123"
    assert n.nhs_number("943 476 5919") == "9434765919"
    assert n.nhs_number("9434765918") is None  # wrong check digit


def test_day_and_month_swap_only_when_it_is_another_valid_date() -> None:
    assert n.swapped(date(1970, 3, 4)) == date(1970, 4, 3)
    assert n.swapped(date(1970, 3, 3)) is None
    assert n.swapped(date(1970, 3, 25)) is None
    assert n.parse_dob("04/03/1970") == date(1970, 3, 4)
    assert n.parse_dob("1970-02-30") is None


# --- comparisons -----------------------------------------------------------------------------


def test_given_name_levels_know_nicknames_and_typos() -> None:
    assert level_label(GIVEN, person(), person()) == "exact"
    assert level_label(GIVEN, person(), person(given_names="Bill")) == "nickname or short form"
    assert level_label(GIVEN, person(), person(given_names="Willaim")).startswith("Jaro")
    assert level_label(GIVEN, person(), person(given_names="Priya")) == "all other"
    assert level_label(GIVEN, person(), person(given_names=None)) == "missing"


def test_family_name_levels_know_hyphenated_and_changed_surnames() -> None:
    double = person(family_name="Smith-Jones")
    assert level_label(FAMILY, person(), double).startswith("a part agrees")
    assert level_label(FAMILY, person(), person(family_name="Smyth")).startswith("Jaro")
    assert level_label(FAMILY, person(), person(family_name="Patel")) == "all other"


def test_date_of_birth_levels_know_day_month_swaps_and_typos() -> None:
    assert level_label(DOB, person(), person(date_of_birth=date(1970, 4, 3))) == (
        "day and month swapped"
    )
    assert level_label(DOB, person(), person(date_of_birth=date(1970, 3, 5))) == (
        "one character differs"
    )
    assert level_label(DOB, person(), person(date_of_birth=date(1970, 11, 28))) == "same year"
    assert level_label(DOB, person(), person(date_of_birth=None)) == "missing"


def test_address_levels_know_a_previous_address() -> None:
    moved = person(uprn="200", postcode="TQ1 1AA", previous_uprn="100023336956")
    assert level_label(ADDRESS, moved, person()) == "previous address UPRN"
    moved_pc = person(uprn="200", postcode="TQ1 1AA", previous_postcode="EX1 2AB")
    assert level_label(ADDRESS, moved_pc, person(uprn=None)) == "previous address postcode"
    assert level_label(ADDRESS, person(uprn=None), person(uprn=None, postcode="EX1 9ZZ")) == (
        "same district"
    )
    assert level_label(ADDRESS, person(uprn=None, postcode=None), person()) == "missing"


# --- the model and one pair's score -----------------------------------------------------------


def params(prior: float = 1e-4) -> dict[str, Any]:
    """A hand-made model: agreement weighs for, disagreement against, missing is neutral."""
    comparisons = []
    for c in COMPARISONS:
        levels = []
        for i, lv in enumerate(c.levels):
            last = i == len(c.levels) - 1
            m, u = (0.02, 0.9) if last else (0.9 / max(i, 1), 0.01 * max(i, 1))
            levels.append({"sql_condition": lv.sql, "m_probability": m, "u_probability": u})
            if lv.null:
                levels[-1] = {"sql_condition": lv.sql, "is_null_level": True}
        comparisons.append({"output_column_name": c.name, "comparison_levels": levels})
    return {"probability_two_random_records_match": prior, "comparisons": comparisons}


def test_scoring_agrees_with_the_fellegi_sunter_sum() -> None:
    model = MatchModel.from_params(params())
    same = model.score(features(person()), features(person()))
    expected = math.log2(1e-4 / (1 - 1e-4)) + 4 * math.log2(0.9 / 0.01)  # 4 fields agree
    assert same.match_weight == pytest.approx(expected)
    assert same.probability > 0.999
    assert set(same.agreeing) == {"given_name", "family_name", "date_of_birth", "address"}
    other = model.score(
        features(person()),
        features(person(given_names="Priya", family_name="Patel", date_of_birth=date(1990, 1, 1))),
    )
    assert other.probability < 0.01
    assert "given_name" in other.disagreeing


def test_model_version_is_a_content_hash() -> None:
    assert model_version(params()) == MatchModel.from_params(params()).version
    assert model_version(params(2e-4)) != model_version(params())


def test_a_model_of_other_comparisons_is_refused() -> None:
    bad = params()
    bad["comparisons"] = bad["comparisons"][:2]
    with pytest.raises(ModelError, match="train a new model"):
        MatchModel.from_params(bad)


# --- thresholds ------------------------------------------------------------------------------


def test_a_death_needs_more_certainty_than_a_change_of_email() -> None:
    table = {"*": (0.999, 0.5), "death.notified": (0.9999, 0.5), "contact.changed": (0.99, 0.5)}
    assert thresholds_for("death.notified", table).band(0.9995) is Band.REVIEW
    assert thresholds_for("contact.changed", table).band(0.9995) is Band.AUTO
    assert thresholds_for("address.changed", table).band(0.4) is Band.NONE


@pytest.mark.parametrize(
    ("pair", "said"),
    [
        ((0.5, 0.9), "death.notified: [0.5, 0.9]: expected 0 < review <= auto_link <= 1"),
        ((1.5, 0.5), "death.notified: [1.5, 0.5]: expected 0 < review <= auto_link <= 1"),
        ((0.9, 0), "death.notified: [0.9, 0]: expected 0 < review <= auto_link <= 1"),
        ((0.9,), "death.notified: give [auto_link, review], two probabilities"),
        (("a", "b"), "death.notified: give [auto_link, review], two probabilities"),
    ],
)
def test_thresholds_out_of_order_or_of_range_are_named(pair: object, said: str) -> None:
    problem = threshold_problem("death.notified", pair)
    assert problem is not None and problem.startswith(said)
    assert threshold_problem("death.notified", (0.9999, 0.5)) is None


# --- bulk decisions --------------------------------------------------------------------------


def test_a_close_runner_up_sends_the_pair_to_review() -> None:
    limits = Thresholds(0.99, 0.5)
    pairs = [
        Candidate("P-1", "S-1", 0.9999),
        Candidate("P-2", "S-1", 0.999),  # a twin at the same address: too close
        Candidate("P-5", "S-2", 0.8),  # far behind (more than 2**6 times less likely)
        Candidate("P-3", "S-2", 0.9999),
        Candidate("P-4", "S-3", 0.6),
    ]
    bands = {d.record_id: d.band for d in decide_bulk(pairs, ["S-1", "S-2", "S-3", "S-4"], limits)}
    assert bands == {"S-1": Band.REVIEW, "S-2": Band.AUTO, "S-3": Band.REVIEW, "S-4": Band.NONE}


def test_one_person_is_linked_automatically_to_one_record_only() -> None:
    pairs = [Candidate("P-1", "S-1", 0.9991), Candidate("P-1", "S-2", 0.99999)]
    decisions = {
        d.record_id: d.band for d in decide_bulk(pairs, ["S-1", "S-2"], Thresholds(0.999, 0.5))
    }
    assert decisions == {"S-1": Band.REVIEW, "S-2": Band.AUTO}


def test_accuracy_counts_precision_recall_and_review_share() -> None:
    decisions = decide_bulk(
        [
            Candidate("P-1", "S-1", 0.9999),
            Candidate("P-9", "S-2", 0.9999),
            Candidate("P-3", "S-3", 0.7),
        ],
        ["S-1", "S-2", "S-3", "S-4"],
        Thresholds(0.999, 0.5),
    )
    acc = accuracy(decisions, {"S-1": "P-1", "S-2": "P-2", "S-3": "P-3", "S-4": "P-4"})
    assert (acc.precision, acc.recall, acc.review_share) == (0.5, 0.5, 0.25)


# --- extracts --------------------------------------------------------------------------------


def test_extract_rows_are_validated_and_minimised() -> None:
    batch = parse_rows(
        [
            {
                "local_id": "W-1",
                "given_names": "Ann",
                "date_of_birth": "04/03/1970",
                "postcode": "ex1 2ab",
            },
            {"local_id": "W-2", "deleted": "yes"},
        ]
    )
    assert batch.upserts[0].date_of_birth == date(1970, 3, 4)
    assert batch.upserts[0].postcode == "EX1 2AB"
    assert batch.deletions == ("W-2",)


def test_extract_problems_name_the_row_and_field() -> None:
    with pytest.raises(ExtractError) as caught:
        parse_rows(
            [
                {"local_id": "W-1", "date_of_birth": "31/02/1970"},
                {"local_id": "W-2", "religion": "none"},
                {"given_names": "No Id"},
            ],
            where="waste.csv",
        )
    where = [p.location for p in caught.value.problems]
    assert where == ["waste.csv[1].date_of_birth", "waste.csv[2]", "waste.csv[3].local_id"]


# --- one event against the recipients' records ------------------------------------------------


class Records:
    def __init__(self, by_system: dict[str, list[PersonFields]]) -> None:
        self.by_system = by_system

    def find(self, systems: Any, local_id: str) -> PersonFields | None:
        return None

    def candidates(
        self, systems: Any, keys: Any, limit: int = 100
    ) -> dict[str, list[PersonFields]]:
        return {s: self.by_system.get(s, []) for s in systems}


def test_a_move_is_matched_on_the_previous_address_services_still_hold() -> None:
    model = MatchModel.from_params(params())
    mover = person(uprn="999", postcode="TQ9 9ZZ")
    event = {"previous_address": {"uprn": "100023336956", "postcode": "EX1 2AB", "lines": []}}
    probe = probe_for(mover, "address.changed", event)
    assert probe_keys(features(probe))["k_uprn"] == ["100023336956", "999"]
    records = Records(
        {
            "waste": [person(local_id="W-7")],
            "parking": [person(local_id="PK-1", given_names="Will", uprn=None)],
            "libraries": [
                person(local_id="L-1", given_names="Priya", family_name="Patel", date_of_birth=None)
            ],
        }
    )
    result = resolve(
        model,
        records,
        probe,
        "address.changed",
        ["waste", "parking", "libraries"],
        {"*": (0.999, 0.5)},
    )
    assert [(s.system, s.local_id) for s in result.auto] == [("waste", "W-7")]
    assert [(s.system, s.local_id) for s in result.review] == [("parking", "PK-1")]


def test_the_generator_is_seeded_and_knows_the_truth() -> None:
    a, b = generate(300, seed=3), generate(300, seed=3)
    assert a == b
    assert len(a.reference) == 300
    assert set(a.truth.values()) <= {p.local_id for p in a.reference}
    assert len(a.service) > len(a.truth)  # people only the service knows


def test_untrained_levels_are_named_in_the_hubs_words() -> None:
    from hub.identity.splink_port import untrained_levels

    params = {
        "comparisons": [
            {
                "output_column_name": "nhs_number",
                "comparison_levels": [
                    {"label_for_charts": "missing", "is_null_level": True},
                    {"label_for_charts": "exact", "m_probability": 0.99},
                    {"label_for_charts": "all other", "m_probability": 0.01, "u_probability": 0.9},
                ],
            }
        ]
    }
    assert untrained_levels(params) == ["nhs_number, exact: u (never seen among random pairs)"]
