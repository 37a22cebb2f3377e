"""Bulk decisions: the best candidate of each service record, put in a band; and, for the
benchmark, precision and recall against a known truth. Pure."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from hub.identity.thresholds import Band, Thresholds

AMBIGUITY_BITS = 6.0  # a runner-up within 2**6 = 64 times the odds of the best is too close


def weight_of(probability: float) -> float:
    """Match weight (log2 odds) of a probability, bounded for 0 and 1."""
    p = min(max(probability, 1e-15), 1 - 1e-15)
    return math.log2(p / (1 - p))


def ambiguous(best: float, runner_up: float | None, review: float) -> bool:
    """A runner-up in the review band or above, less than AMBIGUITY_BITS behind the best
    (two people at one address with one name and date of birth, say): a person decides."""
    return (
        runner_up is not None
        and runner_up >= review
        and weight_of(best) - weight_of(runner_up) < AMBIGUITY_BITS
    )


@dataclass(frozen=True)
class Candidate:
    reference_id: str  # the hub person (the reference extract's local id)
    record_id: str  # the service's local id
    probability: float


@dataclass(frozen=True)
class BulkDecision:
    record_id: str
    band: Band
    best: Candidate | None
    runner_up: Candidate | None


def decide_bulk(
    pairs: Iterable[Candidate], record_ids: Iterable[str], thresholds: Thresholds
) -> list[BulkDecision]:
    """Per service record: its best candidate's band. A close runner-up never links
    automatically: it goes to review (`ambiguous`).
    A hub person taken by two records automatically is kept only for the stronger one."""
    best: dict[str, Candidate] = {}
    second: dict[str, Candidate] = {}
    for c in pairs:
        top = best.get(c.record_id)
        if top is None or c.probability > top.probability:
            if top is not None:
                second[c.record_id] = top
            best[c.record_id] = c
        elif c.record_id not in second or c.probability > second[c.record_id].probability:
            second[c.record_id] = c
    decisions: dict[str, BulkDecision] = {}
    claimed: dict[str, str] = {}  # reference id -> record id linked automatically
    for rid in record_ids:
        top, runner = best.get(rid), second.get(rid)
        band = Band.NONE if top is None else thresholds.band(top.probability)
        if (
            band is Band.AUTO
            and top is not None
            and ambiguous(
                top.probability, runner.probability if runner else None, thresholds.review
            )
        ):
            band = Band.REVIEW
        if band is Band.AUTO and top is not None:
            other = claimed.get(top.reference_id)
            if other is not None:
                prev = decisions[other]
                assert prev.best is not None
                if prev.best.probability >= top.probability:
                    band = Band.REVIEW
                else:
                    decisions[other] = BulkDecision(other, Band.REVIEW, prev.best, prev.runner_up)
                    claimed[top.reference_id] = rid
            else:
                claimed[top.reference_id] = rid
        decisions[rid] = BulkDecision(rid, band, top, runner)
    return list(decisions.values())


@dataclass(frozen=True)
class Accuracy:
    records: int
    auto: int
    review: int
    unmatched: int
    auto_correct: int
    true_pairs: int
    found: int  # true pairs auto-linked or sent to review

    @property
    def precision(self) -> float:
        return self.auto_correct / self.auto if self.auto else 1.0

    @property
    def recall(self) -> float:
        return self.found / self.true_pairs if self.true_pairs else 1.0

    @property
    def review_share(self) -> float:
        return self.review / self.records if self.records else 0.0


def accuracy(decisions: Iterable[BulkDecision], truth: Mapping[str, str]) -> Accuracy:
    auto = review = unmatched = correct = found = records = 0
    for d in decisions:
        records += 1
        right = truth.get(d.record_id)
        hit = d.best is not None and right is not None and d.best.reference_id == right
        if d.band is Band.AUTO:
            auto += 1
            correct += hit
            found += hit
        elif d.band is Band.REVIEW:
            review += 1
            found += hit
        else:
            unmatched += 1
    return Accuracy(records, auto, review, unmatched, correct, len(truth), found)
