"""The first step of every consumer of an internal topic: act only on records the hub signed.

A record that does not verify is refused: never handed to the handler, logged with its topic,
partition and offset, counted, and kept whole in the quarantine table (`hub deliveries quarantine`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import structlog
from aiokafka import ConsumerRecord

from hub.rejected.quarantine import Quarantined, QuarantineStore, count_refused
from hub.signing.records import RecordKeys
from hub.timeutil import utcnow

log = structlog.get_logger("agents.integrity")

Records = Sequence[ConsumerRecord[bytes, bytes]]


class RecordGate:
    def __init__(self, keys: RecordKeys, consumer: str, quarantine: QuarantineStore | None) -> None:
        self.keys = keys
        self.consumer = consumer
        self.quarantine = quarantine

    def split(
        self, records: Records
    ) -> tuple[list[ConsumerRecord[bytes, bytes]], list[Quarantined]]:
        """(records the hub signed, the others as they will be kept)."""
        ok: list[ConsumerRecord[bytes, bytes]] = []
        refused: list[Quarantined] = []
        now = utcnow()
        for msg in records:
            headers = msg.headers or ()
            refusal = self.keys.check(msg.topic, msg.key, msg.value, headers)
            if refusal is None:
                ok.append(msg)
                continue
            count_refused(msg.topic, refusal.value)
            log.error(
                "record_refused",
                consumer=self.consumer,
                topic=msg.topic,
                partition=msg.partition,
                offset=msg.offset,
                reason=refusal.value,
            )
            refused.append(
                Quarantined(
                    quarantined_at=now,
                    consumer=self.consumer,
                    topic=msg.topic,
                    partition=msg.partition,
                    offset=msg.offset,
                    key=msg.key,
                    value=msg.value or b"",
                    headers=[(k, v or b"") for k, v in headers],
                    reason=refusal.value,
                )
            )
        return ok, refused

    async def admit(self, records: Records) -> list[ConsumerRecord[bytes, bytes]]:
        """The records to act on; the refused ones are kept before the batch is committed."""
        ok, refused = self.split(records)
        if refused and self.quarantine is not None:
            await asyncio.to_thread(self.quarantine.add, refused)
        return ok
