"""Delivery agent: hand each delivery durably to its recipient's sink before offsets are committed.

Pull inbox: a row in the inbox, audited as delivered in the same transaction. Webhook: a row in the webhook outbox (the
dispatcher sends, retries and audits each attempt). Kafka: a record on the recipient's own topic,
audited as delivered once the broker has acknowledged it (the batch agent commits after that).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import structlog
from aiokafka import ConsumerRecord
from pydantic import ValidationError

from agents.app import WorkerDeps
from agents.batching import OutRecord, signed
from agents.integrity import RecordGate
from hub import metrics
from hub.config.model import KafkaSink, WebhookSink
from hub.delivery.kafka_record import DeliveryCodec
from hub.delivery.outbox import OutboxStore
from hub.events.cloudevents import audit_record
from hub.inbox.delivered import deliver_to_inbox
from hub.inbox.store import InboxStore
from hub.rejected.quarantine import QuarantineStore
from hub.routing.messages import Delivery, delivered_entry
from hub.timeutil import utcnow

log = structlog.get_logger("agents.delivery")


class DeliveryHandler:
    def __init__(
        self,
        deps: WorkerDeps,
        inbox: InboxStore,
        outbox: OutboxStore | None = None,
        kafka_codec: DeliveryCodec | None = None,
        quarantine: QuarantineStore | None = None,
    ) -> None:
        self.deps = deps
        self.gate = RecordGate(deps.keys, "delivery", quarantine)
        self.inbox = inbox
        self.outbox = outbox
        self.kafka_codec = kafka_codec
        self.webhook = {s.id for s in deps.config.recipients if isinstance(s.delivery, WebhookSink)}
        self.kafka = {
            s.id: s.delivery for s in deps.config.recipients if isinstance(s.delivery, KafkaSink)
        }

    @property
    def topics(self) -> list[str]:
        return [self.deps.names.deliveries(s.id) for s in self.deps.config.recipients]

    async def __call__(self, records: Sequence[ConsumerRecord[bytes, bytes]]) -> list[OutRecord]:
        inbox: list[tuple[Delivery, str]] = []
        webhook: list[tuple[Delivery, str]] = []
        kafka: list[Delivery] = []
        for msg in await self.gate.admit(records):  # only what the hub's router signed
            try:
                delivery = Delivery.model_validate_json(msg.value or b"")
            except ValidationError:
                log.error(
                    "delivery_undecodable",
                    topic=msg.topic,
                    partition=msg.partition,
                    offset=msg.offset,
                )
                continue
            if msg.topic != self.deps.names.deliveries(delivery.recipient):
                log.error(
                    "delivery_on_wrong_topic",
                    topic=msg.topic,
                    partition=msg.partition,
                    offset=msg.offset,
                )
                continue
            payload = (msg.value or b"").decode()
            if delivery.recipient in self.webhook and self.outbox is not None:
                webhook.append((delivery, payload))
            elif delivery.recipient in self.kafka and self.kafka_codec is not None:
                kafka.append(delivery)
            else:
                inbox.append((delivery, payload))
        now = utcnow()
        if inbox:  # rows and their "delivered" audit entries: one transaction, no audit hop
            handed = await asyncio.to_thread(
                deliver_to_inbox,
                self.inbox.engine,
                [d for d, _ in inbox],
                [p for _, p in inbox],
                now,
            )
            metrics.audited(handed.entries, handed.audited, now)
        if webhook and self.outbox is not None:
            await asyncio.to_thread(
                self.outbox.add, [d for d, _ in webhook], now, [p for _, p in webhook]
            )
        out: list[OutRecord] = []
        if kafka and self.kafka_codec is not None:
            for d in kafka:
                topic = self.deps.names.recipient_topic(d.recipient, self.kafka[d.recipient].topic)
                record = self.kafka_codec.encode(d)
                out.append(OutRecord(topic, record.key, record.value, record.headers))
        audit = self.deps.names.audit
        # The batch agent sends these together; the Kafka sink's records are acknowledged with
        # their audit entries before the offsets are committed. (Inbox deliveries are audited
        # above, in the transaction that stored them.)
        keys = self.deps.keys
        out += [
            signed(
                keys,
                audit,
                d.subject_key.encode(),
                *audit_record(delivered_entry(d, now)),
            )
            for d in kafka
        ]
        return out
