"""Data quality rules that need context: the clock, the configured date window, the gazetteer."""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from hub.errors import Problem
from hub.events.gazetteer import Gazetteer
from hub.timeutil import uk_date

# Which addresses of a move lie in the council's area (and so must be in its gazetteer).
_IN_AREA = {
    "within_area": ("previous_address", "new_address"),
    "into_area": ("new_address",),
    "out_of_area": ("previous_address",),
}
EARLIEST_PLAUSIBLE = date(1900, 1, 1)
CLOCK_SKEW = timedelta(minutes=5)


@dataclass(frozen=True)
class RuleContext:
    now: datetime
    effective_past_days: int = 400
    effective_future_days: int = 90
    gazetteer: Gazetteer | None = None

    @property
    def today(self) -> date:
        return uk_date(self.now)


@dataclass(frozen=True)
class RuleConfig:
    """The rules' settings, loaded once; `at(now)` gives the context for one validation."""

    effective_past_days: int = 400
    effective_future_days: int = 90
    gazetteer: Gazetteer | None = None

    def at(self, now: datetime) -> RuleContext:
        return RuleContext(
            now, self.effective_past_days, self.effective_future_days, self.gazetteer
        )


# Bidirectional formatting controls: they make text display differently from what it holds
# (a name that reads one way on screen and sorts, matches or prints another).
BIDI_CONTROLS = frozenset(
    "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
)
LINE_BREAKS = frozenset("\t\n\r")
# Free text where tabs and line breaks are sensible; everywhere else (ids, names, addresses,
# phone, email) they are refused too.
FREE_TEXT_FIELDS = frozenset({"reason", "purpose"})


# Unicode's Cc (control) category is exactly U+0000-U+001F and U+007F-U+009F (a stable
# property); tests/unit/test_input_limits.py checks the patterns against unicodedata.
CONTROLS = frozenset(map(chr, [*range(0x00, 0x20), *range(0x7F, 0xA0)]))


def _any_of(chars: frozenset[str]) -> re.Pattern[str]:
    return re.compile("[" + "".join(f"\\u{ord(ch):04x}" for ch in sorted(chars)) + "]")


_FORBIDDEN = _any_of(CONTROLS | BIDI_CONTROLS)
_FORBIDDEN_IN_FREE_TEXT = _any_of((CONTROLS - LINE_BREAKS) | BIDI_CONTROLS)


def forbidden_character(text: str, free_text: bool = False) -> str | None:
    """The first character `text` may not hold (NUL and other controls, bidi controls), or None."""
    found = (_FORBIDDEN_IN_FREE_TEXT if free_text else _FORBIDDEN).search(text)
    return found.group() if found is not None else None


def _clean(values: Any) -> bool:
    """True when no text in `values`, at any depth, holds a control or bidi character, line
    breaks included (the common case, checked without naming locations). A `corrected_data`
    (JSON whose escapes may spell one) is never taken as clean here."""
    stack: list[Any] = [values]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if _FORBIDDEN.search(item) is not None:
                return False
        elif isinstance(item, dict):
            if "corrected_data" in item:
                return False
            stack.extend(item.values())
        elif isinstance(item, list | tuple):
            stack.extend(item)
    return True


def _strings(value: Any, location: str) -> Iterator[tuple[str, str]]:
    stack: list[tuple[Any, str]] = [(value, location)]
    while stack:
        item, where = stack.pop()
        if isinstance(item, str):
            yield where, item
        elif isinstance(item, dict):
            stack.extend((v, f"{where}.{k}" if where else str(k)) for k, v in item.items())
        elif isinstance(item, list | tuple):
            stack.extend((v, f"{where}.{i}") for i, v in enumerate(item))


def character_problems(values: dict[str, Any], prefix: str = "") -> list[Problem]:
    """A problem for every text field (at any depth) holding a forbidden character.

    The problem names the field and the character's code point, never the value."""
    if _clean(values):
        return []
    problems: list[Problem] = []
    for where, text in _strings(values, prefix.rstrip(".")):
        name = where.rsplit(".", 1)[-1]
        if name == "corrected_data" and text.startswith("{"):
            try:
                parsed = json.loads(text)
            except ValueError:
                parsed = None
            if isinstance(parsed, dict):
                problems.extend(character_problems(parsed, f"{where}."))
                continue
        ch = forbidden_character(text, free_text=name in FREE_TEXT_FIELDS)
        if ch is not None:
            kind = "a bidirectional control" if ch in BIDI_CONTROLS else "a control character"
            problems.append(
                Problem(
                    where,
                    "forbidden_character",
                    f"contains {kind} (U+{ord(ch):04X} {unicodedata.name(ch, 'control')}); "
                    "remove it",
                )
            )
    return sorted(problems, key=lambda p: p.location)


def _effective_date(data: dict[str, Any], ctx: RuleContext, problems: list[Problem]) -> None:
    value = data.get("effective_date")
    if not isinstance(value, date):
        return
    earliest = ctx.today - timedelta(days=ctx.effective_past_days)
    latest = ctx.today + timedelta(days=ctx.effective_future_days)
    if not earliest <= value <= latest:
        problems.append(
            Problem(
                "data.effective_date",
                "effective_date_window",
                f"{value.isoformat()} is outside the accepted window {earliest.isoformat()} to"
                f" {latest.isoformat()} (HUB_EFFECTIVE_DATE_PAST_DAYS / _FUTURE_DAYS)",
            )
        )


def _addresses(data: dict[str, Any], ctx: RuleContext, problems: list[Problem]) -> dict[str, Any]:
    """UPRNs in the area must be in the gazetteer; their canonical address replaces what was sent."""
    if ctx.gazetteer is None:
        return data
    out = dict(data)
    for field in _IN_AREA.get(str(data.get("move_type", "within_area")), ()):
        address = data.get(field)
        if not isinstance(address, dict):
            continue
        found = ctx.gazetteer.lookup(str(address.get("uprn")))
        if found is None:
            problems.append(
                Problem(
                    f"data.{field}.uprn",
                    "uprn_in_gazetteer",
                    f"UPRN {address.get('uprn')} is not in the gazetteer ({ctx.gazetteer.source.name})",
                )
            )
            continue
        out[field] = {
            "uprn": found.uprn,
            "lines": list(found.lines) or address["lines"],
            "postcode": found.postcode,
        }
    return out


def apply_rules(
    event_type: str, data: dict[str, Any], ctx: RuleContext
) -> tuple[dict[str, Any], list[Problem]]:
    """Check the contextual rules; returns the (possibly canonicalised) data and every problem."""
    problems: list[Problem] = []
    if event_type in ("address.changed", "name.changed"):
        _effective_date(data, ctx, problems)
    if event_type == "address.changed":
        data = _addresses(data, ctx, problems)
    if event_type == "death.notified":
        died = data.get("date_of_death")
        if isinstance(died, date) and died > ctx.today:
            problems.append(
                Problem("data.date_of_death", "not_in_future", "date of death is in the future")
            )
        elif isinstance(died, date) and died < EARLIEST_PLAUSIBLE:
            problems.append(
                Problem(
                    "data.date_of_death",
                    "plausible_date",
                    f"date of death before {EARLIEST_PLAUSIBLE}",
                )
            )
    if event_type == "consent.changed":
        at = data.get("effective_at")
        if isinstance(at, datetime) and at > ctx.now + CLOCK_SKEW:
            problems.append(
                Problem(
                    "data.effective_at", "not_in_future", "consent cannot take effect in the future"
                )
            )
    return data, problems
