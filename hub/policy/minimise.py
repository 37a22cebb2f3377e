"""Data minimisation: keep only the fields an agreement allows."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from functools import lru_cache
from typing import Any

_MISSING = object()


@lru_cache(maxsize=1024)
def _paths(allowed: tuple[str, ...]) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """The allowed paths, sorted and de-duplicated, each with its parts (an agreement's few
    lists, asked for at every decision)."""
    return tuple((path, tuple(path.split("."))) for path in sorted(set(allowed)))


def _lookup(data: Mapping[str, Any], parts: tuple[str, ...]) -> Any:
    node: Any = data
    for part in parts:
        # a plain dict first: the ABC check alone costs several times the look-up
        if not (type(node) is dict or isinstance(node, Mapping)) or part not in node:
            return _MISSING
        node = node[part]
    return node


def share(
    data: Mapping[str, Any], allowed: Iterable[str]
) -> tuple[tuple[str, ...], dict[str, Any]]:
    """(`shared_field_names`, `minimise`) in one pass over the paths."""
    names: list[str] = []
    out: dict[str, Any] = {}
    for path, parts in _paths(tuple(allowed)):
        value = _lookup(data, parts)
        if value is _MISSING:
            continue
        names.append(path)
        target = out
        for part in parts[:-1]:
            target = target.setdefault(part, {})
        target[parts[-1]] = value
    return tuple(names), out


def minimise(data: Mapping[str, Any], allowed: Iterable[str]) -> dict[str, Any]:
    """Copy only the allowed dotted paths of `data` (a path to a record keeps the whole record).

    Paths absent from the data are skipped; nothing outside the allowed paths is ever copied.
    """
    return share(data, allowed)[1]


def shared_field_names(data: Mapping[str, Any], allowed: Iterable[str]) -> tuple[str, ...]:
    """The allowed paths actually present in the data, sorted: what the audit records as shared."""
    return share(data, allowed)[0]
