"""Long-lived Kafka clients for monitoring (readiness, consumer lag), built in one place.

Every client here is made by the hub's secured factories (hub/broker/admin.py, consumer.py), so
the TLS/SASL settings apply to them as to every other client.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from hub.broker import admin
from hub.broker.consumer import make_consumer
from hub.journal.lost import Positions
from hub.settings import HubSettings

MONITOR_CLIENT_ID = "tell-it-once-hub.monitor"


def make_admin(settings: HubSettings, request_timeout_s: float = 5.0) -> AIOKafkaAdminClient:
    """An admin client: group offsets from the group coordinator, cluster metadata."""
    return admin.make_admin(settings, timeout=request_timeout_s, client_id=MONITOR_CLIENT_ID)


def make_offsets_reader(settings: HubSettings, request_timeout_s: float = 5.0) -> AIOKafkaConsumer:
    """A consumer in no group, subscribed to nothing: it only asks partition leaders for their
    end offsets (ListOffsets), which aiokafka's admin client does not expose. It never joins a
    group, so it never triggers a rebalance of the workers' groups."""
    return make_consumer(
        settings,
        client_id=MONITOR_CLIENT_ID,
        group_id=None,
        enable_auto_commit=False,
        request_timeout_ms=int(request_timeout_s * 1000),
        fetch_max_wait_ms=100,  # a fetch here only asks for the high watermark
    )


def lag_by_topic(
    committed: Mapping[str, Mapping[tuple[str, int], int]], ends: Mapping[tuple[str, int], int]
) -> dict[tuple[str, str], int]:
    """Per (group, topic): end offsets minus the group's committed offsets, summed over the
    partitions the group has committed on (a negative committed offset means none yet)."""
    lag: dict[tuple[str, str], int] = {}
    for group, offsets in committed.items():
        for (topic, partition), offset in offsets.items():
            if offset < 0 or (topic, partition) not in ends:
                continue
            behind = max(0, ends[(topic, partition)] - offset)
            lag[(group, topic)] = lag.get((group, topic), 0) + behind
    return lag


class BrokerMonitor:
    """The API's long-lived view of the broker, for readiness and consumer lag.

    One admin client (cluster metadata; each group's committed offsets from its coordinator,
    OffsetFetch) and one offsets reader (end offsets, ListOffsets), started on first use and
    reused: a probe or a lag reading opens no new connection, and after a broker restart they
    reconnect by themselves. `opened` counts the clients ever created (a test reads it).
    """

    def __init__(self, settings: HubSettings, request_timeout_s: float = 5.0) -> None:
        self.settings = settings
        self.request_timeout_s = request_timeout_s
        self._admin: AIOKafkaAdminClient | None = None
        self._offsets: AIOKafkaConsumer | None = None
        self._offsets_started = False
        self._lock = asyncio.Lock()
        self.opened = 0

    async def _clients(self) -> tuple[AIOKafkaAdminClient, AIOKafkaConsumer]:
        async with self._lock:
            if self._admin is None:
                self._admin = make_admin(self.settings, self.request_timeout_s)
                self.opened += 1
            await self._admin.start()  # a no-op once started; retried after a failed start
            if self._offsets is None:
                self._offsets = make_offsets_reader(self.settings, self.request_timeout_s)
                self.opened += 1
            if not self._offsets_started:
                await self._offsets.start()
                self._offsets_started = True
            return self._admin, self._offsets

    async def ping(self) -> None:
        """Raises unless the broker answers a metadata request."""
        admin, _ = await self._clients()
        await admin.list_topics()

    async def lag(self, groups: Sequence[str], topics: Sequence[str]) -> dict[tuple[str, str], int]:
        """Per (group, topic): records not yet committed by the group."""
        admin, offsets = await self._clients()
        described = await admin.describe_topics(list(topics))
        parts = [
            TopicPartition(str(t["topic"]), int(p["partition"]))
            for t in described
            if not t.get("error_code")
            for p in t.get("partitions", ())
        ]
        if not parts:
            return {}
        committed: dict[str, dict[tuple[str, int], int]] = {}
        for group in groups:
            got = await admin.list_consumer_group_offsets(group, partitions=parts)
            committed[group] = {(tp.topic, tp.partition): int(m.offset) for tp, m in got.items()}
        ends = await offsets.end_offsets(parts)
        return lag_by_topic(committed, {(tp.topic, tp.partition): int(n) for tp, n in ends.items()})

    async def positions(self, group: str, partitions: Sequence[tuple[str, int]]) -> Positions:
        """For these partitions: `group`'s committed offsets and the log's first and end
        offsets. A partition the broker does not have is left out (its records are gone)."""
        if not partitions:
            return Positions()
        admin, offsets = await self._clients()
        topics = sorted({t for t, _ in partitions})
        described = await admin.describe_topics(topics)
        exists = {
            (str(t["topic"]), int(p["partition"]))
            for t in described
            if not t.get("error_code")
            for p in t.get("partitions", ())
        }
        parts = [TopicPartition(t, p) for t, p in partitions if (t, p) in exists]
        if not parts:
            return Positions()
        got = await admin.list_consumer_group_offsets(group, partitions=parts)
        starts = await offsets.beginning_offsets(parts)
        ends = await self._fetched_ends(offsets, await offsets.end_offsets(parts))
        return Positions(
            committed={(tp.topic, tp.partition): int(m.offset) for tp, m in got.items()},
            starts={(tp.topic, tp.partition): int(n) for tp, n in starts.items()},
            ends={(tp.topic, tp.partition): int(n) for tp, n in ends.items()},
        )

    async def _fetched_ends(
        self, reader: AIOKafkaConsumer, listed: Mapping[TopicPartition, int]
    ) -> dict[TopicPartition, int]:
        """The log end offsets as a fetch reports them (its high watermark). Tansu 0.6 answers
        ListOffsets(latest) with the base offset of the partition's last record batch + 1, so a
        batch of 500 records looks like one; a fetch from there returns the true watermark.
        Where no fetch answer came in time, the listed offset stands (it is never above)."""
        ends = dict(listed)
        reader.assign(list(listed))
        try:
            for tp, n in listed.items():
                reader.seek(tp, n)
            deadline = asyncio.get_running_loop().time() + self.request_timeout_s
            while asyncio.get_running_loop().time() < deadline:
                await reader.getmany(timeout_ms=200, max_records=1)
                marks = {tp: reader.highwater(tp) for tp in listed}
                ends.update({tp: max(ends[tp], int(m)) for tp, m in marks.items() if m is not None})
                if all(m is not None for m in marks.values()):
                    break
        finally:
            reader.unsubscribe()
        return ends

    async def stop(self) -> None:
        async with self._lock:
            if self._offsets is not None and self._offsets_started:
                await self._offsets.stop()
            if self._admin is not None:
                await self._admin.close()
            self._admin, self._offsets, self._offsets_started = None, None, False
