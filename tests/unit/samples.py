"""Sample values used across the unit tests (fictional residents, Exeter-style addresses)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from hub.settings import REPO_ROOT

SCHEMA_DIR = REPO_ROOT / "schemas" / "avro"
CONFIG_DIR = REPO_ROOT / "config"

# A moment when every shipped agreement is active and in date (they run 2026-01-01..2028-12-31).
NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)

SUBJECT = "person-7f3a9c"
OLD_UPRN = "100023336956"
OLD_LINES = ["Flat 4, 17 Sidwell Street", "Exeter"]
OLD_POSTCODE = "EX4 6NN"
NEW_UPRN = "200004711808"
NEW_LINES = ["Rosemary Cottage, 3 Mill Lane", "Topsham"]
NEW_POSTCODE = "EX3 0QX"
EFFECTIVE = date(2026, 3, 14)


def address_data() -> dict[str, Any]:
    """address.changed data as the hub holds it after validation (dates as date objects)."""
    return {
        "previous_address": {"uprn": OLD_UPRN, "lines": list(OLD_LINES), "postcode": OLD_POSTCODE},
        "new_address": {"uprn": NEW_UPRN, "lines": list(NEW_LINES), "postcode": NEW_POSTCODE},
        "effective_date": EFFECTIVE,
        "move_type": "within_area",
    }


def death_data() -> dict[str, Any]:
    return {"date_of_death": date(2026, 2, 27), "verified_by": "registrar", "informant": None}
