"""Router agent: decode each event, decide per subscribed recipient, emit deliveries and withheld audits."""

from __future__ import annotations

import json
from collections.abc import Sequence

import structlog
from aiokafka import ConsumerRecord

from agents.app import WorkerDeps
from agents.batching import OutRecord
from hub.errors import CodecError
from hub.policy.decision import ConsentState, IdentityLinks
from hub.routing.route import route_event
from hub.routing.table import RoutingTable
from hub.timeutil import utcnow

log = structlog.get_logger("agents.router")


class RouterHandler:
    def __init__(self, deps: WorkerDeps) -> None:
        self.deps = deps
        self.secret = deps.settings.pseudonym_key.get_secret_value()
        self.consent, self.links = ConsentState(), IdentityLinks()
        self.table = RoutingTable.build(deps.config)

    @property
    def topics(self) -> list[str]:
        return [self.deps.names.events(t) for t in sorted(self.deps.event_types)]

    async def __call__(self, records: Sequence[ConsumerRecord[bytes, bytes]]) -> list[OutRecord]:
        names = self.deps.names
        out: list[OutRecord] = []
        now = utcnow()
        for msg in records:
            try:
                if msg.value is None:
                    raise CodecError("record has no value (tombstone)")
                event = self.deps.codec.decode_event(msg.value, msg.headers or ())
            except CodecError as exc:
                out.append(rejected(names.rejected, msg, str(exc)))
                log.warning(
                    "event_rejected",
                    topic=msg.topic,
                    partition=msg.partition,
                    offset=msg.offset,
                    reason=str(exc),
                )
                continue
            result = route_event(event, self.table, self.consent, self.links, now, self.secret)
            out.extend(
                OutRecord(names.deliveries(d.recipient), msg.key, d.model_dump_json().encode())
                for d in result.deliveries
            )
            out.extend(
                OutRecord(names.audit, msg.key, w.model_dump_json().encode())
                for w in result.withheld
            )
        return out


def rejected(topic: str, msg: ConsumerRecord[bytes, bytes], reason: str) -> OutRecord:
    headers = [*(msg.headers or ())]
    headers += [
        ("hub_rejected_reason", reason.encode()),
        ("hub_original_topic", msg.topic.encode()),
        ("hub_original_offset", json.dumps([msg.partition, msg.offset]).encode()),
    ]
    return OutRecord(topic, msg.key, msg.value or b"", headers)
