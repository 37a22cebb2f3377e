"""Router agent: decode each event, decide per subscribed recipient, emit deliveries and withheld audits."""

from __future__ import annotations

import json
from typing import Any

import structlog

from agents.app import WorkerDeps
from agents.batching import OutRecord, send_all
from hub.errors import CodecError
from hub.policy.decision import ConsentState, IdentityLinks
from hub.routing.route import route_event
from hub.timeutil import utcnow

log = structlog.get_logger("agents.router")


def register_router(app: Any, deps: WorkerDeps) -> Any:
    names = deps.names
    topic = app.topic(*[names.events(t) for t in sorted(deps.event_types)])
    secret = deps.settings.pseudonym_key.get_secret_value()
    consent, links = ConsentState(), IdentityLinks()
    batch = deps.settings.agent_batch_size
    within = deps.settings.agent_batch_window_ms / 1000.0

    @app.agent(topic, name="router")
    async def router(stream: Any) -> None:
        async for events in stream.take_events(batch, within=within):
            out: list[OutRecord] = []
            now = utcnow()
            for ev in events:
                msg = ev.message
                try:
                    event = deps.codec.decode_event(msg.value, msg.headers or [])
                except CodecError as exc:
                    out.append(_rejected(names.rejected, msg, str(exc)))
                    log.warning(
                        "event_rejected",
                        topic=msg.topic,
                        partition=msg.partition,
                        offset=msg.offset,
                        reason=str(exc),
                    )
                    continue
                result = route_event(event, deps.config, consent, links, now, secret)
                for d in result.deliveries:
                    out.append(
                        OutRecord(
                            names.deliveries(d.recipient), msg.key, d.model_dump_json().encode()
                        )
                    )
                for w in result.withheld:
                    out.append(OutRecord(names.audit, msg.key, w.model_dump_json().encode()))
                log.debug(
                    "event_routed",
                    event_id=event.envelope.id,
                    partition=msg.partition,
                    offset=msg.offset,
                    delivered=len(result.deliveries),
                    withheld=len(result.withheld),
                )
            await send_all(app, out)

    return router


def _rejected(topic: str, msg: Any, reason: str) -> OutRecord:
    headers = list(msg.headers or [])
    headers += [
        ("hub_rejected_reason", reason.encode()),
        ("hub_original_topic", str(msg.topic).encode()),
        ("hub_original_offset", json.dumps([msg.partition, msg.offset]).encode()),
    ]
    return OutRecord(topic, msg.key, msg.value or b"", headers)
