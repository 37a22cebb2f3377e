"""The comparisons that know UK data, written twice side by side: as Splink SQL (training and
bulk matching on DuckDB) and as Python (scoring one event in the router). A unit test checks
that both put the same pairs in the same level.

Levels are tried top to bottom; the first that holds is the pair's level (Splink's semantics).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from rapidfuzz.distance import JaroWinkler, Levenshtein

Features = Mapping[str, str | None]
Test = Callable[[Features, Features], bool]


@dataclass(frozen=True)
class Level:
    label: str
    sql: str
    test: Test
    null: bool = False
    exact: bool = False  # full agreement (for "which fields agreed")


@dataclass(frozen=True)
class Comparison:
    name: str  # the field shown to people (given name, date of birth, ...)
    levels: tuple[Level, ...]

    def level(self, left: Features, right: Features) -> int:
        for i, lv in enumerate(self.levels):
            if lv.test(left, right):
                return i
        return len(self.levels) - 1

    def splink(self) -> dict[str, Any]:
        """The comparison as a Splink settings dict."""
        return {
            "output_column_name": self.name,
            "comparison_description": self.name,
            "comparison_levels": [
                {"sql_condition": lv.sql, "label_for_charts": lv.label}
                | ({"is_null_level": True} if lv.null else {})
                for lv in self.levels
            ],
        }


def _eq(a: str | None, b: str | None) -> bool:
    return a is not None and b is not None and a == b


def _jw(a: str | None, b: str | None) -> float:
    if a is None or b is None:
        return 0.0
    return float(JaroWinkler.similarity(a, b))


def _null(col: str) -> Level:
    return Level(
        "missing",
        f'"{col}_l" IS NULL OR "{col}_r" IS NULL',
        lambda lt, rt: lt[col] is None or rt[col] is None,
        null=True,
    )


def _exact(col: str, label: str = "exact") -> Level:
    return Level(label, f'"{col}_l" = "{col}_r"', lambda lt, rt: _eq(lt[col], rt[col]), exact=True)


def _jw_at(col: str, threshold: float) -> Level:
    return Level(
        f"Jaro-Winkler >= {threshold}",
        f'jaro_winkler_similarity("{col}_l", "{col}_r") >= {threshold}',
        lambda lt, rt: _jw(lt[col], rt[col]) >= threshold,
    )


def _else() -> Level:
    return Level("all other", "ELSE", lambda lt, rt: True)


def _parts_overlap(a: str | None, b: str | None) -> bool:
    return a is not None and b is not None and bool(set(a.split(" ")) & set(b.split(" ")))


def _cross(a: str, b: str) -> Callable[[Features, Features], bool]:
    """Either side's `a` equals the other side's `b` (a previous address against a current one)."""
    return lambda lt, rt: _eq(lt[a], rt[b]) or _eq(lt[b], rt[a])


def _missing_address(f: Features) -> bool:
    return f["uprn"] is None and f["postcode"] is None


GIVEN = Comparison(
    "given_name",
    (
        _null("given"),
        _exact("given"),
        Level(
            "nickname or short form",
            '"given_canon_l" = "given_canon_r"',
            lambda lt, rt: _eq(lt["given_canon"], rt["given_canon"]),
        ),
        _jw_at("given", 0.92),
        _jw_at("given", 0.8),
        _else(),
    ),
)

FAMILY = Comparison(
    "family_name",
    (
        _null("family"),
        _exact("family"),
        Level(
            "a part agrees (hyphenated, double-barrelled)",
            "list_has_any(string_split(\"family_l\", ' '), string_split(\"family_r\", ' '))",
            lambda lt, rt: _parts_overlap(lt["family"], rt["family"]),
        ),
        _jw_at("family", 0.92),
        _jw_at("family", 0.8),
        _else(),
    ),
)

DOB = Comparison(
    "date_of_birth",
    (
        _null("dob"),
        _exact("dob"),
        Level(
            "day and month swapped",
            '"dob_swapped_l" = "dob_r"',
            lambda lt, rt: _eq(lt["dob_swapped"], rt["dob"]),
        ),
        Level(
            "one character differs",
            'levenshtein("dob_l", "dob_r") <= 1',
            lambda lt, rt: Levenshtein.distance(lt["dob"] or "", rt["dob"] or "") <= 1,
        ),
        Level(
            "same year",
            'substr("dob_l", 1, 4) = substr("dob_r", 1, 4)',
            lambda lt, rt: (lt["dob"] or "")[:4] == (rt["dob"] or "")[:4],
        ),
        _else(),
    ),
)

ADDRESS = Comparison(
    "address",
    (
        Level(
            "missing",
            '("uprn_l" IS NULL AND "postcode_l" IS NULL) OR ("uprn_r" IS NULL AND "postcode_r" IS NULL)',
            lambda lt, rt: _missing_address(lt) or _missing_address(rt),
            null=True,
        ),
        _exact("uprn", "same UPRN"),
        Level(
            "previous address UPRN",
            '"prev_uprn_l" = "uprn_r" OR "uprn_l" = "prev_uprn_r"',
            _cross("prev_uprn", "uprn"),
        ),
        Level(
            "same postcode",
            '"postcode_l" = "postcode_r"',
            lambda lt, rt: _eq(lt["postcode"], rt["postcode"]),
        ),
        Level(
            "previous address postcode",
            '"prev_postcode_l" = "postcode_r" OR "postcode_l" = "prev_postcode_r"',
            _cross("prev_postcode", "postcode"),
        ),
        Level(
            "same district",
            '"district_l" = "district_r"',
            lambda lt, rt: _eq(lt["district"], rt["district"]),
        ),
        _else(),
    ),
)


def _optional(name: str, col: str) -> Comparison:
    return Comparison(name, (_null(col), _exact(col), _else()))


COMPARISONS: tuple[Comparison, ...] = (
    GIVEN,
    FAMILY,
    DOB,
    ADDRESS,
    _optional("email", "email"),
    _optional("phone", "phone"),
    _optional("nhs_number", "nhs"),
)

# Pairs Splink generates for bulk matching: same postcode, same UPRN (or previous UPRN), same
# date of birth (or its day/month swap), same name sounds. The one-event lookup uses the same
# keys (hub.identity.extracts.probe_keys), its name sounds narrowed by the year of birth.
BLOCKING_SQL: tuple[str, ...] = (
    'l."postcode" = r."postcode"',
    'l."uprn" = r."uprn"',
    'l."prev_uprn" = r."uprn"',
    'l."dob" = r."dob"',
    'l."dob_swapped" = r."dob"',
    'l."family_sound" = r."family_sound" AND l."given_sound" = r."given_sound"',
)
# Expectation maximisation passes (each leaves the comparisons it blocks on untrained).
TRAINING_BLOCKS: tuple[str, ...] = (
    'l."dob" = r."dob"',
    'l."postcode" = r."postcode"',
    'l."family_sound" = r."family_sound" AND l."given_sound" = r."given_sound"',
)
