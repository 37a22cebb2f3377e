"""The router counts an event as accepted (data quality) when it first claims it: once, however
often the event comes back (a redelivered batch, a release from review, `hub review retry`)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from sqlalchemy import Engine

from hub.quality.counters import QualityCounters
from hub.routing.claims import Claim, ClaimStore

T0 = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
DAY = date(2026, 12, 7)


def accepted(engine: Engine) -> dict[tuple[str, str], int]:
    return {
        (q.source, q.event_type): q.count
        for q in QualityCounters(engine).summary()
        if q.outcome == "accepted"
    }


def test_each_event_is_counted_accepted_once(migrated_engine: Engine) -> None:
    claims = ClaimStore(migrated_engine)
    move, death = "address.changed", "death.notified"
    claims.claim(
        [Claim("council-tax", "A", move, "h1"), Claim("registrar", "A", death, "h2")], T0, DAY
    )
    assert accepted(migrated_engine) == {("council-tax", move): 1, ("registrar", death): 1}

    # the same batch again (redelivered), with one new event and a repeat inside the batch:
    # only the new one is counted (on SQLite, the path where some rows were claimed before)
    again = [
        Claim("council-tax", "A", move, "h1"),
        Claim("registrar", "A", death, "h2"),
        Claim("council-tax", "B", move, "h3"),
        Claim("council-tax", "B", move, "h3"),
    ]
    later = T0 + timedelta(seconds=1)
    assert claims.claim(again, later, DAY) == {
        ("council-tax", "A"): "h1",
        ("registrar", "A"): "h2",
        ("council-tax", "B"): "h3",
    }
    assert accepted(migrated_engine) == {("council-tax", move): 2, ("registrar", death): 1}

    # one claimed before, at the same moment as this call: still not counted again
    claims.claim([Claim("council-tax", "C", move, "h4")], later, DAY)
    claims.claim(
        [Claim("council-tax", "C", move, "h4"), Claim("council-tax", "D", move, "h5")], later, DAY
    )
    # a repeat with other content is a conflict (the router rejects it), never counted accepted
    claims.claim(
        [Claim("council-tax", "A", move, "other"), Claim("council-tax", "E", move, "h6")],
        later,
        DAY,
    )
    assert accepted(migrated_engine) == {("council-tax", move): 5, ("registrar", death): 1}

    # without a day, nothing is counted
    claims.claim([Claim("council-tax", "F", move, "h7")], later)
    assert accepted(migrated_engine) == {("council-tax", move): 5, ("registrar", death): 1}
