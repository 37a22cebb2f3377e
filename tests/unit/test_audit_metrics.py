"""hub.metrics.audited: every written entry counted by recipient and outcome, each latency
observed once (exact counts, buckets and sum, read from the registry)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from prometheus_client import REGISTRY

from hub import metrics
from hub.inbox.delivered import Audited

AT = datetime(2026, 12, 5, 9, 0, tzinfo=UTC)


def _sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_each_written_entry_is_counted_and_its_latency_observed_once() -> None:
    entries = (
        # the first two were recorded already (a redelivered batch): not counted again
        Audited("metrics-a", "delivered", AT - timedelta(seconds=9)),
        Audited("metrics-a", "delivered", AT - timedelta(seconds=9)),
        *(Audited("metrics-a", "delivered", AT - timedelta(milliseconds=20)) for _ in range(3)),
        *(Audited("metrics-b", "withheld", AT - timedelta(milliseconds=200)) for _ in range(2)),
        Audited("metrics-b", "delivered", AT + timedelta(seconds=1)),  # clock skew: 0 s
    )
    rows = "hub_audit_rows_written_total"
    before = {
        key: _sample(rows, recipient=key[0], outcome=key[1])
        for key in (
            ("metrics-a", "delivered"),
            ("metrics-b", "withheld"),
            ("metrics-b", "delivered"),
        )
    }
    count = _sample("hub_audit_latency_seconds_count")
    total = _sample("hub_audit_latency_seconds_sum")
    le_25ms = _sample("hub_audit_latency_seconds_bucket", le="0.025")
    le_250ms = _sample("hub_audit_latency_seconds_bucket", le="0.25")

    metrics.audited(entries, written=6, written_at=AT)

    assert (
        _sample(rows, recipient="metrics-a", outcome="delivered")
        - before[("metrics-a", "delivered")]
        == 3
    )
    assert (
        _sample(rows, recipient="metrics-b", outcome="withheld") - before[("metrics-b", "withheld")]
        == 2
    )
    assert (
        _sample(rows, recipient="metrics-b", outcome="delivered")
        - before[("metrics-b", "delivered")]
        == 1
    )
    assert _sample("hub_audit_latency_seconds_count") - count == 6
    assert abs(_sample("hub_audit_latency_seconds_sum") - total - (3 * 0.02 + 2 * 0.2)) < 1e-9
    assert _sample("hub_audit_latency_seconds_bucket", le="0.025") - le_25ms == 4  # 3 + the 0 s
    assert _sample("hub_audit_latency_seconds_bucket", le="0.25") - le_250ms == 6


def test_nothing_written_counts_nothing() -> None:
    count = _sample("hub_audit_latency_seconds_count")
    metrics.audited((Audited("metrics-c", "delivered", AT),), written=0, written_at=AT)
    assert _sample("hub_audit_latency_seconds_count") == count
    assert _sample("hub_audit_rows_written_total", recipient="metrics-c", outcome="delivered") == 0
