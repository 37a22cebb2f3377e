"""Static Avro schema compatibility, following the Avro 1.11 specification's "Schema Resolution".

fastavro only resolves a writer schema against a reader schema while it reads data, so a
problem that the data at hand does not exercise (an enum symbol the reader no longer has, a
union branch that happens not to be used) goes unnoticed until a real message hits it. This
module walks two raw JSON schemas instead and lists every reason data written with one could
not be read with the other, each with the field path and a short rule code.

`check_versions` applies that to the versions of one subject under a `CompatibilityMode`
(the Confluent Schema Registry's names and meanings).

Paths are dotted field names from the root record ("" for the root itself); array items add
"[]", map values add "{}", and a union branch adds "|" and the branch's type name
(e.g. "informant|Informant.name", "phone|null").
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Literal

__all__ = [
    "CompatibilityMode",
    "Incompatibility",
    "VersionProblem",
    "can_read",
    "check_versions",
]

PRIMITIVES = frozenset({"null", "boolean", "int", "long", "float", "double", "bytes", "string"})

# writer type -> reader types it may be read as (besides itself)
PROMOTIONS: dict[str, frozenset[str]] = {
    "int": frozenset({"long", "float", "double"}),
    "long": frozenset({"float", "double"}),
    "float": frozenset({"double"}),
    "string": frozenset({"bytes"}),
    "bytes": frozenset({"string"}),
}

_NamedKind = Literal["record", "enum", "fixed"]
_NAMED_KINDS: dict[str, _NamedKind] = {
    "record": "record",
    "error": "record",
    "enum": "enum",
    "fixed": "fixed",
}


class CompatibilityMode(StrEnum):
    BACKWARD = "BACKWARD"  # new reads data written with the previous version
    BACKWARD_TRANSITIVE = "BACKWARD_TRANSITIVE"  # new reads data of every earlier version
    FORWARD = "FORWARD"  # previous reads data written with the new version
    FORWARD_TRANSITIVE = "FORWARD_TRANSITIVE"  # every earlier version reads the new one's data
    FULL = "FULL"  # both, against the previous
    FULL_TRANSITIVE = "FULL_TRANSITIVE"  # both, against every earlier version
    NONE = "NONE"  # nothing checked

    @property
    def transitive(self) -> bool:
        return self.value.endswith("_TRANSITIVE")

    @property
    def directions(self) -> tuple[str, ...]:
        """ "backward" (new reads old) and/or "forward" (old reads new), in that order."""
        if self is CompatibilityMode.NONE:
            return ()
        if self.value.startswith("BACKWARD"):
            return ("backward",)
        if self.value.startswith("FORWARD"):
            return ("forward",)
        return ("backward", "forward")


@dataclass(frozen=True)
class Incompatibility:
    """One reason data written with a writer schema cannot be read with a reader schema."""

    path: str  # dotted field path from the root record ("" for the root)
    rule: str  # short machine code, e.g. "field_missing_no_default"
    message: str  # a sentence a person can act on

    def __str__(self) -> str:
        return f"{self.path or '<root>'}: {self.rule}: {self.message}"


@dataclass(frozen=True)
class VersionProblem:
    """An incompatibility between two versions of one subject, in one direction."""

    subject: str
    new_version: int
    old_version: int
    direction: str  # "backward" (new reads old) or "forward" (old reads new)
    incompatibility: Incompatibility

    @property
    def reader_version(self) -> int:
        return self.new_version if self.direction == "backward" else self.old_version

    @property
    def writer_version(self) -> int:
        return self.old_version if self.direction == "backward" else self.new_version

    def __str__(self) -> str:
        return (
            f"{self.subject} v{self.reader_version} cannot read v{self.writer_version} data "
            f"({self.direction}): {self.incompatibility}"
        )


# --- the resolved view of a schema node --------------------------------------------------------


@dataclass(frozen=True)
class _Prim:
    name: str


@dataclass(frozen=True)
class _Named:
    kind: _NamedKind
    fullname: str
    name: str  # unqualified
    namespace: str  # the namespace its nested definitions and references inherit
    aliases: frozenset[str]  # unqualified
    raw: Any


@dataclass(frozen=True)
class _Array:
    items: Any
    ns: str


@dataclass(frozen=True)
class _Map:
    values: Any
    ns: str


@dataclass(frozen=True)
class _Union:
    branches: tuple[Any, ...]
    ns: str


@dataclass(frozen=True)
class _Unknown:
    what: str  # a description of what could not be understood


_Node = _Prim | _Named | _Array | _Map | _Union | _Unknown


def _unqualified(name: str) -> str:
    return name.rsplit(".", 1)[-1]


def _named_from(raw: Any, kind: _NamedKind, enclosing_ns: str) -> _Named:
    name = str(raw.get("name", ""))
    ns_attr = raw.get("namespace")
    if "." in name:
        namespace = name.rsplit(".", 1)[0]
        fullname = name
    else:
        namespace = ns_attr if isinstance(ns_attr, str) else enclosing_ns
        fullname = f"{namespace}.{name}" if namespace else name
    aliases = raw.get("aliases")
    alias_names = (
        frozenset(_unqualified(a) for a in aliases if isinstance(a, str))
        if isinstance(aliases, list)
        else frozenset()
    )
    return _Named(kind, fullname, _unqualified(name), namespace, alias_names, raw)


@dataclass
class _Side:
    """One schema (reader or writer) and the named types it defines, by full name."""

    label: str
    named: dict[str, _Named] = field(default_factory=dict)

    def collect(self, schema: Any, ns: str) -> None:
        """Register every named type defined in `schema` (namespaces inherited as Avro says)."""
        if isinstance(schema, list):
            for branch in schema:
                self.collect(branch, ns)
            return
        if not isinstance(schema, dict):
            return
        type_ = schema.get("type")
        if isinstance(type_, str) and type_ in _NAMED_KINDS:
            named = _named_from(schema, _NAMED_KINDS[type_], ns)
            self.named.setdefault(named.fullname, named)
            if named.kind == "record" and isinstance(schema.get("fields"), list):
                for f in schema["fields"]:
                    if isinstance(f, dict):
                        self.collect(f.get("type"), named.namespace)
        elif type_ == "array":
            self.collect(schema.get("items"), ns)
        elif type_ == "map":
            self.collect(schema.get("values"), ns)
        elif isinstance(type_, dict | list):
            self.collect(type_, ns)

    def resolve(self, schema: Any, ns: str) -> _Node:
        if isinstance(schema, list):
            return _Union(tuple(schema), ns)
        if isinstance(schema, str):
            if schema in PRIMITIVES:
                return _Prim(schema)
            return self._lookup(schema, ns)
        if isinstance(schema, dict):
            type_ = schema.get("type")
            if isinstance(type_, str):
                if type_ in PRIMITIVES:  # logical types are ignored, as Avro does
                    return _Prim(type_)
                if type_ in _NAMED_KINDS:
                    return _named_from(schema, _NAMED_KINDS[type_], ns)
                if type_ == "array":
                    return _Array(schema.get("items"), ns)
                if type_ == "map":
                    return _Map(schema.get("values"), ns)
                return self._lookup(type_, ns)  # {"type": "Address"}
            if isinstance(type_, dict | list):
                return self.resolve(type_, ns)
        return _Unknown(f"the {self.label} schema node {schema!r} is not an Avro schema")

    def _lookup(self, name: str, ns: str) -> _Node:
        candidates = [name] if "." in name else ([f"{ns}.{name}"] if ns else []) + [name]
        for candidate in candidates:
            if candidate in self.named:
                return self.named[candidate]
        return _Unknown(f"the {self.label} schema refers to type '{name}', which it never defines")


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _label(node: _Node) -> str:
    """The short name of a node's type, used for union branches in paths."""
    if isinstance(node, _Prim):
        return node.name
    if isinstance(node, _Named):
        return node.name
    if isinstance(node, _Array):
        return "array"
    if isinstance(node, _Map):
        return "map"
    if isinstance(node, _Union):
        return "union"
    return "unknown"


def _describe(node: _Node, side: _Side) -> str:
    """A type as a person reads it: 'int', "record 'Address'", 'union [null, string]'."""
    if isinstance(node, _Named):
        return f"{node.kind} '{node.name}'"
    if isinstance(node, _Union):
        names = ", ".join(_label(side.resolve(b, node.ns)) for b in node.branches)
        return f"union [{names}]"
    return _label(node)


def _names_match(reader: _Named, writer: _Named) -> bool:
    return writer.name == reader.name or writer.name in reader.aliases


class _Checker:
    def __init__(self, reader: Any, writer: Any) -> None:
        self.reader = _Side("reader")
        self.writer = _Side("writer")
        self.reader.collect(reader, "")
        self.writer.collect(writer, "")
        # record pairs being compared further up the stack: a recursive type meets itself again
        self._in_progress: set[tuple[str, str]] = set()

    def compare(self, r: _Node, w: _Node, path: str) -> list[Incompatibility]:
        for node in (r, w):
            if isinstance(node, _Unknown):
                return [Incompatibility(path, "unknown_type", node.what)]
        if isinstance(w, _Union):
            problems: list[Incompatibility] = []
            for branch in w.branches:
                wb = self.writer.resolve(branch, w.ns)
                bpath = f"{path}|{_label(wb)}"
                if isinstance(wb, _Unknown):
                    problems.append(Incompatibility(bpath, "unknown_type", wb.what))
                elif isinstance(wb, _Union):  # a union directly in a union: invalid Avro
                    problems.append(
                        Incompatibility(
                            bpath, "unknown_type", "the writer nests a union in a union"
                        )
                    )
                elif isinstance(r, _Union):
                    problems.extend(self._into_union(r, wb, bpath, label_branch=False))
                else:
                    problems.extend(self._plain(r, wb, bpath, writer_branch=True))
            return problems
        if isinstance(r, _Union):
            return self._into_union(r, w, path, label_branch=True)
        return self._plain(r, w, path, writer_branch=False)

    def _into_union(
        self, r: _Union, w: _Node, path: str, *, label_branch: bool
    ) -> list[Incompatibility]:
        """A non-union writer type read by a reader union: some branch must read it."""
        branches = [self.reader.resolve(b, r.ns) for b in r.branches]
        for rb in branches:
            if not self.compare(rb, w, path):
                return []
        # No branch reads it cleanly. The branch Avro would pick (same type or name) says why.
        for rb in branches:
            if self._shallow_match(rb, w):
                return self.compare(rb, w, f"{path}|{_label(rb)}" if label_branch else path)
        if label_branch:
            return [
                Incompatibility(
                    path,
                    "type_mismatch",
                    f"writer type {_describe(w, self.writer)} is readable by no branch of the "
                    f"reader's {_describe(r, self.reader)}",
                )
            ]
        return [
            Incompatibility(
                path,
                "union_branch_unreadable",
                f"writer union branch {_describe(w, self.writer)} is readable by no branch of "
                f"the reader's {_describe(r, self.reader)}; add a branch that can read it",
            )
        ]

    @staticmethod
    def _shallow_match(r: _Node, w: _Node) -> bool:
        if isinstance(r, _Prim) and isinstance(w, _Prim):
            return r.name == w.name or r.name in PROMOTIONS.get(w.name, frozenset())
        if isinstance(r, _Named) and isinstance(w, _Named):
            return r.kind == w.kind and _names_match(r, w)
        return (isinstance(r, _Array) and isinstance(w, _Array)) or (
            isinstance(r, _Map) and isinstance(w, _Map)
        )

    def _plain(
        self, r: _Node, w: _Node, path: str, *, writer_branch: bool
    ) -> list[Incompatibility]:
        """Neither is a union."""
        if isinstance(r, _Prim) and isinstance(w, _Prim):
            if r.name == w.name or r.name in PROMOTIONS.get(w.name, frozenset()):
                return []
        elif isinstance(r, _Array) and isinstance(w, _Array):
            return self.compare(
                self.reader.resolve(r.items, r.ns), self.writer.resolve(w.items, w.ns), path + "[]"
            )
        elif isinstance(r, _Map) and isinstance(w, _Map):
            return self.compare(
                self.reader.resolve(r.values, r.ns),
                self.writer.resolve(w.values, w.ns),
                path + "{}",
            )
        elif isinstance(r, _Named) and isinstance(w, _Named) and r.kind == w.kind:
            return self._named(r, w, path)
        if writer_branch:
            return [
                Incompatibility(
                    path,
                    "union_branch_unreadable",
                    f"writer union branch {_describe(w, self.writer)} cannot be read as reader "
                    f"type {_describe(r, self.reader)}",
                )
            ]
        return [
            Incompatibility(
                path,
                "type_mismatch",
                f"writer type {_describe(w, self.writer)} cannot be read as reader type "
                f"{_describe(r, self.reader)}",
            )
        ]

    def _named(self, r: _Named, w: _Named, path: str) -> list[Incompatibility]:
        problems: list[Incompatibility] = []
        if not _names_match(r, w):
            aliases = f" (aliases: {', '.join(sorted(r.aliases))})" if r.aliases else ""
            problems.append(
                Incompatibility(
                    path,
                    "name_mismatch",
                    f"writer {w.kind} '{w.name}' does not match reader {r.kind} '{r.name}'"
                    f"{aliases}; keep the name or add '{w.name}' to the reader's aliases",
                )
            )
        if r.kind == "record":
            key = (r.fullname, w.fullname)
            if key in self._in_progress:
                return problems
            self._in_progress.add(key)
            try:
                problems.extend(self._record(r, w, path))
            finally:
                self._in_progress.discard(key)
        elif r.kind == "enum":
            problems.extend(self._enum(r, w, path))
        else:
            r_size, w_size = r.raw.get("size"), w.raw.get("size")
            if r_size != w_size:
                problems.append(
                    Incompatibility(
                        path,
                        "fixed_size_mismatch",
                        f"writer fixed '{w.name}' has size {w_size} but reader fixed "
                        f"'{r.name}' has size {r_size}",
                    )
                )
        return problems

    def _record(self, r: _Named, w: _Named, path: str) -> list[Incompatibility]:
        w_fields = {
            f["name"]: f for f in _fields(w.raw) if isinstance(f.get("name"), str)
        }  # writer fields the reader does not have are skipped when reading: fine
        problems: list[Incompatibility] = []
        for rf in _fields(r.raw):
            name = str(rf.get("name", ""))
            fpath = _join(path, name)
            wf = w_fields.get(name)
            if wf is None:
                aliases = rf.get("aliases")
                for alias in aliases if isinstance(aliases, list) else []:
                    if alias in w_fields:
                        wf = w_fields[alias]
                        break
            if wf is not None:
                problems.extend(
                    self.compare(
                        self.reader.resolve(rf.get("type"), r.namespace),
                        self.writer.resolve(wf.get("type"), w.namespace),
                        fpath,
                    )
                )
            elif "default" not in rf:
                problems.append(
                    Incompatibility(
                        fpath,
                        "field_missing_no_default",
                        f"field '{name}' of record '{r.name}' is not in the writer's schema and "
                        "has no default in the reader's; give it a default",
                    )
                )
        return problems

    def _enum(self, r: _Named, w: _Named, path: str) -> list[Incompatibility]:
        r_symbols = _symbols(r.raw)
        default = r.raw.get("default")
        if isinstance(default, str) and default in r_symbols:
            return []  # unknown writer symbols resolve to the reader's default
        return [
            Incompatibility(
                path,
                "enum_symbol_missing",
                f"writer enum '{w.name}' has symbol '{symbol}' which reader enum '{r.name}' "
                "lacks; keep the symbol or give the reader enum a default symbol",
            )
            for symbol in _symbols(w.raw)
            if symbol not in r_symbols
        ]


def _fields(raw: Any) -> list[Any]:
    fields = raw.get("fields")
    return [f for f in fields if isinstance(f, dict)] if isinstance(fields, list) else []


def _symbols(raw: Any) -> list[str]:
    symbols = raw.get("symbols")
    return [s for s in symbols if isinstance(s, str)] if isinstance(symbols, list) else []


# --- public API --------------------------------------------------------------------------------


def can_read(reader: Any, writer: Any) -> list[Incompatibility]:
    """All reasons data written with `writer` cannot be read with `reader` (raw JSON schemas, as
    loaded with json.loads). Empty list: compatible."""
    checker = _Checker(reader, writer)
    return checker.compare(
        checker.reader.resolve(reader, ""), checker.writer.resolve(writer, ""), ""
    )


def check_versions(
    subject: str, versions: Sequence[tuple[int, Any]], mode: CompatibilityMode
) -> list[VersionProblem]:
    """versions sorted or not; each version N (N>=2) is checked against N-1 (non-transitive) or
    every earlier one (transitive), in the direction(s) the mode asks.

    "N-1" is the next lower version present. Problems come ordered by new version, then by old
    version (nearest first), backward before forward. Duplicate version numbers: ValueError.
    """
    ordered = sorted(versions, key=lambda v: v[0])
    numbers = [n for n, _ in ordered]
    if len(set(numbers)) != len(numbers):
        raise ValueError(f"{subject}: duplicate version numbers in {numbers}")
    directions = CompatibilityMode(mode).directions
    problems: list[VersionProblem] = []
    for i in range(1, len(ordered)):
        new_version, new_schema = ordered[i]
        earlier = ordered[:i][::-1] if CompatibilityMode(mode).transitive else [ordered[i - 1]]
        for old_version, old_schema in earlier:
            for direction in directions:
                found = (
                    can_read(new_schema, old_schema)
                    if direction == "backward"
                    else can_read(old_schema, new_schema)
                )
                problems.extend(
                    VersionProblem(subject, new_version, old_version, direction, inc)
                    for inc in found
                )
    return problems
