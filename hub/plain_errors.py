"""Validation errors in plain English: what is wrong and what to do, never a library's wording.

One translation from pydantic's error types (`ErrorDetails`: type, loc, msg, input, ctx) to a
sentence a council officer can act on. Used wherever the hub reports a pydantic error: the
configuration (systems, agreements, connectors), settings, event validation (API and CSV
imports) and the API's 422 handler.

Messages never quote the value given (it may be personal data), except a `kind:` tag or a
choice, which are configuration words.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from typing import Any

from hub.pseudonym import NO_PERSON, SUBJECT_KEY_PATTERN

# Regular expressions of the hub's models, in words (a raw regex helps nobody).
PATTERN_WORDS: dict[str, str] = {
    r"^[a-z0-9][a-z0-9-]{0,62}$": (
        "lower-case letters, digits and hyphens, starting with a letter or digit, at most 63 "
        "characters (e.g. council-tax)"
    ),
    r"^[a-z0-9][a-z0-9-]{0,63}$": (
        "lower-case letters, digits and hyphens, starting with a letter or digit, at most 64 "
        "characters (e.g. ig-alice)"
    ),
    r"^[a-z]+(\.[a-z]+)*$": "lower-case words joined by dots (e.g. address.changed)",
    SUBJECT_KEY_PATTERN: (
        "a person's pseudonymous key, 32 hexadecimal digits as `hub audit report` shows it, "
        f"or {NO_PERSON}"
    ),
    r"^[a-z_][a-z0-9_]*(\.[a-z_][a-z0-9_]*)*$": (
        "a field name in lower case, with dots between levels (e.g. new_address.postcode)"
    ),
    r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$": (
        "letters, digits, dots, hyphens and underscores, starting with a letter or digit, at "
        "most 64 characters (e.g. DSA-001)"
    ),
    r"^[0-9a-f]{64}$": "64 lower-case hexadecimal characters (`hub keys new` prints one)",
    r"^https?://[^\s/?#]+[^\s]*$": "an http:// or https:// address without spaces",
    r"^[A-Za-z0-9._-]{1,249}$": (
        "a Kafka topic name: letters, digits, dots, hyphens and underscores (at most 249)"
    ),
    r"^[0-9]{1,12}$": "1 to 12 digits (a UPRN)",
    r"^[A-Za-z0-9._:\-]+$": "letters, digits, dots, hyphens, underscores and colons",
    r"^[A-Za-z0-9._:\-]{1,128}$": (
        "letters, digits, dots, hyphens, underscores and colons (at most 128)"
    ),
    r"^[A-Za-z_][A-Za-z0-9_]{0,62}(\.[A-Za-z_][A-Za-z0-9_]{0,62})?$": (
        "a table name, optionally with its schema (e.g. moves or public.moves)"
    ),
    r"^(BACKWARD|FORWARD|FULL)(_TRANSITIVE)?$|^NONE$": (
        "BACKWARD, FORWARD, FULL, one of those with _TRANSITIVE, or NONE"
    ),
    "^(open|released|retried)$": "open, released or retried",
}

DATE_FORM = "a real date written YYYY-MM-DD (e.g. 2028-12-31)"
DATETIME_FORM = (
    "a date and time written YYYY-MM-DDTHH:MM:SS with its offset (e.g. 2026-05-01T09:30:00Z)"
)

_TYPE_WORDS = {
    "string_type": "text",
    "int_type": "a whole number",
    "float_type": "a number",
    "bool_type": "true or false",
    "list_type": "a list",
    "tuple_type": "a list",
    "set_type": "a list",
    "frozen_set_type": "a list",
    "dict_type": "a mapping (key: value lines)",
    "model_type": "a mapping (key: value lines)",
    "model_attributes_type": "a mapping (key: value lines)",
    "bytes_type": "text",
    "date_type": DATE_FORM,
    "datetime_type": DATETIME_FORM,
    "none_required": "empty",
}


def _quoted(values: Iterable[object]) -> str:
    items = [f"'{v}'" for v in values]
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " or " + items[-1]


def _tags(ctx: Mapping[str, Any]) -> list[str]:
    expected = str(ctx.get("expected_tags", ""))
    return [t.strip().strip("'") for t in expected.split(",") if t.strip()]


def _date_problem(reason: str) -> str:
    reason = reason.lower()
    if "month" in reason:
        return "month must be 1 to 12"
    if "day value" in reason or "day" in reason:
        return "that month has no such day"
    if "year" in reason:
        return "the year is not valid"
    return ""


def plain_message(error: Mapping[str, Any]) -> str:
    """One pydantic error as a sentence: what is wrong and what to do (no value quoted)."""
    kind = str(error.get("type", ""))
    ctx: Mapping[str, Any] = error.get("ctx") or {}
    if kind == "missing":
        return "required, but missing: add it"
    if kind == "extra_forbidden":
        return "not a setting this file knows: remove it, or check its spelling and indentation"
    if kind == "union_tag_invalid":
        tag = ctx.get("tag", "")
        field = ctx.get("discriminator", "kind").strip("'")
        return f"'{tag}' is not a known {field}: use {_quoted(_tags(ctx))}"
    if kind == "union_tag_not_found":
        field = str(ctx.get("discriminator", "kind")).strip("'")
        return f"says no {field}: add `{field}:` with one of the kinds this setting takes"
    if kind == "string_pattern_mismatch":
        pattern = str(ctx.get("pattern", ""))
        words = PATTERN_WORDS.get(pattern)
        return f"not in the expected form: {words}" if words else "not in the expected form"
    if kind in ("date_from_datetime_parsing", "date_parsing", "date_from_datetime_inexact"):
        why = _date_problem(str(ctx.get("error", "")))
        return f"not a date ({why}): expected {DATE_FORM}" if why else f"expected {DATE_FORM}"
    if kind in ("datetime_parsing", "datetime_from_date_parsing", "datetime_object_invalid"):
        return f"not a date and time: expected {DATETIME_FORM}"
    if kind in ("timezone_aware",):
        return f"needs its offset from UTC: expected {DATETIME_FORM}"
    if kind in ("int_parsing", "int_from_float"):
        return "expected a whole number (e.g. 4)"
    if kind == "float_parsing":
        return "expected a number (e.g. 2.5)"
    if kind == "bool_parsing":
        return "expected true or false"
    if kind in ("literal_error", "enum"):
        expected = str(ctx.get("expected", "")).replace(" or ", ", ")
        choices = [c.strip().strip("'") for c in expected.split(",") if c.strip()]
        return f"expected {_quoted(choices)}" if choices else "not one of the allowed values"
    if kind in ("too_short", "string_too_short"):
        least = ctx.get("min_length", 1)
        if kind == "string_too_short":
            return "must not be empty" if least == 1 else f"needs at least {least} characters"
        return "must not be empty" if least == 1 else f"needs at least {least} entries"
    if kind in ("too_long", "string_too_long"):
        most = ctx.get("max_length", "")
        unit = "characters" if kind == "string_too_long" else "entries"
        return f"too long: at most {most} {unit}"
    for bound, words in (
        ("greater_than_equal", "at least"),
        ("greater_than", "more than"),
        ("less_than_equal", "at most"),
        ("less_than", "less than"),
    ):
        if kind == bound:
            limit = next(iter(ctx.values()), "")
            return f"must be {words} {limit}"
    if kind in _TYPE_WORDS:
        return f"expected {_TYPE_WORDS[kind]}"
    if kind == "json_invalid":
        return "not valid JSON: check the quotes, commas and brackets"
    if kind == "json_type":
        return "expected JSON text"
    if kind in ("value_error", "assertion_error"):
        inner = ctx.get("error")
        text = str(inner) if inner is not None else str(error.get("msg", ""))
        return text.removeprefix("Value error, ").removeprefix("Assertion failed, ")
    if kind in ("url_parsing", "url_scheme", "url_type"):
        return "not a web address: expected e.g. https://example.org/path"
    if kind == "frozen_instance":
        return "cannot be changed"
    # a type the hub has not met: pydantic's own words, without its jargon prefix
    return str(error.get("msg", "not valid")).removeprefix("Input should be ").strip()


def field_path(loc: Iterable[object]) -> str:
    """A pydantic location as a dotted path (tagged-union steps like `webhook` kept)."""
    return ".".join(str(p) for p in loc)


def closest(name: str, known: Iterable[str]) -> str | None:
    """The known name closest to a misspelt one (difflib), or None when none is close."""
    found = difflib.get_close_matches(name, list(known), n=1, cutoff=0.6)
    return found[0] if found else None
