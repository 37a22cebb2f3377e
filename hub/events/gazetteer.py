"""The council's gazetteer (LLPG) as a CSV: every UPRN in the area and its canonical address.

Columns (header row required): `uprn`, `line1` .. `line5` (any that are present; empty cells
are skipped), `postcode`. Extra columns are ignored, so an LLPG extract with more columns works
once its address columns are named like this.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from hub.errors import ConfigError, Problem
from hub.events.payloads import normalise_postcode

LINE_COLUMNS = ("line1", "line2", "line3", "line4", "line5")


@dataclass(frozen=True)
class GazetteerAddress:
    uprn: str
    lines: tuple[str, ...]
    postcode: str


@dataclass(frozen=True)
class Gazetteer:
    source: Path
    addresses: dict[str, GazetteerAddress]

    def lookup(self, uprn: str) -> GazetteerAddress | None:
        return self.addresses.get(uprn)

    @classmethod
    def from_csv(cls, path: Path) -> Gazetteer:
        problems: list[Problem] = []
        addresses: dict[str, GazetteerAddress] = {}
        try:
            with path.open(newline="", encoding="utf-8-sig") as f:
                reader = csv.DictReader(f)
                missing = {"uprn", "postcode"} - set(reader.fieldnames or ())
                if missing:
                    raise ConfigError(
                        "invalid gazetteer",
                        [
                            Problem(
                                f"{path}:1",
                                "columns",
                                f"missing column(s): {', '.join(sorted(missing))}",
                            )
                        ],
                    )
                for row in reader:
                    where = f"{path}:{reader.line_num}"
                    uprn = (row.get("uprn") or "").strip()
                    if not uprn.isdigit() or len(uprn) > 12:
                        problems.append(
                            Problem(where, "uprn", f"UPRN {uprn!r} is not 1 to 12 digits")
                        )
                        continue
                    try:
                        postcode = normalise_postcode(row.get("postcode") or "")
                    except ValueError as exc:
                        problems.append(Problem(where, "postcode", str(exc)))
                        continue
                    lines = tuple(
                        v.strip() for c in LINE_COLUMNS if (v := row.get(c) or "").strip()
                    )
                    addresses[uprn] = GazetteerAddress(uprn, lines, postcode)
        except (OSError, UnicodeDecodeError, csv.Error) as exc:
            raise ConfigError(
                "cannot read the gazetteer", [Problem(str(path), "readable", str(exc))]
            ) from exc
        if problems:
            raise ConfigError(f"invalid gazetteer {path}", problems)
        return cls(path, addresses)
