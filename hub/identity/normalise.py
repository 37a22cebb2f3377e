"""Normalising the identifying fields of UK records before they are compared.

Pure and deterministic: the same record always gives the same features, whether it comes from a
service's extract or from an event, so Splink (bulk) and the one-event scorer see the same values.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date
from functools import cache, lru_cache
from importlib import resources

import jellyfish

_NOT_LETTERS = re.compile(r"[^a-z\s-]")
_SPACES = re.compile(r"[\s-]+")
_POSTCODE = re.compile(r"^([A-Z]{1,2}[0-9][A-Z0-9]?)([0-9][A-Z]{2})$")
_TITLES = frozenset({"mr", "mrs", "ms", "miss", "dr", "prof", "rev", "sir", "dame", "mx", "lady"})
# The normalisers are pure and their inputs repeat (names, postcodes): memoised, a record's
# features cost a few dictionary lookups instead of accent folding, regexes and Metaphone.
_memo = lru_cache(maxsize=1 << 17)


@cache
def nickname_table() -> dict[str, str]:
    """Variant -> canonical given name, from the repo's nicknames.csv (first group wins)."""
    text = resources.files("hub.identity").joinpath("nicknames.csv").read_text(encoding="utf-8")
    table: dict[str, str] = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        canonical, *variants = [n.strip() for n in line.split(",") if n.strip()]
        table.setdefault(canonical, canonical)
        for v in variants:
            table.setdefault(v, canonical)
    return table


@_memo
def fold(text: str | None) -> str:
    """Lower case, accents removed, only letters, spaces and hyphens kept."""
    if not text:
        return ""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return _NOT_LETTERS.sub("", ascii_text.lower().replace("'", "")).strip()


@_memo
def given_name(given_names: str | None) -> str | None:
    """The first given name (titles dropped), folded; None when there is none."""
    for token in _SPACES.split(fold(given_names)):
        if token and token not in _TITLES:
            return token
    return None


@_memo
def canonical_given(name: str | None) -> str | None:
    """`bill` -> `william`; a name with no entry is its own canonical form."""
    if name is None:
        return None
    return nickname_table().get(name, name)


@_memo
def family_name(family: str | None) -> str | None:
    """Family name folded, hyphens and double barrels as space-separated parts
    (`Smith-Jones` -> `smith jones`), so a part can agree on its own."""
    parts = [p for p in _SPACES.split(fold(family)) if p]
    return " ".join(parts) or None


@_memo
def name_sound(name: str | None) -> str | None:
    """A phonetic key (Metaphone) of a name, ignoring spaces: the name-sound blocking key."""
    if not name:
        return None
    return jellyfish.metaphone(name.replace(" ", "")) or None


@_memo
def postcode(text: str | None) -> str | None:
    """`ex4 7qt` -> `EX4 7QT`; None when it is not a UK postcode's shape."""
    if not text:
        return None
    compact = re.sub(r"\s+", "", text.upper())
    m = _POSTCODE.match(compact)
    return f"{m.group(1)} {m.group(2)}" if m else None


def outward(pc: str | None) -> str | None:
    """The postcode district (`EX4 7QT` -> `EX4`)."""
    return pc.split(" ", 1)[0] if pc else None


@_memo
def uprn(text: str | int | None) -> str | None:
    """A UPRN as digits without leading zeros (1 to 12 digits); None otherwise."""
    if text is None:
        return None
    digits = str(text).strip()
    if not digits.isdigit() or len(digits) > 12:
        return None
    return digits.lstrip("0") or None


def parse_dob(value: str | date | None) -> date | None:
    """ISO (`1970-03-04`) or UK (`04/03/1970`) date of birth; None when absent or invalid."""
    if value is None or isinstance(value, date):
        return value
    text = value.strip()
    if not text:
        return None
    try:
        if "/" in text:
            d, m, y = (int(p) for p in text.split("/"))
            return date(y, m, d)
        return date.fromisoformat(text[:10])
    except ValueError:
        return None


@_memo
def swapped(d: date | None) -> date | None:
    """The date with day and month exchanged (a US-style entry of a UK date), when that is a
    different valid date; None otherwise."""
    if d is None or d.day == d.month or d.day > 12:
        return None
    return date(d.year, d.day, d.month)


def email(text: str | None) -> str | None:
    t = (text or "").strip().lower()
    return t if "@" in t else None


def phone(text: str | None) -> str | None:
    """UK phone digits, +44 / 0044 written as a leading 0."""
    digits = re.sub(r"\D", "", text or "")
    if digits.startswith("0044"):
        digits = "0" + digits[4:]
    elif digits.startswith("44") and len(digits) == 12:
        digits = "0" + digits[2:]
    return digits if len(digits) >= 10 else None


def nhs_number(text: str | None) -> str | None:
    """Ten digits with a valid Modulus 11 check digit; None otherwise."""
    digits = re.sub(r"\D", "", text or "")
    if len(digits) != 10:
        return None
    total = sum(int(c) * (10 - i) for i, c in enumerate(digits[:9]))
    check = 11 - total % 11
    check = 0 if check == 11 else check
    return digits if check != 10 and check == int(digits[9]) else None


@dataclass(frozen=True)
class PersonFields:
    """The identifying fields a service supplies for one of its people (minimised: only these)."""

    local_id: str
    given_names: str | None = None
    family_name: str | None = None
    date_of_birth: date | None = None
    uprn: str | None = None
    address: str | None = None
    postcode: str | None = None
    previous_uprn: str | None = None
    previous_postcode: str | None = None
    email: str | None = None
    phone: str | None = None
    nhs_number: str | None = None


FEATURES = (
    "given",
    "given_canon",
    "given_sound",
    "family",
    "family_sound",
    "dob",
    "dob_swapped",
    "postcode",
    "district",
    "uprn",
    "prev_postcode",
    "prev_uprn",
    "email",
    "phone",
    "nhs",
)


def features(p: PersonFields) -> dict[str, str | None]:
    """The normalised values compared (one column each, in Splink and in the one-event scorer)."""
    given = given_name(p.given_names)
    family = family_name(p.family_name)
    dob = p.date_of_birth
    pc = postcode(p.postcode)
    dob_swapped = swapped(dob)
    return {
        "given": given,
        "given_canon": canonical_given(given),
        "given_sound": name_sound(canonical_given(given)),
        "family": family,
        "family_sound": name_sound(family),
        "dob": dob.isoformat() if dob else None,
        "dob_swapped": dob_swapped.isoformat() if dob_swapped else None,
        "postcode": pc,
        "district": outward(pc),
        "uprn": uprn(p.uprn),
        "prev_postcode": postcode(p.previous_postcode),
        "prev_uprn": uprn(p.previous_uprn),
        "email": email(p.email),
        "phone": phone(p.phone),
        "nhs": nhs_number(p.nhs_number),
    }
