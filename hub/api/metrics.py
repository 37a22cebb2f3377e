"""`/metrics` in Prometheus text format, computed from the database at scrape time.

The API process does not see the events the workers handle, so every figure is read from the
shared tables: quality counters (accepted), rejected events, the audit store (deliveries by
outcome and recipient, dead letters, retries, write latency) and worker heartbeats. Consumer lag
comes from the broker (committed offsets against end offsets), when the caller can measure it.
Labels are system ids, event types and outcomes only: never personal data.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import Engine, Table, func, select

from hub.audit.ledger import AUDIT, HEAD
from hub.db.tables import QualityCounter, RejectedEvent, WorkerHeartbeat
from hub.timeutil import utcnow

QUALITY: Table = QualityCounter.__table__  # type: ignore[attr-defined]
REJECTED: Table = RejectedEvent.__table__  # type: ignore[attr-defined]
HEARTBEATS: Table = WorkerHeartbeat.__table__  # type: ignore[attr-defined]
LATENCY_SAMPLE = 1000
FRESH = timedelta(seconds=10)


@dataclass(frozen=True)
class Snapshot:
    accepted: Mapping[tuple[str, str], int]
    rejected: Mapping[str, int]
    deliveries: Mapping[tuple[str, str], int]
    retries: int
    audit_rows: int
    chain_head: int
    write_latency_avg_s: float
    write_latency_max_s: float
    workers: int
    lag: Mapping[tuple[str, str], int] = field(default_factory=dict)


def snapshot(engine: Engine, lag: Mapping[tuple[str, str], int] | None = None) -> Snapshot:
    with engine.connect() as conn:
        accepted = {
            (s, t): int(n)
            for s, t, n in conn.execute(
                select(QUALITY.c.source, QUALITY.c.event_type, func.sum(QUALITY.c.count))
                .where(QUALITY.c.outcome == "accepted")
                .group_by(QUALITY.c.source, QUALITY.c.event_type)
            )
        }
        rejected = {
            s: int(n)
            for s, n in conn.execute(
                select(REJECTED.c.source, func.count()).group_by(REJECTED.c.source)
            )
        }
        deliveries = {
            (r, o): int(n)
            for r, o, n in conn.execute(
                select(AUDIT.c.recipient, AUDIT.c.outcome, func.count()).group_by(
                    AUDIT.c.recipient, AUDIT.c.outcome
                )
            )
        }
        retries = conn.execute(
            select(func.coalesce(func.sum(AUDIT.c.attempt - 1), 0)).where(AUDIT.c.attempt > 1)
        ).scalar_one()
        head = conn.execute(select(HEAD.c.head_seq)).scalar_one_or_none()
        recent = conn.execute(
            select(AUDIT.c.recorded_at, AUDIT.c.decided_at)
            .order_by(AUDIT.c.seq.desc())
            .limit(LATENCY_SAMPLE)
        ).all()
        workers = conn.execute(
            select(func.count()).where(HEARTBEATS.c.last_seen >= utcnow() - FRESH)
        ).scalar_one()
    gaps = [max(0.0, (rec - dec).total_seconds()) for rec, dec in recent]
    return Snapshot(
        accepted=accepted,
        rejected=rejected,
        deliveries=deliveries,
        retries=int(retries or 0),
        audit_rows=sum(deliveries.values()),
        chain_head=int(head or 0),
        write_latency_avg_s=sum(gaps) / len(gaps) if gaps else 0.0,
        write_latency_max_s=max(gaps, default=0.0),
        workers=int(workers),
        lag=lag or {},
    )


class _SnapshotCollector(Collector):
    def __init__(self, snap: Snapshot) -> None:
        self.snap = snap

    def collect(self) -> Iterator[CounterMetricFamily | GaugeMetricFamily]:
        s = self.snap
        accepted = CounterMetricFamily(
            "hub_events_accepted", "Events accepted by the router", labels=["source", "event_type"]
        )
        for (source, event_type), n in sorted(s.accepted.items()):
            accepted.add_metric([source, event_type], n)
        yield accepted
        rejected = CounterMetricFamily(
            "hub_events_rejected", "Records rejected (undecodable or invalid)", labels=["source"]
        )
        for source, n in sorted(s.rejected.items()):
            rejected.add_metric([source or "unknown"], n)
        yield rejected
        deliveries = CounterMetricFamily(
            "hub_deliveries",
            "Audited decisions by recipient and outcome (delivered, withheld, failed)",
            labels=["recipient", "outcome"],
        )
        for (recipient, outcome), n in sorted(s.deliveries.items()):
            deliveries.add_metric([recipient, outcome], n)
        yield deliveries
        yield CounterMetricFamily(
            "hub_delivery_retries", "Delivery attempts beyond the first", value=s.retries
        )
        dead = sum(n for (_, o), n in s.deliveries.items() if o == "failed")
        yield CounterMetricFamily(
            "hub_dead_letters", "Deliveries given up after the retry budget", value=dead
        )
        lag = GaugeMetricFamily(
            "hub_consumer_lag", "Records not yet consumed, per agent group", labels=["group"]
        )
        per_group: dict[str, int] = {}
        for (group, _topic), n in s.lag.items():
            per_group[group] = per_group.get(group, 0) + n
        for group, n in sorted(per_group.items()):
            lag.add_metric([group], n)
        yield lag
        yield GaugeMetricFamily("hub_audit_rows", "Rows in the audit store", value=s.audit_rows)
        yield GaugeMetricFamily(
            "hub_audit_chain_head_seq", "Sequence number of the chain head", value=s.chain_head
        )
        yield GaugeMetricFamily(
            "hub_audit_write_latency_seconds_avg",
            f"Decision to audit row, mean of the last {LATENCY_SAMPLE} rows",
            value=s.write_latency_avg_s,
        )
        yield GaugeMetricFamily(
            "hub_audit_write_latency_seconds_max",
            f"Decision to audit row, max of the last {LATENCY_SAMPLE} rows",
            value=s.write_latency_max_s,
        )
        yield GaugeMetricFamily(
            "hub_workers_ready", "Workers with a fresh heartbeat", value=s.workers
        )


def metrics_text(snap: Snapshot) -> bytes:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_SnapshotCollector(snap))
    return generate_latest(registry)


async def consumer_lag(
    bootstrap: str,
    groups: Sequence[str],
    timeout: float = 3.0,
    security: Mapping[str, Any] | None = None,
) -> dict[tuple[str, str], int]:
    """Per consumer group and topic: end offsets minus the group's committed offsets.

    Asks each group's coordinator for its committed offsets (OffsetFetch, as the agents' own
    consumers do, without joining the group). Empty when the broker does not answer in time:
    the metric is then absent, not zero.
    """
    import asyncio

    from aiokafka import AIOKafkaConsumer, TopicPartition

    lag: dict[tuple[str, str], int] = {}
    consumers: list[AIOKafkaConsumer] = []
    try:
        async with asyncio.timeout(timeout):
            for group in groups:
                consumer = AIOKafkaConsumer(
                    bootstrap_servers=bootstrap,
                    group_id=group,
                    enable_auto_commit=False,
                    **(security or {}),  # hub.broker.security.kafka_client_kwargs(settings)
                )
                consumers.append(consumer)
                await consumer.start()
                parts = [
                    TopicPartition(topic, p)
                    for topic in sorted(await consumer.topics())
                    for p in sorted(consumer.partitions_for_topic(topic) or ())
                ]
                committed = {tp: await consumer.committed(tp) for tp in parts}
                mine = [tp for tp, offset in committed.items() if offset is not None]
                ends = await consumer.end_offsets(mine) if mine else {}
                for tp in mine:
                    behind = max(0, ends.get(tp, 0) - (committed[tp] or 0))
                    lag[(group, tp.topic)] = lag.get((group, tp.topic), 0) + behind
    except Exception:
        return {}
    finally:
        for consumer in consumers:
            await consumer.stop()
    return lag
