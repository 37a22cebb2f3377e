"""Data minimisation: only the allowed dotted paths survive."""

from __future__ import annotations

import copy

from hub.policy.minimise import minimise, shared_field_names

from .samples import (
    EFFECTIVE,
    NEW_LINES,
    NEW_POSTCODE,
    NEW_UPRN,
    OLD_LINES,
    OLD_POSTCODE,
    OLD_UPRN,
    address_data,
)


def test_path_to_a_record_keeps_the_whole_record() -> None:
    out = minimise(address_data(), ["new_address"])
    assert out == {"new_address": {"uprn": NEW_UPRN, "lines": NEW_LINES, "postcode": NEW_POSTCODE}}


def test_leaf_paths_keep_only_those_leaves_nested_in_their_parents() -> None:
    out = minimise(address_data(), ["new_address.uprn", "new_address.postcode", "effective_date"])
    assert out == {
        "new_address": {"uprn": NEW_UPRN, "postcode": NEW_POSTCODE},
        "effective_date": EFFECTIVE,
    }


def test_nothing_outside_the_allowed_paths_leaks() -> None:
    out = minimise(address_data(), ["new_address.postcode"])
    assert out == {"new_address": {"postcode": NEW_POSTCODE}}
    text = repr(out)
    for value in (OLD_UPRN, OLD_POSTCODE, *OLD_LINES, NEW_UPRN, *NEW_LINES, "previous_address"):
        assert value not in text


def test_paths_absent_from_the_data_are_skipped() -> None:
    data = {"new_address": {"uprn": NEW_UPRN}}
    out = minimise(data, ["new_address.postcode", "effective_date", "new_address.uprn"])
    assert out == {"new_address": {"uprn": NEW_UPRN}}


def test_a_path_through_a_scalar_is_skipped() -> None:
    out = minimise(address_data(), ["effective_date.year", "new_address.uprn.digits"])
    assert out == {}


def test_no_allowed_paths_gives_empty_output() -> None:
    assert minimise(address_data(), []) == {}


def test_input_is_not_modified() -> None:
    data = address_data()
    before = copy.deepcopy(data)
    minimise(data, ["new_address", "new_address.uprn", "previous_address.postcode"])
    assert data == before


def test_record_and_its_leaf_both_allowed_gives_the_whole_record() -> None:
    out = minimise(address_data(), ["new_address.uprn", "new_address"])
    assert out["new_address"] == {"uprn": NEW_UPRN, "lines": NEW_LINES, "postcode": NEW_POSTCODE}
    assert set(out) == {"new_address"}


def test_shared_field_names_are_the_present_allowed_paths_sorted_and_unique() -> None:
    data = {"new_address": {"uprn": NEW_UPRN}, "effective_date": EFFECTIVE}
    names = shared_field_names(
        data, ["new_address.uprn", "effective_date", "new_address.postcode", "effective_date"]
    )
    assert names == ("effective_date", "new_address.uprn")


def test_shared_field_names_of_nothing_is_empty() -> None:
    assert shared_field_names(address_data(), ["not_a_field"]) == ()


def test_a_read_only_mapping_is_minimised_like_a_dict() -> None:
    """Nested data need not be a plain dict (a frozen view of it is minimised alike)."""
    from types import MappingProxyType

    data = MappingProxyType({"new_address": MappingProxyType({"postcode": "EX1 1AA", "uprn": "1"})})
    assert minimise(data, ["new_address.postcode"]) == {"new_address": {"postcode": "EX1 1AA"}}
