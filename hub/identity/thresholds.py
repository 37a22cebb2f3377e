"""Decision bands per event type: a death needs more certainty than a change of email."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from hub.errors import ConfigError, Problem


class Band(StrEnum):
    AUTO = "auto"  # link and route
    REVIEW = "review"  # clerical review: the pair waits for a person
    NONE = "none"  # no link


@dataclass(frozen=True)
class Thresholds:
    auto_link: float  # at or above: linked automatically
    review: float  # at or above (and below auto_link): clerical review

    def band(self, probability: float) -> Band:
        if probability >= self.auto_link:
            return Band.AUTO
        if probability >= self.review:
            return Band.REVIEW
        return Band.NONE


DEFAULT_THRESHOLDS: dict[str, tuple[float, float]] = {
    "*": (0.999, 0.5),
    "death.notified": (0.9999, 0.5),
    "address.changed": (0.999, 0.5),
    "name.changed": (0.9995, 0.5),
    "contact.changed": (0.995, 0.5),
}


def thresholds_for(event_type: str, table: Mapping[str, tuple[float, float]]) -> Thresholds:
    """The event type's thresholds, else the table's `*` row, else the built-in default."""
    auto, review = table.get(event_type) or table.get("*") or DEFAULT_THRESHOLDS["*"]
    return Thresholds(auto, review)


def check_thresholds(table: Mapping[str, tuple[float, float]]) -> None:
    """Each row must be 0 < review <= auto_link <= 1."""
    problems = [
        Problem(
            f"HUB_MATCH_THRESHOLDS[{event_type!r}]",
            "match_thresholds",
            f"expected [auto_link, review] with 0 < review <= auto_link <= 1, got {list(pair)}",
        )
        for event_type, pair in table.items()
        if len(pair) != 2 or not 0 < pair[1] <= pair[0] <= 1
    ]
    if problems:
        raise ConfigError("match thresholds are not valid", problems)
