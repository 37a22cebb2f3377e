"""Service record extracts: each service's identifying fields for its people, validated and
minimised (only the fields below are ever kept), from the API, a CSV/XLSX file or SQL rows."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from hub.errors import Problem, ProblemsError
from hub.identity import normalise
from hub.identity.normalise import PersonFields

FIELDS = (
    "local_id",
    "given_names",
    "family_name",
    "date_of_birth",
    "uprn",
    "address",
    "postcode",
    "previous_uprn",
    "previous_postcode",
    "email",
    "phone",
    "nhs_number",
)
DELETED = "deleted"  # a row flag: the service no longer holds this person
_LIMITS = {
    "local_id": 64,
    "given_names": 200,
    "family_name": 200,
    "address": 500,
    "email": 254,
    "phone": 32,
}
MAX_BATCH = 10_000


class ExtractError(ProblemsError):
    code = "extract_invalid"


@dataclass(frozen=True)
class ExtractBatch:
    upserts: tuple[PersonFields, ...]
    deletions: tuple[str, ...]


def _text(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _truthy(value: Any) -> bool:
    return str(value).strip().lower() in ("1", "true", "yes", "y", "deleted")


def mapped_row(cells: Mapping[str, Any], columns: Mapping[str, str]) -> dict[str, Any]:
    """A connector's row (any columns) as an extract row: only the mapped columns are read
    (field -> column), empty cells left out; every other column is dropped unread."""
    out: dict[str, Any] = {}
    for field, column in columns.items():
        value = cells.get(column)
        if value is not None and str(value).strip() != "":
            out[field] = value
    return out


def parse_rows(
    rows: Iterable[Mapping[str, Any]],
    where: str = "records",
    numbers: Sequence[int | str] | None = None,
) -> ExtractBatch:
    """Validate rows (dicts keyed by FIELDS, plus an optional `deleted` flag). Unknown keys are
    refused (nothing but identifying fields is held); every problem is named (row and field).
    `numbers`: how each row is named (a file's line number, a table's key) instead of [n]."""
    upserts: list[PersonFields] = []
    deletions: list[str] = []
    problems: list[Problem] = []
    seen: set[str] = set()
    for n, row in enumerate(rows, start=1):
        at = f"{where}[{n}]" if numbers is None else f"{where} row {numbers[n - 1]}"
        unknown = sorted(set(row) - set(FIELDS) - {DELETED})
        if unknown:
            problems.append(
                Problem(
                    f"{at}",
                    "unknown_field",
                    f"fields {unknown} are not identifying fields the hub keeps "
                    f"(allowed: {', '.join(FIELDS)}, {DELETED})",
                )
            )
            continue
        local_id = _text(row.get("local_id"))
        if local_id is None:
            problems.append(
                Problem(f"{at}.local_id", "required", "every record needs its local_id")
            )
            continue
        if local_id in seen:
            problems.append(
                Problem(f"{at}.local_id", "duplicate", f"{local_id!r} appears twice in this batch")
            )
            continue
        seen.add(local_id)
        if _truthy(row.get(DELETED, "")):
            deletions.append(local_id)
            continue
        values = {f: _text(row.get(f)) for f in FIELDS}
        for f, limit in _LIMITS.items():
            if values[f] is not None and len(values[f] or "") > limit:
                problems.append(Problem(f"{at}.{f}", "too_long", f"at most {limit} characters"))
        dob_text = row.get("date_of_birth")
        dob = (
            dob_text if isinstance(dob_text, date) else normalise.parse_dob(values["date_of_birth"])
        )
        if values["date_of_birth"] is not None and dob is None:
            problems.append(
                Problem(
                    f"{at}.date_of_birth",
                    "date",
                    "expected a date as YYYY-MM-DD or DD/MM/YYYY",
                )
            )
        for f in ("uprn", "previous_uprn"):
            if values[f] is not None and normalise.uprn(values[f]) is None:
                problems.append(Problem(f"{at}.{f}", "uprn", "a UPRN is 1 to 12 digits"))
        for f in ("postcode", "previous_postcode"):
            if values[f] is not None and normalise.postcode(values[f]) is None:
                problems.append(
                    Problem(f"{at}.{f}", "postcode", "not a UK postcode (e.g. EX4 7QT)")
                )
        upserts.append(
            PersonFields(
                local_id=local_id,
                given_names=values["given_names"],
                family_name=values["family_name"],
                date_of_birth=dob if isinstance(dob, date) else None,
                uprn=normalise.uprn(values["uprn"]),
                address=values["address"],
                postcode=normalise.postcode(values["postcode"]),
                previous_uprn=normalise.uprn(values["previous_uprn"]),
                previous_postcode=normalise.postcode(values["previous_postcode"]),
                email=values["email"],
                phone=values["phone"],
                nhs_number=values["nhs_number"],
            )
        )
    if problems:
        raise ExtractError(f"the extract has {len(problems)} problem(s)", problems)
    return ExtractBatch(tuple(upserts), tuple(deletions))


def blocking_keys(p: PersonFields) -> dict[str, str | None]:
    """The indexed keys a candidate lookup uses (the blocking rules' columns)."""
    f = normalise.features(p)
    names = _names(f)
    return {"k_postcode": f["postcode"], "k_uprn": f["uprn"], "k_dob": f["dob"], "k_names": names}


def _names(f: Mapping[str, str | None]) -> str | None:
    """Name sounds and year of birth: selective enough for a lookup (Smith John is common;
    Smith John born 1970 is not), and still found after a move and a mistyped day or month."""
    if not f["family_sound"] or not f["given_sound"]:
        return None
    return f"{f['family_sound']}|{f['given_sound']}|{(f['dob'] or '')[:4]}"


def probe_keys(f: Mapping[str, str | None]) -> dict[str, Sequence[str]]:
    """Lookup values for one probe's features: its current and previous address, its date of
    birth and its day/month swap, its name sounds."""

    def present(*values: str | None) -> list[str]:
        return sorted({v for v in values if v})

    names = _names(f)
    return {
        "k_postcode": present(f["postcode"], f["prev_postcode"]),
        "k_uprn": present(f["uprn"], f["prev_uprn"]),
        "k_dob": present(f["dob"], f["dob_swapped"]),
        "k_names": present(names),
    }
