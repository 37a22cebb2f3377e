"""Publish validated events onto their topics and wait for the broker's acknowledgement."""

from __future__ import annotations

from collections.abc import Awaitable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from hub.broker.topics import TopicNames
from hub.errors import BrokerError
from hub.events.codec import AvroCodec
from hub.events.envelope import Event


class RecordSender(Protocol):
    """The narrow producer interface the publisher needs (aiokafka's AIOKafkaProducer fits)."""

    async def send(
        self, topic: str, value: bytes, key: bytes, headers: Sequence[tuple[str, bytes]]
    ) -> Awaitable[Any]: ...


@dataclass(frozen=True)
class Receipt:
    event_id: str
    topic: str
    partition: int
    offset: int


class EventPublisher:
    def __init__(self, sender: RecordSender, codec: AvroCodec, names: TopicNames) -> None:
        self._sender = sender
        self._codec = codec
        self._names = names

    async def publish(self, event: Event) -> Receipt:
        """Encode and send one event; returns only after the broker acknowledged it."""
        (receipt,) = await self.publish_many([event])
        return receipt

    async def publish_many(self, events: Sequence[Event]) -> list[Receipt]:
        """Send a batch without waiting in between, then wait for every acknowledgement."""
        pending = []
        for event in events:
            record = self._codec.encode_event(event)
            topic = self._names.events(event.envelope.type)
            try:
                pending.append(
                    await self._sender.send(
                        topic, value=record.value, key=record.key, headers=record.headers
                    )
                )
            except Exception as exc:
                raise BrokerError(f"could not send event {event.envelope.id}: {exc!r}") from exc
        receipts = []
        for event, fut in zip(events, pending, strict=True):
            try:
                meta = await fut
            except Exception as exc:
                raise BrokerError(
                    f"broker did not acknowledge event {event.envelope.id}: {exc!r}"
                ) from exc
            receipts.append(Receipt(event.envelope.id, meta.topic, meta.partition, meta.offset))
        return receipts
