"""Data minimisation: keep only the fields an agreement allows."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

_MISSING = object()


def _lookup(data: Mapping[str, Any], path: str) -> Any:
    node: Any = data
    for part in path.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return _MISSING
        node = node[part]
    return node


def minimise(data: Mapping[str, Any], allowed: Iterable[str]) -> dict[str, Any]:
    """Copy only the allowed dotted paths of `data` (a path to a record keeps the whole record).

    Paths absent from the data are skipped; nothing outside the allowed paths is ever copied.
    """
    out: dict[str, Any] = {}
    for path in sorted(set(allowed)):
        value = _lookup(data, path)
        if value is _MISSING:
            continue
        *parents, leaf = path.split(".")
        target = out
        for part in parents:
            target = target.setdefault(part, {})
        target[leaf] = value
    return out


def shared_field_names(data: Mapping[str, Any], allowed: Iterable[str]) -> tuple[str, ...]:
    """The allowed paths actually present in the data, sorted: what the audit records as shared."""
    return tuple(p for p in sorted(set(allowed)) if _lookup(data, p) is not _MISSING)
