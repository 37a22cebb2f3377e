"""The hub's in-process Prometheus instruments: counters and histograms each process keeps.

Counters are process-local and only ever go up (a restart starts them at zero again, which
Prometheus' `rate()` and `increase()` handle); nothing here is read back from the database, so
a purge or a retention run never makes a counter fall. The API process serves them on
`/metrics`; each worker serves its own on `HUB_WORKER_METRICS_PORT`. Gauges computed from the
database (queue sizes, chain head, consumer lag) are not here: see `hub.api.metrics`.

Labels are system ids, event types, rule names, outcomes, agent names and route templates:
never personal data, never raw paths or ids.
"""

from __future__ import annotations

import collections
from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from prometheus_client import Counter, Histogram

# Latency buckets in seconds: from a fast HTTP answer to a batch held up by a database retry.
_SECONDS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
_LATENCY = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0)
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
UNMATCHED_ROUTE = "<unmatched>"

# --- API process ---------------------------------------------------------------------------
HTTP_REQUESTS = Counter(
    "hub_http_requests",
    "HTTP requests answered, by method, route template and status code.",
    ["method", "route", "status"],
)
HTTP_DURATION = Histogram(
    "hub_http_request_duration_seconds",
    "Time to answer an HTTP request (first byte of the request to the last of the answer).",
    ["method", "route"],
    buckets=_SECONDS,
)
INGEST_PUBLISHED = Counter(
    "hub_ingest_published",
    "Events accepted by HTTP ingest (202): validated and acknowledged by the broker.",
    ["source", "type"],
)

# --- both: a rejection is counted where it happens (HTTP ingest in the API, the router in a
# worker), so each rejected event is counted once across the hub ---------------------------
EVENTS_REJECTED = Counter(
    "hub_events_rejected",
    "Events rejected, by source, event type and the first rule they broke "
    "(HTTP ingest 422s in the API process; undecodable, unknown-source, invalid or "
    "unauthorised records in a worker's router).",
    ["source", "type", "reason"],
)

# --- worker process -------------------------------------------------------------------------
EVENTS_ACCEPTED = Counter(
    "hub_events_accepted",
    "Events the router accepted (decoded, from a known source, valid) and routed or queued.",
    ["source", "type"],
)
DELIVERIES_ROUTED = Counter(
    "hub_deliveries_routed",
    "Minimised deliveries the router emitted, by recipient.",
    ["recipient"],
)
DELIVERIES_WITHHELD = Counter(
    "hub_deliveries_withheld",
    "Transfers the router withheld (no agreement, no consent, ...), by recipient.",
    ["recipient"],
)
AUDIT_ROWS = Counter(
    "hub_audit_rows_written",
    "Rows appended to the audit chain, by recipient and outcome.",
    ["recipient", "outcome"],
)
AUDIT_LATENCY = Histogram(
    "hub_audit_latency_seconds",
    "From the router accepting an event (its decision) to the audit row of that decision or "
    "outcome being written.",
    buckets=_LATENCY,
)
AGENT_RECORDS = Counter(
    "hub_agent_records",
    "Records a batch agent consumed, handled and committed, by agent "
    "(router: events routed; delivery: deliveries handed over; audit-writer: audit entries).",
    ["agent"],
)
AGENT_BATCH_DURATION = Histogram(
    "hub_agent_batch_duration_seconds",
    "Time to handle one batch: decode, database writes, produce and wait for acknowledgements, "
    "commit offsets.",
    ["agent"],
    buckets=_SECONDS,
)


def label(value: str, limit: int = 64) -> str:
    """A label value: bounded, never empty."""
    return value[:limit] or "unknown"


def method_label(method: str) -> str:
    return method if method in METHODS else "OTHER"


def rejected(source: str, event_type: str, rules: Sequence[str]) -> None:
    """One rejected event, under the first rule it broke."""
    EVENTS_REJECTED.labels(label(source), label(event_type), label(rules[0] if rules else "")).inc()


def batch_done(agent: str, records: int, seconds: float) -> None:
    AGENT_RECORDS.labels(agent).inc(records)
    AGENT_BATCH_DURATION.labels(agent).observe(seconds)


class Audited(Protocol):
    @property
    def recipient(self) -> str: ...
    @property
    def outcome(self) -> str: ...
    @property
    def decided_at(self) -> datetime: ...


def audited(entries: Sequence[Audited], written: int, written_at: datetime) -> None:
    """`written` of a batch's entries appended to the chain: counted by recipient and outcome,
    each decision's latency observed. Entries skipped as already recorded (a redelivered batch,
    rare) are the earlier ones of the batch here: the count is exact, the labels approximate."""
    rows: collections.Counter[tuple[str, str]] = collections.Counter()
    decided: collections.Counter[datetime] = collections.Counter()
    for e in entries[len(entries) - written :] if written > 0 else ():
        rows[(e.recipient, str(e.outcome))] += 1
        decided[e.decided_at] += 1  # a batch's entries share a few decision moments
    for (recipient, outcome), n in rows.items():
        AUDIT_ROWS.labels(label(recipient), label(outcome)).inc(n)
    for at, n in decided.items():
        latency = max(0.0, (written_at - at).total_seconds())
        for _ in range(n):
            AUDIT_LATENCY.observe(latency)


def serve_worker_metrics(port: int, host: str = "0.0.0.0") -> None:
    """This process's metrics on http://host:port/metrics (a daemon thread); 0: off.

    A port that is taken is a configuration error named in the user's terms, not a traceback.
    """
    if not port:
        return
    from prometheus_client import start_http_server

    from hub.errors import ConfigError, Problem

    try:
        start_http_server(port, addr=host)
    except OSError as exc:
        raise ConfigError(
            "the worker cannot serve its metrics",
            [
                Problem(
                    "HUB_WORKER_METRICS_PORT",
                    "port_unavailable",
                    f"port {port} on {host} is not free ({exc.strerror}): give each worker on "
                    "this host its own port, or 0 to turn worker metrics off",
                )
            ],
        ) from exc


class BatchCounts:
    """Increments staged while a batch is handled and applied once its output is acknowledged,
    so a batch retried after an error (the database restarting) is counted once."""

    def __init__(self) -> None:
        self._staged: dict[tuple[Counter, tuple[str, ...]], int] = {}

    def add(self, counter: Counter, *labels: str) -> None:
        key = (counter, labels)  # bounded once per distinct key, at flush (this is per record)
        self._staged[key] = self._staged.get(key, 0) + 1

    def clear(self) -> None:
        self._staged = {}

    def flush(self) -> None:
        staged, self._staged = self._staged, {}
        for (counter, labels), n in staged.items():
            counter.labels(*(label(v) for v in labels)).inc(n)
