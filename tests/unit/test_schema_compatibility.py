"""Static Avro schema compatibility (Avro 1.11 "Schema Resolution"), per pair and per version list."""

from __future__ import annotations

import copy
import io
import json
from pathlib import Path
from typing import Any

import fastavro
import pytest

from hub.events.compatibility import (
    CompatibilityMode,
    Incompatibility,
    VersionProblem,
    can_read,
    check_versions,
)

SCHEMA_DIR = Path(__file__).resolve().parents[2] / "schemas" / "avro"
NS = "uk.gov.council.tellitonce.v1"


def rec(name: str, *fields: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"type": "record", "name": name, "fields": list(fields), **extra}


def fld(name: str, type_: Any, **extra: Any) -> dict[str, Any]:
    return {"name": name, "type": type_, **extra}


def enum(name: str, *symbols: str, **extra: Any) -> dict[str, Any]:
    return {"type": "enum", "name": name, "symbols": list(symbols), **extra}


def found(reader: Any, writer: Any) -> list[tuple[str, str]]:
    return [(i.path, i.rule) for i in can_read(reader, writer)]


def shipped(file: str) -> Any:
    return json.loads((SCHEMA_DIR / file).read_text())


# --- records ------------------------------------------------------------------------------------


def test_identical_schemas_are_compatible() -> None:
    schema = rec("R", fld("a", "string"), fld("b", {"type": "array", "items": "int"}))
    assert can_read(schema, copy.deepcopy(schema)) == []


def test_added_field_with_default_is_backward_compatible() -> None:
    old = rec("R", fld("a", "string"))
    new = rec("R", fld("a", "string"), fld("b", "int", default=0))
    assert can_read(new, old) == []  # backward: new reads old
    assert can_read(old, new) == []  # forward: the extra writer field is skipped


def test_added_field_without_default_breaks_backward_not_forward() -> None:
    old = rec("R", fld("a", "string"))
    new = rec("R", fld("a", "string"), fld("b", "int"))
    problems = can_read(new, old)
    assert [(i.path, i.rule) for i in problems] == [("b", "field_missing_no_default")]
    assert "'b'" in problems[0].message
    assert can_read(old, new) == []


def test_removed_field_without_default_in_old_breaks_forward() -> None:
    old = rec("R", fld("a", "string"), fld("b", "string"))
    new = rec("R", fld("a", "string"))
    assert can_read(new, old) == []
    assert found(old, new) == [("b", "field_missing_no_default")]


def test_null_default_counts_as_a_default() -> None:
    old = rec("R", fld("a", "string"))
    new = rec("R", fld("a", "string"), fld("b", ["null", "string"], default=None))
    assert can_read(new, old) == []


def test_reader_field_alias_finds_renamed_writer_field() -> None:
    old = rec("R", fld("postcode", "string"))
    renamed = rec("R", fld("post_code", "string"))
    aliased = rec("R", fld("post_code", "string", aliases=["postcode"]))
    assert found(renamed, old) == [("post_code", "field_missing_no_default")]
    assert can_read(aliased, old) == []
    # the alias is followed into the field's type, so its problems carry the reader's name
    assert found(rec("R", fld("post_code", "int", aliases=["postcode"])), old) == [
        ("post_code", "type_mismatch")
    ]


def test_record_renamed_without_alias_breaks_with_alias_ok() -> None:
    old = rec("Person", fld("a", "string"))
    renamed = rec("Resident", fld("a", "string"))
    aliased = rec("Resident", fld("a", "string"), aliases=["Person"])
    problems = can_read(renamed, old)
    assert [(i.path, i.rule) for i in problems] == [("", "name_mismatch")]
    assert "'Person'" in problems[0].message and "'Resident'" in problems[0].message
    assert can_read(aliased, old) == []
    # a fully qualified alias matches too (names compare unqualified)
    assert can_read(rec("Resident", fld("a", "string"), aliases=[f"{NS}.Person"]), old) == []


def test_namespace_change_alone_is_compatible() -> None:
    old = rec("R", fld("a", "string"), namespace="a.b")
    new = rec("R", fld("a", "string"), namespace="c.d")
    assert can_read(new, old) == []


def test_error_type_is_treated_as_record() -> None:
    old = {"type": "error", "name": "Oops", "fields": [fld("a", "string")]}
    new = rec("Oops", fld("a", "string"), fld("b", "int"))
    assert found(new, old) == [("b", "field_missing_no_default")]


# --- primitives and promotions ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("writer", "reader"),
    [
        ("int", "long"),
        ("int", "float"),
        ("int", "double"),
        ("long", "float"),
        ("long", "double"),
        ("float", "double"),
        ("string", "bytes"),
        ("bytes", "string"),
        ("null", "null"),
        ("boolean", "boolean"),
    ],
)
def test_promotions_allowed(writer: str, reader: str) -> None:
    assert can_read(rec("R", fld("x", reader)), rec("R", fld("x", writer))) == []


@pytest.mark.parametrize(
    ("writer", "reader"),
    [
        ("long", "int"),
        ("double", "float"),
        ("float", "long"),
        ("double", "int"),
        ("int", "string"),
        ("string", "int"),
        ("boolean", "int"),
        ("null", "string"),
    ],
)
def test_narrowing_and_unrelated_primitives_break(writer: str, reader: str) -> None:
    problems = can_read(rec("R", fld("x", reader)), rec("R", fld("x", writer)))
    assert [(i.path, i.rule) for i in problems] == [("x", "type_mismatch")]
    assert writer in problems[0].message and reader in problems[0].message


def test_int_long_promotion_backward_only() -> None:
    old = rec("R", fld("n", "int"))
    new = rec("R", fld("n", "long"))
    assert can_read(new, old) == []
    assert found(old, new) == [("n", "type_mismatch")]


def test_string_and_bytes_read_each_other() -> None:
    s = rec("R", fld("x", "string"))
    b = rec("R", fld("x", "bytes"))
    assert can_read(s, b) == []
    assert can_read(b, s) == []


def test_logical_types_are_ignored() -> None:
    date = rec("R", fld("d", {"type": "int", "logicalType": "date"}))
    plain = rec("R", fld("d", "int"))
    ts = rec("R", fld("d", {"type": "long", "logicalType": "timestamp-millis"}))
    assert can_read(date, plain) == []
    assert can_read(plain, date) == []
    assert can_read(ts, date) == []  # int -> long promotion under the logical types
    assert found(date, ts) == [("d", "type_mismatch")]


def test_top_level_primitives() -> None:
    assert can_read("long", "int") == []
    assert found("int", "long") == [("", "type_mismatch")]
    assert can_read({"type": "string"}, "string") == []


# --- enums --------------------------------------------------------------------------------------


def test_enum_symbol_removed_breaks_backward() -> None:
    old = rec("R", fld("s", enum("E", "A", "B", "C")))
    new = rec("R", fld("s", enum("E", "A", "B")))
    problems = can_read(new, old)
    assert [(i.path, i.rule) for i in problems] == [("s", "enum_symbol_missing")]
    assert "'C'" in problems[0].message
    assert can_read(old, new) == []  # forward: every symbol new writes, old knows


def test_enum_symbol_added_breaks_forward() -> None:
    old = rec("R", fld("s", enum("E", "A")))
    new = rec("R", fld("s", enum("E", "A", "B", "C")))
    assert can_read(new, old) == []
    problems = can_read(old, new)
    assert [(i.path, i.rule) for i in problems] == [
        ("s", "enum_symbol_missing"),
        ("s", "enum_symbol_missing"),
    ]
    assert ["'B'" in problems[0].message, "'C'" in problems[1].message] == [True, True]


def test_fastavro_misses_removed_enum_symbol_until_data_uses_it() -> None:
    """Why the static check exists: fastavro resolves only the values it meets."""
    old = rec("R", fld("s", enum("E", "A", "B", "C")))
    new = rec("R", fld("s", enum("E", "A", "B")))
    writer, reader = fastavro.parse_schema(old), fastavro.parse_schema(new)

    buf = io.BytesIO()
    fastavro.schemaless_writer(buf, writer, {"s": "A"})
    buf.seek(0)
    assert fastavro.schemaless_reader(buf, writer, reader) == {"s": "A"}  # no complaint

    buf = io.BytesIO()
    fastavro.schemaless_writer(buf, writer, {"s": "C"})
    buf.seek(0)
    with pytest.raises(Exception, match="C"):
        fastavro.schemaless_reader(buf, writer, reader)

    assert found(new, old) == [("s", "enum_symbol_missing")]  # static check catches it up front


def test_enum_with_reader_default_accepts_unknown_symbols() -> None:
    old = rec("R", fld("s", enum("E", "A", "B", "C")))
    new = rec("R", fld("s", enum("E", "A", "B", "OTHER", default="OTHER")))
    assert can_read(new, old) == []
    # a default that is not one of the reader's symbols is no default
    bad = rec("R", fld("s", enum("E", "A", "B", default="OTHER")))
    assert found(bad, old) == [("s", "enum_symbol_missing")]


def test_enum_renamed_breaks() -> None:
    assert found(enum("F", "A"), enum("E", "A")) == [("", "name_mismatch")]
    assert can_read(enum("F", "A", aliases=["E"]), enum("E", "A")) == []


# --- named references and namespaces ------------------------------------------------------------


def test_shipped_address_v1_and_v2_read_each_other() -> None:
    v1, v2 = shipped("address.changed.v1.avsc"), shipped("address.changed.v2.avsc")
    assert can_read(v2, v1) == []
    assert can_read(v1, v2) == []


def test_nested_named_reference_reports_every_path() -> None:
    v1 = shipped("address.changed.v1.avsc")
    changed = copy.deepcopy(v1)
    address = changed["fields"][0]["type"]
    assert address["name"] == "Address"
    address["fields"] = [f for f in address["fields"] if f["name"] != "postcode"]
    address["fields"].append(fld("flat", "string"))
    # Address is defined under previous_address and referenced by name from new_address
    assert found(v1, changed) == [
        ("previous_address.postcode", "field_missing_no_default"),
        ("new_address.postcode", "field_missing_no_default"),
    ]
    assert found(changed, v1) == [
        ("previous_address.flat", "field_missing_no_default"),
        ("new_address.flat", "field_missing_no_default"),
    ]


def test_nested_type_change_has_dotted_path() -> None:
    v1 = shipped("address.changed.v1.avsc")
    changed = copy.deepcopy(v1)
    changed["fields"][0]["type"]["fields"][2]["type"] = "int"  # postcode
    assert found(changed, v1) == [
        ("previous_address.postcode", "type_mismatch"),
        ("new_address.postcode", "type_mismatch"),
    ]


def test_references_resolve_fully_qualified_and_through_namespaces() -> None:
    inner = {"type": "record", "name": "Inner", "namespace": "x.y", "fields": [fld("v", "int")]}
    schema = rec(
        "Outer",
        fld("a", inner),
        fld("b", "x.y.Inner"),  # another namespace: must be fully qualified
        fld("c", {"type": "array", "items": {"type": "x.y.Inner"}}),
        namespace="o",
    )
    assert can_read(schema, copy.deepcopy(schema)) == []
    reader = copy.deepcopy(schema)
    reader["fields"][0]["type"]["fields"][0]["type"] = "string"
    assert found(reader, schema) == [
        ("a.v", "type_mismatch"),
        ("b.v", "type_mismatch"),
        ("c[].v", "type_mismatch"),
    ]


def test_nested_named_type_inherits_enclosing_namespace() -> None:
    # Inner has no namespace: it is o.Inner, so "o.Inner" and "Inner" (inside o) both find it
    schema = rec(
        "Outer", fld("a", rec("Inner", fld("v", "int"))), fld("b", "o.Inner"), namespace="o"
    )
    assert can_read(schema, copy.deepcopy(schema)) == []
    other = rec(
        "Outer", fld("a", rec("Inner", fld("v", "int"))), fld("b", "p.Inner"), namespace="o"
    )
    assert found(schema, other) == [("b", "unknown_type")]


def test_unknown_reference_is_reported_not_raised() -> None:
    writer = rec("R", fld("a", "Nowhere"))
    problems = can_read(rec("R", fld("a", "string")), writer)
    assert [(i.path, i.rule) for i in problems] == [("a", "unknown_type")]
    assert "writer" in problems[0].message and "Nowhere" in problems[0].message


def test_recursive_type_terminates_and_checks_once() -> None:
    def linked(value_type: str) -> dict[str, Any]:
        return rec("Node", fld("value", value_type), fld("next", ["null", "Node"], default=None))

    assert can_read(linked("long"), linked("int")) == []
    assert found(linked("int"), linked("long")) == [("value", "type_mismatch")]


# --- unions -------------------------------------------------------------------------------------


def test_null_added_to_union_backward_ok_forward_breaks() -> None:
    old = rec("R", fld("x", "string"))
    new = rec("R", fld("x", ["null", "string"], default=None))
    assert can_read(new, old) == []  # reader union has a string branch
    problems = can_read(old, new)
    assert [(i.path, i.rule) for i in problems] == [("x|null", "union_branch_unreadable")]
    assert "null" in problems[0].message and "string" in problems[0].message


def test_writer_union_every_branch_must_be_readable() -> None:
    writer = rec("R", fld("x", ["null", "int", "boolean"]))
    reader = rec("R", fld("x", ["null", "long"]))
    assert found(reader, writer) == [("x|boolean", "union_branch_unreadable")]
    assert can_read(rec("R", fld("x", ["boolean", "null", "double"])), writer) == []


def test_reader_union_accepts_writer_non_union() -> None:
    writer = rec("R", fld("x", "int"))
    assert can_read(rec("R", fld("x", ["null", "string", "long"])), writer) == []
    problems = can_read(rec("R", fld("x", ["null", "string"])), writer)
    assert [(i.path, i.rule) for i in problems] == [("x", "type_mismatch")]
    assert "int" in problems[0].message and "[null, string]" in problems[0].message


def test_union_branch_record_problems_are_reported_inside_the_branch() -> None:
    v2 = shipped("death.notified.v2.avsc")
    changed = copy.deepcopy(v2)
    informant = changed["fields"][2]["type"][1]
    informant["fields"].append(fld("phone", "string"))
    assert found(changed, v2) == [("informant|Informant.phone", "field_missing_no_default")]
    # writer non-union, reader union: the reader branch labels the path
    writer = rec("R", fld("i", rec("Inf", fld("a", "string"))))
    reader = rec("R", fld("i", ["null", rec("Inf", fld("a", "string"), fld("b", "int"))]))
    assert found(reader, writer) == [("i|Inf.b", "field_missing_no_default")]


def test_writer_union_read_by_non_union_reports_nested_problems() -> None:
    writer = rec("R", fld("x", ["int", {"type": "array", "items": "long"}]))
    reader = rec("R", fld("x", {"type": "array", "items": "int"}))
    assert found(reader, writer) == [
        ("x|int", "union_branch_unreadable"),
        ("x|array[]", "type_mismatch"),
    ]


def test_top_level_unions() -> None:
    assert can_read(["null", "long"], "int") == []
    assert found("long", ["null", "int"]) == [("|null", "union_branch_unreadable")]


# --- arrays, maps, fixed ------------------------------------------------------------------------


def test_array_items_resolve() -> None:
    old = rec("R", fld("lines", {"type": "array", "items": "int"}))
    assert can_read(rec("R", fld("lines", {"type": "array", "items": "long"})), old) == []
    assert found(rec("R", fld("lines", {"type": "array", "items": "string"})), old) == [
        ("lines[]", "type_mismatch")
    ]
    assert found(rec("R", fld("lines", {"type": "map", "values": "int"})), old) == [
        ("lines", "type_mismatch")
    ]


def test_map_values_resolve() -> None:
    item = rec("Tag", fld("k", "string"))
    old = rec("R", fld("tags", {"type": "map", "values": item}))
    new_item = rec("Tag", fld("k", "string"), fld("v", "string"))
    new = rec("R", fld("tags", {"type": "map", "values": new_item}))
    assert can_read(old, new) == []
    assert found(new, old) == [("tags{}.v", "field_missing_no_default")]


def test_fixed_size_and_name() -> None:
    def fixed(name: str, size: int) -> dict[str, Any]:
        return rec("R", fld("f", {"type": "fixed", "name": name, "size": size}))

    assert can_read(fixed("Hash", 16), fixed("Hash", 16)) == []
    problems = can_read(fixed("Hash", 32), fixed("Hash", 16))
    assert [(i.path, i.rule) for i in problems] == [("f", "fixed_size_mismatch")]
    assert "16" in problems[0].message and "32" in problems[0].message
    assert found(fixed("Digest", 16), fixed("Hash", 16)) == [("f", "name_mismatch")]
    assert found(rec("R", fld("f", "bytes")), fixed("Hash", 16)) == [("f", "type_mismatch")]


# --- versions and modes -------------------------------------------------------------------------

V1 = rec("R", fld("a", "string"))
V2 = rec("R", fld("a", "string"), fld("b", "int", default=0))
V3 = rec("R", fld("a", "string"), fld("b", "int"))  # the default is dropped


def pairs(problems: list[VersionProblem]) -> list[tuple[int, int, str, str, str]]:
    return [
        (p.new_version, p.old_version, p.direction, p.incompatibility.path, p.incompatibility.rule)
        for p in problems
    ]


def test_transitive_catches_what_non_transitive_misses() -> None:
    versions = [(3, V3), (1, V1), (2, V2)]  # unsorted on purpose
    assert can_read(V3, V2) == []
    assert check_versions("s", versions, CompatibilityMode.BACKWARD) == []
    assert pairs(check_versions("s", versions, CompatibilityMode.BACKWARD_TRANSITIVE)) == [
        (3, 1, "backward", "b", "field_missing_no_default")
    ]
    assert pairs(check_versions("s", versions, CompatibilityMode.FULL_TRANSITIVE)) == [
        (3, 1, "backward", "b", "field_missing_no_default")
    ]


def test_forward_transitive() -> None:
    # c is required in v1, optional in v2, gone in v3: v2 reads v3 (default), v1 cannot
    w1 = rec("R", fld("a", "string"), fld("c", "string"))
    w2 = rec("R", fld("a", "string"), fld("c", "string", default=""))
    w3 = rec("R", fld("a", "string"))
    versions = [(1, w1), (2, w2), (3, w3)]
    assert check_versions("s", versions, CompatibilityMode.FORWARD) == []
    assert pairs(check_versions("s", versions, CompatibilityMode.FORWARD_TRANSITIVE)) == [
        (3, 1, "forward", "c", "field_missing_no_default")
    ]


def test_full_requires_both_directions() -> None:
    old = rec("R", fld("a", "string"), fld("b", "string"))
    new = rec("R", fld("a", "string"))  # b removed: new reads old fine, old cannot read new
    versions = [(1, old), (2, new)]
    assert check_versions("s", versions, CompatibilityMode.BACKWARD) == []
    expected = [(2, 1, "forward", "b", "field_missing_no_default")]
    assert pairs(check_versions("s", versions, CompatibilityMode.FORWARD)) == expected
    assert pairs(check_versions("s", versions, CompatibilityMode.FULL)) == expected
    # and the other way round: an added field without default fails FULL on the backward side
    versions = [(1, new), (2, old)]
    assert pairs(check_versions("s", versions, CompatibilityMode.FULL)) == [
        (2, 1, "backward", "b", "field_missing_no_default")
    ]


def test_full_reports_both_directions_in_order() -> None:
    old = rec("R", fld("n", "int"), fld("s", enum("E", "A", "B")))
    new = rec("R", fld("n", "long"), fld("s", enum("E", "A", "C")))
    assert pairs(check_versions("s", [(1, old), (2, new)], CompatibilityMode.FULL)) == [
        (2, 1, "backward", "s", "enum_symbol_missing"),
        (2, 1, "forward", "n", "type_mismatch"),
        (2, 1, "forward", "s", "enum_symbol_missing"),
    ]


def test_none_checks_nothing() -> None:
    versions = [(1, rec("R", fld("a", "string"))), (2, rec("R", fld("a", "int")))]
    assert check_versions("s", versions, CompatibilityMode.NONE) == []
    assert len(check_versions("s", versions, CompatibilityMode.FULL)) == 2


def test_non_transitive_checks_only_the_previous_version() -> None:
    broken = rec("R", fld("a", "int"))
    versions = [(1, broken), (2, V1), (3, V1)]
    assert pairs(check_versions("s", versions, CompatibilityMode.BACKWARD)) == [
        (2, 1, "backward", "a", "type_mismatch")
    ]
    assert pairs(check_versions("s", versions, CompatibilityMode.BACKWARD_TRANSITIVE)) == [
        (2, 1, "backward", "a", "type_mismatch"),
        (3, 1, "backward", "a", "type_mismatch"),
    ]


def test_single_or_no_version_has_nothing_to_check() -> None:
    assert check_versions("s", [], CompatibilityMode.FULL_TRANSITIVE) == []
    assert check_versions("s", [(1, V3)], CompatibilityMode.FULL_TRANSITIVE) == []


def test_duplicate_versions_are_rejected() -> None:
    with pytest.raises(ValueError, match="duplicate"):
        check_versions("s", [(1, V1), (1, V2)], CompatibilityMode.BACKWARD)


def test_mode_directions() -> None:
    assert {m: (m.directions, m.transitive) for m in CompatibilityMode} == {
        CompatibilityMode.BACKWARD: (("backward",), False),
        CompatibilityMode.BACKWARD_TRANSITIVE: (("backward",), True),
        CompatibilityMode.FORWARD: (("forward",), False),
        CompatibilityMode.FORWARD_TRANSITIVE: (("forward",), True),
        CompatibilityMode.FULL: (("backward", "forward"), False),
        CompatibilityMode.FULL_TRANSITIVE: (("backward", "forward"), True),
        CompatibilityMode.NONE: ((), False),
    }
    assert CompatibilityMode("FULL_TRANSITIVE") is CompatibilityMode.FULL_TRANSITIVE


def test_version_problem_str_names_subject_versions_path_and_rule() -> None:
    inc = Incompatibility(
        "new_address.flat", "field_missing_no_default", "field 'flat' has no default"
    )
    backward = VersionProblem("address.changed", 2, 1, "backward", inc)
    assert str(backward) == (
        "address.changed v2 cannot read v1 data (backward): "
        "new_address.flat: field_missing_no_default: field 'flat' has no default"
    )
    forward = VersionProblem("address.changed", 2, 1, "forward", inc)
    assert str(forward).startswith("address.changed v1 cannot read v2 data (forward): ")
    root = VersionProblem("x", 3, 2, "backward", Incompatibility("", "name_mismatch", "m"))
    assert str(root) == "x v3 cannot read v2 data (backward): <root>: name_mismatch: m"


def test_version_problem_str_from_a_real_check() -> None:
    v1 = shipped("address.changed.v1.avsc")
    v2 = copy.deepcopy(v1)
    v2["fields"][0]["type"]["fields"].append(fld("flat", "string"))
    problems = check_versions("address.changed", [(1, v1), (2, v2)], CompatibilityMode.BACKWARD)
    assert [str(p).split(": ")[1:3] for p in problems] == [
        ["previous_address.flat", "field_missing_no_default"],
        ["new_address.flat", "field_missing_no_default"],
    ]
    assert str(problems[1]).startswith("address.changed v2 cannot read v1 data (backward): ")


# --- the shipped schemas -------------------------------------------------------------------------


def shipped_versions() -> dict[str, list[tuple[int, Any]]]:
    index = json.loads((SCHEMA_DIR / "registry.json").read_text())
    by_type: dict[str, list[tuple[int, Any]]] = {}
    for entry in index["schemas"]:
        by_type.setdefault(entry["type"], []).append((entry["version"], shipped(entry["file"])))
    return by_type


def test_shipped_schemas_are_full_transitive_compatible() -> None:
    by_type = shipped_versions()
    assert {t for t, vs in by_type.items() if len(vs) > 1} >= {"address.changed", "death.notified"}
    for subject, versions in by_type.items():
        assert check_versions(subject, versions, CompatibilityMode.FULL_TRANSITIVE) == []


@pytest.mark.parametrize("file", sorted(p.name for p in SCHEMA_DIR.glob("*.avsc")))
def test_each_shipped_schema_reads_itself(file: str) -> None:
    schema = shipped(file)
    assert can_read(schema, copy.deepcopy(schema)) == []
