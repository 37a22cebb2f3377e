"""A JSON loader for untrusted input: bounded nesting depth and number size, no NaN/Infinity.

`json.loads` raises RecursionError on deeply nested input and a bare ValueError on integers
of more than 4,300 digits; both would be a 500 at the edge. `load_json` turns every way a
body can be unacceptable into one JsonRejected (a HubError) with a message in the user's terms.
"""

from __future__ import annotations

import json
import math
from typing import Any

from hub.errors import HubError

MAX_DEPTH = 32
MAX_NUMBER_CHARS = 40  # a 64-bit integer has 20 characters; no field of any event needs more


class JsonRejected(HubError):
    """Input that is not JSON, or JSON beyond the hub's limits (depth, number size)."""

    code = "invalid_json"


def _int(text: str) -> int:
    if len(text) > MAX_NUMBER_CHARS:
        raise JsonRejected(
            f"a number in the JSON has {len(text)} characters; the limit is {MAX_NUMBER_CHARS}"
        )
    return int(text)


def _float(text: str) -> float:
    if len(text) > MAX_NUMBER_CHARS:
        raise JsonRejected(
            f"a number in the JSON has {len(text)} characters; the limit is {MAX_NUMBER_CHARS}"
        )
    value = float(text)
    if not math.isfinite(value):
        raise JsonRejected(f"the number {text} is too large")
    return value


def _constant(name: str) -> Any:
    raise JsonRejected(f"{name} is not valid JSON")


def depth(value: Any) -> int:
    """Nesting depth of a parsed JSON value (a scalar is 0, [] and {} are 1), without recursion."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict):
            item = list(item.values())
        if isinstance(item, list):
            level += 1
            deepest = max(deepest, level)
            stack.extend((child, level) for child in item if isinstance(child, dict | list))
    return deepest


def load_json(raw: str | bytes, max_depth: int = MAX_DEPTH, what: str = "the body") -> Any:
    """Parse untrusted JSON. Raises JsonRejected (never RecursionError or a bare ValueError)."""
    try:
        value = json.loads(raw, parse_int=_int, parse_float=_float, parse_constant=_constant)
    except JsonRejected:
        raise
    except RecursionError as exc:
        raise JsonRejected(
            f"{what} is nested too deeply: the limit is {max_depth} levels of objects and arrays"
        ) from exc
    except (ValueError, UnicodeDecodeError) as exc:  # JSONDecodeError is a ValueError
        raise JsonRejected(f"{what} is not valid JSON: {exc}") from exc
    if depth(value) > max_depth:
        raise JsonRejected(
            f"{what} is nested too deeply: the limit is {max_depth} levels of objects and arrays"
        )
    return value
