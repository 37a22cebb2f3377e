"""Splink (DuckDB) and the router's one-event scorer put every pair in the same comparison
level and give it the same match probability; training gives a usable model."""

from __future__ import annotations

import itertools

import pytest

from hub.identity import splink_port
from hub.identity.comparisons import COMPARISONS
from hub.identity.generator import generate
from hub.identity.model import MatchModel
from hub.identity.normalise import features
from tests.unit.test_identity_matching import params


def rows(people: list) -> list[dict[str, str | None]]:  # type: ignore[type-arg]
    return [features(p) | {"unique_id": p.local_id} for p in people]


def test_python_levels_and_probabilities_match_splink() -> None:
    pop = generate(400, seed=5)
    by_id = {p.local_id: p for p in pop.reference}
    # true pairs (hard: typos, swaps, moves) and random pairs
    truth = list(itertools.islice(pop.truth.items(), 40))
    left = [by_id[r] for _, r in truth]
    svc = {p.local_id: p for p in pop.service}
    right = [svc[s] for s, _ in truth]
    model_params = params()
    model = MatchModel.from_params(model_params)
    got = splink_port.levels_sql(rows(left), rows(right), model_params)
    assert len(got) == len(left) * len(right)
    lf = {p.local_id: features(p) for p in left}
    rf = {p.local_id: features(p) for p in right}
    for row in got:
        id_l, id_r, *gammas, probability = row
        a, b = (lf[id_l], rf[id_r]) if id_l in lf else (lf[id_r], rf[id_l])
        for comparison, gamma in zip(COMPARISONS, gammas, strict=True):
            i = comparison.level(a, b)
            expected = -1 if comparison.levels[i].null else len(comparison.levels) - 1 - i
            assert gamma == expected, (comparison.name, id_l, id_r)
        assert model.score(a, b).probability == pytest.approx(probability, rel=1e-6, abs=1e-9)


def test_training_finds_true_pairs_and_keeps_random_ones_apart() -> None:
    pop = generate(1200, seed=7)
    trained = splink_port.train(rows(pop.reference), rows(pop.service), max_pairs=5e4)
    model = MatchModel.from_params(trained)
    ref = {p.local_id: features(p) for p in pop.reference}
    svc = {p.local_id: features(p) for p in pop.service}
    true_scores = [model.score(ref[r], svc[s]).probability for s, r in pop.truth.items()]
    assert sum(p >= 0.5 for p in true_scores) / len(true_scores) > 0.95
    ids = list(ref)
    random_scores = [
        model.score(ref[ids[i]], svc[s]).probability
        for i, s in enumerate(list(svc)[:500])
        if pop.truth.get(s) != ids[i]
    ]
    assert max(random_scores) < 0.5
    pairs = splink_port.predict(trained, rows(pop.reference), rows(pop.service), threshold=0.999)
    assert sum(pop.truth.get(p.right_id) == p.left_id for p in pairs) / len(pairs) > 0.99
