"""Identity matching wired for the processes: the router's matcher, the API's identity context,
and a whole-extract match (Splink) for `hub match run` and its benchmark."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from hub.identity.bulk import BulkDecision, Candidate, decide_bulk
from hub.identity.normalise import PersonFields, features
from hub.identity.thresholds import Thresholds
from hub.settings import HubSettings

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from hub.identity.service import EventMatcher


def event_matcher(settings: HubSettings, engine: Engine) -> EventMatcher | None:
    """The router's matcher (None when matching is off)."""
    if not settings.match_enabled:
        return None
    from hub.identity.modelfile import ModelCache
    from hub.identity.service import EventMatcher
    from hub.identity.store import MatchStore, ServiceRecords

    return EventMatcher(
        ServiceRecords(engine),
        MatchStore(engine, settings.pseudonym_key.get_secret_value()),
        ModelCache(settings.data_dir),
        settings.match_thresholds,
        settings.match_reference_system,
    )


def rows(people: Sequence[PersonFields]) -> list[dict[str, str | None]]:
    return [features(p) | {"unique_id": p.local_id} for p in people]


@dataclass(frozen=True)
class BulkResult:
    decisions: list[BulkDecision]
    seconds: float


def bulk_match(
    params: dict[str, Any],
    reference: Sequence[PersonFields],
    service: Sequence[PersonFields],
    thresholds: Thresholds,
    threads: int = 2,
) -> BulkResult:
    from hub.identity import splink_port

    started = time.perf_counter()
    pairs = splink_port.predict(
        params, rows(reference), rows(service), threshold=min(0.05, thresholds.review)
    )
    decisions = decide_bulk(
        (Candidate(p.left_id, p.right_id, p.probability) for p in pairs),
        [p.local_id for p in service],
        thresholds,
    )
    return BulkResult(decisions, time.perf_counter() - started)


def match_context_for(settings: HubSettings, stores: Any) -> Any:
    """The API's identity context: extracts, candidate pairs, and the release of a held event
    (re-published as `hub review retry` does) once a pair is accepted."""
    from hub.api.match import MatchContext
    from hub.identity.store import MatchStore, ServiceRecords
    from runtime.review import RetryError, retry

    async def release(source: str, event_id: str) -> bool:
        item = stores.review.open_item(source, event_id)
        if item is None:
            return False
        try:
            await retry(settings, settings.kafka_bootstrap, stores.review, item.seq)
        except RetryError:
            return False
        return True

    return MatchContext(
        records=ServiceRecords(stores.engine),
        store=MatchStore(stores.engine, settings.pseudonym_key.get_secret_value()),
        release=release,
        reference_system=settings.match_reference_system,
    )
