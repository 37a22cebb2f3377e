"""Scoring one event about an unlinked person against each recipient's records.

The probe is the person as the event's source (or the reference system) holds them, with what
the event itself says services may still hold (a move's previous address, a change of name's
previous name). Candidates come from indexed blocking-key lookups; each is scored with the
trained model; per recipient the best candidate's band decides: link, review or nothing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Protocol

from hub.identity.bulk import ambiguous
from hub.identity.extracts import probe_keys
from hub.identity.model import MatchModel, PairScore
from hub.identity.normalise import PersonFields, features
from hub.identity.thresholds import Band, thresholds_for


class RecordLookup(Protocol):
    def find(self, systems: Sequence[str], local_id: str) -> PersonFields | None: ...
    def candidates(
        self, systems: Sequence[str], keys: Mapping[str, Sequence[str]], limit: int = 50
    ) -> dict[str, list[PersonFields]]: ...


@dataclass(frozen=True)
class Scored:
    system: str
    local_id: str
    score: PairScore


@dataclass(frozen=True)
class Resolution:
    auto: tuple[Scored, ...] = ()  # link these and route
    review: tuple[Scored, ...] = ()  # candidate pairs for a person


def probe_for(person: PersonFields, event_type: str, data: Mapping[str, Any]) -> PersonFields:
    """What services may still hold: the previous address of a move, the previous name."""
    if event_type == "address.changed":
        prev = data.get("previous_address") or {}
        return replace(
            person,
            previous_uprn=str(prev.get("uprn") or "") or person.previous_uprn,
            previous_postcode=str(prev.get("postcode") or "") or person.previous_postcode,
        )
    if event_type == "name.changed":
        prev = data.get("previous_name") or {}
        return replace(
            person,
            given_names=prev.get("given_names") or person.given_names,
            family_name=prev.get("family_name") or person.family_name,
        )
    return person


def resolve(
    model: MatchModel,
    records: RecordLookup,
    probe: PersonFields,
    event_type: str,
    recipients: Sequence[str],
    thresholds: Mapping[str, tuple[float, float]],
) -> Resolution:
    limits = thresholds_for(event_type, thresholds)
    left = features(probe)
    found = records.candidates(recipients, probe_keys(left))
    auto: list[Scored] = []
    review: list[Scored] = []
    for system in recipients:
        scored = sorted(
            (
                Scored(system, c.local_id, model.score(left, features(c)))
                for c in found.get(system, [])
            ),
            key=lambda s: -s.score.probability,
        )
        if not scored:
            continue
        best = scored[0]
        band = limits.band(best.score.probability)
        runner_up = scored[1].score.probability if len(scored) > 1 else None
        if band is Band.AUTO and ambiguous(best.score.probability, runner_up, limits.review):
            band = Band.REVIEW  # two records this alike: a person decides
        if band is Band.AUTO:
            auto.append(best)
        elif band is Band.REVIEW:
            review.extend(s for s in scored if limits.band(s.score.probability) is not Band.NONE)
    return Resolution(tuple(auto), tuple(review))
