"""Replaying a rejected event: re-published once fixed, checked by the same rules as the router."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from hub.broker.producer import AiokafkaSender, make_producer
from hub.config.model import Role
from hub.errors import ConfigError, HubError, Problem
from hub.events.publisher import EventPublisher
from hub.events.validation import accept_record, build_event
from hub.journal.store import JournalStore
from hub.rejected.store import RejectedStore, Rejection
from hub.settings import HubSettings
from hub.signing.gate import SOURCE_MISMATCH
from hub.signing.keys import record_keys
from hub.signing.records import Refusal
from runtime.wiring import Wiring


class ReplayError(HubError):
    code = "replay_refused"


# rejected because of who wrote it, not what it says: never re-published by the hub
UNTRUSTED_RULES = frozenset({r.value for r in Refusal} | {SOURCE_MISMATCH})


async def replay(
    settings: HubSettings,
    bootstrap: str,
    w: Wiring,
    store: RejectedStore,
    seq: int,
    fixed: dict[str, Any] | None,
    now: datetime,
) -> str:
    """Re-publish rejected event `seq` (as stored, or as `fixed`); returns the event id published.

    The record must now pass the router's checks, so a replay never puts a bad record back on
    the topic. A fixed submission is published as the original source, with the original event
    id unless it gives its own.
    """
    rejection = store.get(seq)
    if rejection is None:
        raise ReplayError(f"there is no rejected event {seq} (see `hub events rejected`)")
    if rejection.status == "replayed":
        raise ReplayError(f"rejected event {seq} was already replayed as {rejection.replayed_as}")
    untrusted = sorted(set(rejection.rules) & UNTRUSTED_RULES)
    if untrusted:
        raise ReplayError(
            f"rejected event {seq} was not written by the hub or by its own source "
            f"({', '.join(untrusted)}): it cannot be replayed; the source publishes it again "
            "through the API or on its own sources.<system id> topic"
        )
    sources = frozenset(s.id for s in w.config.systems if Role.SOURCE in s.roles)
    keys = record_keys(settings)
    producer = make_producer(settings, bootstrap)
    await producer.start()
    try:
        if fixed is None:
            event = accept_record(
                rejection.value, rejection.headers, w.codec, sources, w.rules.at(now)
            )
            future = await producer.send(
                rejection.original_topic,
                rejection.value,
                key=rejection.key,
                headers=keys.sign_headers(
                    rejection.original_topic, rejection.key, rejection.value, rejection.headers
                ),
            )
            await future
        else:
            event = build_event(
                _with_id(fixed, rejection), _source(rejection, sources), w.registry, w.rules.at(now)
            )
            journal = JournalStore(store.engine)
            await EventPublisher(
                AiokafkaSender(producer), w.codec, w.names, journal, keys=keys
            ).publish(event)
    finally:
        await producer.stop()
    store.mark_replayed(seq, now, event.envelope.id)
    return event.envelope.id


def _source(rejection: Rejection, sources: frozenset[str]) -> str:
    if rejection.source not in sources:
        raise ConfigError(
            "cannot replay as this source",
            [
                Problem(
                    "ce_source",
                    "known_source",
                    f"{rejection.source!r} is not a known source system",
                )
            ],
        )
    return rejection.source


def _with_id(fixed: dict[str, Any], rejection: Rejection) -> dict[str, Any]:
    if "id" not in fixed and rejection.event_id:
        return {**fixed, "id": rejection.event_id}
    return fixed
