"""Router agent: decode and validate each event, decide per subscribed recipient, emit the results.

Allowed transfers go to `deliveries.<recipient>`, withheld ones to the audit topic, and records
that cannot be decoded or fail validation to `events.rejected` with the reason (never dropped).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence

import structlog
from aiokafka import ConsumerRecord

from agents.app import WorkerDeps
from agents.batching import OutRecord
from hub.config.model import Role
from hub.errors import RecordRejected
from hub.events.validation import accept_record
from hub.policy.decision import ConsentState, IdentityLinks
from hub.quality.counters import Tally, TallySink
from hub.routing.route import route_event
from hub.routing.table import RoutingTable
from hub.timeutil import uk_date, utcnow

log = structlog.get_logger("agents.router")

REJECTED_REASON = "hub_rejected_reason"
REJECTED_RULES = "hub_rejected_rules"
ORIGINAL_TOPIC = "hub_original_topic"
ORIGINAL_OFFSET = "hub_original_offset"


class RouterHandler:
    def __init__(self, deps: WorkerDeps, quality: TallySink) -> None:
        self.deps = deps
        self.quality = quality
        self.secret = deps.settings.pseudonym_key.get_secret_value()
        self.consent, self.links = ConsentState(), IdentityLinks()
        self.table = RoutingTable.build(deps.config)
        self.sources = frozenset(s.id for s in deps.config.systems if Role.SOURCE in s.roles)

    @property
    def topics(self) -> list[str]:
        return [self.deps.names.events(t) for t in sorted(self.deps.event_types)]

    async def __call__(self, records: Sequence[ConsumerRecord[bytes, bytes]]) -> list[OutRecord]:
        names = self.deps.names
        out: list[OutRecord] = []
        tallies: list[Tally] = []
        now = utcnow()
        day = uk_date(now)
        for msg in records:
            try:
                event = accept_record(
                    msg.value,
                    msg.headers or (),
                    self.deps.codec,
                    self.sources,
                    self.deps.rules.at(now),
                )
            except RecordRejected as rej:
                out.append(rejected(names.rejected, msg, rej.reason, rej.rules))
                source, event_type = _header(msg, "ce_source"), _header(msg, "ce_type")
                tallies += [
                    Tally(day, source, event_type, "rejected", r) for r in sorted(set(rej.rules))
                ]
                log.warning(
                    "event_rejected",
                    topic=msg.topic,
                    partition=msg.partition,
                    offset=msg.offset,
                    rules=list(rej.rules),
                )
                continue
            tallies.append(Tally(day, event.envelope.source, event.envelope.type, "accepted"))
            result = route_event(event, self.table, self.consent, self.links, now, self.secret)
            out.extend(
                OutRecord(names.deliveries(d.recipient), msg.key, d.model_dump_json().encode())
                for d in result.deliveries
            )
            out.extend(
                OutRecord(names.audit, msg.key, w.model_dump_json().encode())
                for w in result.withheld
            )
        await asyncio.to_thread(self.quality.add, tallies)
        return out


def _header(msg: ConsumerRecord[bytes, bytes], name: str) -> str:
    for key, value in msg.headers or ():
        if key == name and value is not None:
            return str(value.decode(errors="replace"))[:64]
    return ""


def rejected(
    topic: str, msg: ConsumerRecord[bytes, bytes], reason: str, rules: Sequence[str] = ("decode",)
) -> OutRecord:
    headers = [*(msg.headers or ())]
    headers += [
        (REJECTED_REASON, reason.encode()),
        (REJECTED_RULES, ",".join(rules).encode()),
        (ORIGINAL_TOPIC, msg.topic.encode()),
        (ORIGINAL_OFFSET, json.dumps([msg.partition, msg.offset]).encode()),
    ]
    return OutRecord(topic, msg.key, msg.value or b"", headers)
