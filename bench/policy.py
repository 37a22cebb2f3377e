"""`hub bench policy`: the router's decision on one core, with 5, 50 and 500 agreements.

A synthetic council: 30 recipient systems (all subscribed to address.changed) and 3 sources.
Five agreements cover Council Tax's address changes (statutory, consent-required and opt-out
terms, leaf-level field lists); the rest of the N agreements cover other flows (other sources,
event types and recipients), as a council's register does. Each person has a consent history
and identity links. Each run routes the same address changes the way the router does: for
every subscribed recipient the routing table narrows the agreements to that flow, then
`decide` runs (30 decisions per event, most of them withheld: no agreement).

Printed per N: decisions per second and microseconds per event, the cost against the
5-agreement run measured in the same process (flat: the cost does not grow with the number of
agreements), and, as the baseline, `decide` handed the whole unindexed register each time.
"""

from __future__ import annotations

import gc
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, Final

from rich.console import Console
from rich.table import Table

from hub.config.model import (
    Agreement,
    AgreementStatus,
    ConsentMode,
    HubConfig,
    Role,
    System,
)
from hub.events.envelope import Envelope
from hub.policy.decision import decide
from hub.policy.state import ConsentAction, ConsentFact, SubjectState
from hub.routing.table import RoutingTable

TARGET_DECISIONS_S: Final = 100_000
RECIPIENTS: Final = 30
SOURCES: Final = ("council-tax", "registrar", "housing")
AGREEMENT_COUNTS: Final = (5, 50, 500)
NOW: Final = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
FIELD_SETS: Final = (
    ("new_address", "effective_date"),
    ("new_address.uprn", "new_address.postcode", "effective_date"),
    ("previous_address.uprn", "new_address", "effective_date", "move_type"),
)
_KEY = "0" * 64
RELEVANT: Final = 5  # agreements covering the benchmark's flows, whatever the total
OTHER_TYPES: Final = ("address.changed", "death.notified", "name.changed", "contact.changed")


@dataclass(frozen=True)
class PolicyRun:
    agreements: int
    recipients: int
    decisions: int
    seconds: float
    unindexed_seconds: float

    @property
    def unindexed_us_per_event(self) -> float:
        return self.unindexed_seconds / (self.decisions / self.recipients) * 1e6

    @property
    def decisions_per_s(self) -> float:
        return self.decisions / self.seconds

    @property
    def us_per_event(self) -> float:
        return self.seconds / (self.decisions / self.recipients) * 1e6


def synthetic_config(agreements: int, recipients: int = RECIPIENTS) -> HubConfig:
    systems = [
        System(id=s, name=s, roles=frozenset({Role.SOURCE}), api_key_sha256=_KEY) for s in SOURCES
    ] + [
        System(
            id=f"service-{i:02d}",
            name=f"Service {i}",
            roles=frozenset({Role.RECIPIENT}),
            api_key_sha256=_KEY,
            subscriptions=("address.changed",),
        )
        for i in range(recipients)
    ]
    deals = [
        Agreement(
            id=f"DSA-{i:04d}",
            title=f"Agreement {i}",
            providers=("council-tax",) if i < RELEVANT else (SOURCES[1 + i % 2],),
            recipients=(f"service-{(i * 7) % recipients:02d}",),
            shares={
                "address.changed" if i < RELEVANT else OTHER_TYPES[i % len(OTHER_TYPES)]: (
                    FIELD_SETS[i % len(FIELD_SETS)]
                )
            },
            purpose=f"Purpose {i % 7}",
            lawful_basis="UK GDPR Art. 6(1)(e) public task",
            consent=(ConsentMode.NONE, ConsentMode.REQUIRED, ConsentMode.OPT_OUT)[i % 3],
            valid_from=date(2026, 1, 1),
            valid_until=date(2028, 12, 31),
            status=AgreementStatus.ACTIVE,
            data_owner="Data owner",
            review_by=date(2027, 6, 30),
            recipient_retention="6 years",
        )
        for i in range(agreements)
    ]
    return HubConfig(systems=tuple(systems), agreements=tuple(deals))


def _events(n: int) -> list[tuple[Envelope, dict[str, Any]]]:
    out = []
    for i in range(n):
        env = Envelope(
            id=f"e-{i}",
            source="council-tax",
            type="address.changed",
            subject=f"P-{i}",
            time=NOW,
        )
        data = {
            "previous_address": {
                "uprn": f"{1000 + i}",
                "lines": ["1 Old Road"],
                "postcode": "EX1 1AA",
            },
            "new_address": {"uprn": f"{2000 + i}", "lines": ["2 New Road"], "postcode": "EX2 2BB"},
            "effective_date": date(2026, 5, 20),
            "move_type": "within_area",
        }
        out.append((env, data))
    return out


def _subject(recipients: int) -> SubjectState:
    at = NOW - timedelta(days=30)
    return SubjectState(
        consent=tuple(
            ConsentFact(action, f"Purpose {p}", None, at + timedelta(minutes=p), p)
            for p, action in enumerate(
                (ConsentAction.GRANTED, ConsentAction.WITHDRAWN, ConsentAction.OBJECTION) * 2
            )
        ),
        links={f"service-{i:02d}": f"L-{i}" for i in range(0, recipients, 2)},
    )


def time_decisions(agreements: int, events: int, recipients: int = RECIPIENTS) -> PolicyRun:
    config = synthetic_config(agreements, recipients)
    table = RoutingTable.build(config)
    batch = _events(events)
    subject = _subject(recipients)
    subscribers = [s.id for s in table.subscribers_of("address.changed")]

    everything = config.agreements

    def run(indexed: bool) -> float:
        start = time.perf_counter()
        for env, data in batch:
            for recipient in subscribers:
                decide(
                    env,
                    data,
                    recipient,
                    table.agreements_for(env.source, recipient, env.type)
                    if indexed
                    else everything,
                    subject,
                    NOW,
                )
        return time.perf_counter() - start

    run(True)  # warm-up
    gc.collect()
    best = min(run(True) for _ in range(3))
    unindexed = run(False)
    return PolicyRun(agreements, recipients, events * len(subscribers), best, unindexed)


def run_policy_bench(events: int, console: Console) -> list[PolicyRun]:
    runs = [time_decisions(n, events) for n in AGREEMENT_COUNTS]
    base = runs[0]
    table = Table(title=f"decide() on one core: {events:,} events x {RECIPIENTS} recipients")
    for column in (
        "agreements",
        "decisions/s",
        "us per event",
        "cost vs 5 agreements",
        "baseline: unindexed us/event",
    ):
        table.add_column(column, justify="right")
    for r in runs:
        table.add_row(
            f"{r.agreements:,}",
            f"{r.decisions_per_s:,.0f}",
            f"{r.us_per_event:,.1f}",
            f"{r.us_per_event / base.us_per_event:.2f}",
            f"{r.unindexed_us_per_event:,.1f}",
        )
    console.print(table)
    at_50 = next(r for r in runs if r.agreements == 50)
    verdict = "met" if at_50.decisions_per_s >= TARGET_DECISIONS_S else "NOT met"
    console.print(
        f"target >= {TARGET_DECISIONS_S:,} decisions/s with 50 agreements and {RECIPIENTS} "
        f"recipients: {verdict} ({at_50.decisions_per_s:,.0f}/s)"
    )
    return runs
