"""The one-event path (candidates from the indexed blocking keys, memoised normalisers, the
trained parameters applied in Python) gives each pair the probability Splink's bulk predict
gives it, within 1e-9."""

from __future__ import annotations

import random
from pathlib import Path

from hub.db.engine import make_engine, migrate
from hub.identity import splink_port
from hub.identity.extracts import ExtractBatch, probe_keys
from hub.identity.generator import generate
from hub.identity.model import MatchModel
from hub.identity.normalise import features
from hub.identity.store import ServiceRecords
from hub.timeutil import utcnow
from tests.integration.test_identity_splink import rows


def test_event_scores_equal_splink_predict(tmp_path: Path) -> None:
    pop = generate(800, seed=11)
    params = splink_port.train(rows(pop.reference), rows(pop.service), max_pairs=5e4)
    model = MatchModel.from_params(params)
    splink = {
        (p.left_id, p.right_id): p.probability
        for p in splink_port.predict(params, rows(pop.reference), rows(pop.service), threshold=0)
    }
    engine = make_engine(f"sqlite:///{tmp_path / 'hub.db'}")
    migrate(engine)
    records = ServiceRecords(engine)
    records.apply("waste", ExtractBatch(tuple(pop.service), ()), utcnow())
    compared = 0
    for person in random.Random(3).sample(pop.reference, 120):
        left = features(person)
        for c in records.candidates(["waste"], probe_keys(left))["waste"]:
            theirs = splink.get((person.local_id, c.local_id))
            if theirs is None:  # a pair our lookup finds that no Splink blocking rule does
                continue
            ours = model.score(left, features(c)).probability
            assert abs(ours - theirs) <= 1e-9, (person.local_id, c.local_id, ours, theirs)
            compared += 1
    engine.dispose()
    assert compared >= 100
