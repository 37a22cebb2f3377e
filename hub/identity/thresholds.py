"""Decision bands per event type: a death needs more certainty than a change of email."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum


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


def threshold_problem(event_type: str, pair: object) -> str | None:
    """What is wrong with one row of HUB_MATCH_THRESHOLDS, in words to act on (None: nothing):
    [auto_link, review], two probabilities with 0 < review <= auto_link <= 1."""
    if not (
        isinstance(pair, list | tuple)
        and len(pair) == 2
        and all(isinstance(p, int | float) and not isinstance(p, bool) for p in pair)
    ):
        return f"{event_type}: give [auto_link, review], two probabilities (e.g. [0.999, 0.5])"
    auto_link, review = float(pair[0]), float(pair[1])
    if not 0 < review <= auto_link <= 1:
        return (
            f"{event_type}: [{pair[0]}, {pair[1]}]: expected 0 < review <= auto_link <= 1 "
            "(e.g. [0.999, 0.5])"
        )
    return None
