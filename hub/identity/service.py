"""The router's matcher: for each event about an unlinked person, link, hold for review or
leave; links and candidate pairs are written with their provenance before routing."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

import structlog

from hub.events.envelope import Event
from hub.identity.matcher import Resolution, probe_for, resolve
from hub.identity.modelfile import ModelCache
from hub.identity.store import MatchStore, NewLink, ServiceRecords

log = structlog.get_logger("hub.identity")


@dataclass(frozen=True)
class MatchOutcome:
    links: Mapping[str, str] = field(default_factory=dict)  # system -> local id, linked now
    held: bool = False  # candidate pairs wait for clerical review


class EventMatcher:
    def __init__(
        self,
        records: ServiceRecords,
        store: MatchStore,
        models: ModelCache,
        thresholds: Mapping[str, tuple[float, float]],
        reference_system: str,
    ) -> None:
        self.records = records
        self.store = store
        self.models = models
        self.thresholds = thresholds
        self.reference_system = reference_system

    def match(
        self, events: Sequence[tuple[Event, Sequence[str]]], now: datetime
    ) -> dict[tuple[str, str], MatchOutcome]:
        """(source, event id) -> what matching did, for each (event, its recipients)."""
        model = self.models.current()
        if model is None or not events:
            return {}
        out: dict[tuple[str, str], MatchOutcome] = {}
        links: list[NewLink] = []
        for event, recipients in events:
            env = event.envelope
            person = self.records.find((env.source, self.reference_system), env.subject)
            if person is None or not recipients:
                continue
            started = time.perf_counter()
            result: Resolution = resolve(
                model,
                self.records,
                probe_for(person, env.type, event.data),
                env.type,
                recipients,
                self.thresholds,
            )
            for s in result.auto:
                links.append(
                    NewLink(
                        subject=env.subject,
                        system=s.system,
                        local_id=s.local_id,
                        method="auto",
                        probability=s.score.probability,
                        model_version=model.version,
                        agreeing=s.score.agreeing,
                        decided_by=None,
                        event_id=env.id,
                    )
                )
            linked_systems = {s.system for s in result.auto}
            pending = [s for s in result.review if s.system not in linked_systems]
            if pending:
                self.store.add_candidates(
                    env.source,
                    env.id,
                    env.type,
                    env.subject,
                    [
                        (s.system, s.local_id, s.score.probability, model.version, s.score.fields)
                        for s in pending
                    ],
                    now,
                )
            out[(env.source, env.id)] = MatchOutcome(
                links={s.system: s.local_id for s in result.auto}, held=bool(pending)
            )
            log.info(
                "event_matched",
                event_id=env.id,
                event_type=env.type,
                linked=sorted(linked_systems),
                for_review=sorted({s.system for s in pending}),
                model_version=model.version,
                ms=round((time.perf_counter() - started) * 1000, 2),
            )
        self.store.link(links, now)
        return out
