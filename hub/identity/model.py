"""A trained match model (Splink's Fellegi-Sunter parameters) and the scoring of one pair.

The model is Splink's saved settings JSON; its version is the SHA-256 of that JSON (canonical
form), so every link records exactly which parameters made it.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from hub.errors import HubError
from hub.identity.comparisons import COMPARISONS, Comparison, Features


class ModelError(HubError):
    code = "match_model_invalid"


@dataclass(frozen=True)
class FieldResult:
    field: str
    level: str
    verdict: str  # agree | partial | disagree | missing
    weight: float  # log2 Bayes factor


@dataclass(frozen=True)
class PairScore:
    probability: float
    match_weight: float
    fields: tuple[FieldResult, ...]

    @property
    def agreeing(self) -> tuple[str, ...]:
        return tuple(f.field for f in self.fields if f.verdict in ("agree", "partial"))

    @property
    def disagreeing(self) -> tuple[str, ...]:
        return tuple(f.field for f in self.fields if f.verdict == "disagree")


def model_version(params: Mapping[str, Any]) -> str:
    """Content hash of the parameters (canonical JSON): the model's version."""
    canonical = json.dumps(params, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def _weight(level: Mapping[str, Any]) -> float:
    if level.get("is_null_level"):
        return 0.0
    m, u = level.get("m_probability"), level.get("u_probability")
    if not isinstance(m, int | float) or not isinstance(u, int | float) or m <= 0 or u <= 0:
        return 0.0
    return math.log2(float(m) / float(u))


@dataclass(frozen=True)
class MatchModel:
    params: Mapping[str, Any]
    version: str
    prior_weight: float
    weights: tuple[tuple[float, ...], ...]  # per comparison, per level: log2 Bayes factor

    @classmethod
    def from_params(
        cls, params: Mapping[str, Any], comparisons: Sequence[Comparison] = COMPARISONS
    ) -> MatchModel:
        prior = params.get("probability_two_random_records_match")
        if not isinstance(prior, int | float) or not 0 < prior < 1:
            raise ModelError("the model has no probability_two_random_records_match in (0, 1)")
        by_name = {c.get("output_column_name"): c for c in params.get("comparisons", [])}
        weights: list[tuple[float, ...]] = []
        for comparison in comparisons:
            saved = by_name.get(comparison.name)
            if saved is None or len(saved["comparison_levels"]) != len(comparison.levels):
                raise ModelError(
                    f"the model's comparison {comparison.name!r} does not match this hub's "
                    "comparisons: train a new model (`hub match train`)"
                )
            weights.append(tuple(_weight(lv) for lv in saved["comparison_levels"]))
        return cls(
            params=params,
            version=model_version(params),
            prior_weight=math.log2(prior / (1 - prior)),
            weights=tuple(weights),
        )

    def score(
        self, left: Features, right: Features, comparisons: Sequence[Comparison] = COMPARISONS
    ) -> PairScore:
        total = self.prior_weight
        results: list[FieldResult] = []
        for comparison, weights in zip(comparisons, self.weights, strict=True):
            i = comparison.level(left, right)
            level = comparison.levels[i]
            w = weights[i]
            total += w
            verdict = (
                "missing"
                if level.null
                else "agree"
                if level.exact
                else "partial"
                if w > 0
                else "disagree"
            )
            results.append(FieldResult(comparison.name, level.label, verdict, round(w, 3)))
        return PairScore(probability_of(total), total, tuple(results))


def probability_of(match_weight: float) -> float:
    """Splink's match probability from a match weight (log2 odds)."""
    if match_weight > 60:
        return 1.0
    odds = math.pow(2.0, match_weight)
    return odds / (1.0 + odds)
