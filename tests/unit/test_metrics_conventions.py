"""Metric names follow Prometheus conventions; HTTP metrics use route templates; the pure parts
of metrics and probes (lag arithmetic, staged counts, the readiness answer) decide right."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterable
from datetime import timedelta

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from prometheus_client import Counter
from prometheus_client.metrics_core import Metric
from prometheus_client.parser import text_string_to_metric_families

from cli.common import api_base_url
from hub.api.health import Check, Readiness
from hub.api.metrics import GaugeCache, Gauges, HttpMetrics, metrics_text
from hub.broker.clients import lag_by_topic
from hub.metrics import BatchCounts
from hub.settings import HubSettings

NAME = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
# units that are not Prometheus base units (seconds, bytes, ratios)
NOT_BASE_UNITS = re.compile(
    r"_(ms|milliseconds|microseconds|us|minutes|hours|days|kb|kilobytes|mb|megabytes|percent)(_|$)"
)


def convention_problems(families: Iterable[Metric]) -> list[str]:
    """Every way the exposed families break Prometheus' naming conventions."""
    problems: list[str] = []
    for f in families:
        where = f"{f.name} ({f.type})"
        if not NAME.match(f.name):
            problems.append(f"{where}: not a valid metric name")
        if NOT_BASE_UNITS.search(f.name):
            problems.append(f"{where}: not in base units")
        if not f.documentation.strip():
            problems.append(f"{where}: no help text")
        samples = {s.name for s in f.samples}
        if f.type == "counter":
            if samples and not any(n.endswith("_total") for n in samples):
                problems.append(f"{where}: a counter's samples must end in _total")
        elif f.type in ("gauge", "histogram", "summary") and f.name.endswith(
            ("_total", "_count", "_sum", "_bucket")
        ):
            problems.append(f"{where}: reserved suffix on a {f.type}")
        hub_histogram = f.type == "histogram" and f.name.startswith("hub_")
        if hub_histogram and not f.name.endswith(("_seconds", "_bytes")):
            problems.append(f"{where}: a histogram is named for its base unit")
        if f.type == "unknown" and f.name.startswith("hub_"):
            problems.append(f"{where}: untyped")
    return problems


def _families(text: bytes) -> list[Metric]:
    return list(text_string_to_metric_families(text.decode()))


def _cache(gauges: Gauges) -> GaugeCache:
    cache = GaugeCache(lambda: gauges, None, interval_s=60)
    asyncio.run(cache.refresh())
    return cache


def test_every_exposed_metric_follows_the_conventions() -> None:
    gauges = Gauges(
        inbox_pending={"libraries": 2},
        webhook_pending={"waste": 1},
        dead_letters={"waste": 0},
        review_open=3,
        chain_head=10,
        workers_live=1,
        lag={("tell-it-once-hub.router", "events.address.changed"): 4},
    )
    families = _families(metrics_text(_cache(gauges)))
    names = {f.name for f in families}
    # the hub's own instruments and the cached gauges are all exposed
    assert {
        "hub_http_requests",
        "hub_http_request_duration_seconds",
        "hub_events_accepted",
        "hub_events_rejected",
        "hub_agent_batch_duration_seconds",
        "hub_audit_latency_seconds",
        "hub_audit_chain_head_seq",
        "hub_consumer_lag",
        "hub_inbox_pending_items",
        "hub_metrics_refresh_timestamp_seconds",
    } <= names
    assert convention_problems(families) == []


def test_the_checker_catches_what_breaks_the_conventions() -> None:
    text = (
        b"# HELP hub_latency_ms Latency\n# TYPE hub_latency_ms gauge\nhub_latency_ms 1.0\n"
        b"# HELP hub_rows_total Rows\n# TYPE hub_rows_total gauge\nhub_rows_total 1.0\n"
        b'# HELP hub_wait Wait\n# TYPE hub_wait histogram\nhub_wait_bucket{le="+Inf"} 1.0\n'
        b"hub_wait_count 1.0\nhub_wait_sum 1.0\n"
    )
    problems = convention_problems(_families(text))
    assert any("hub_latency_ms" in p and "base units" in p for p in problems)
    assert any("hub_rows_total" in p and "reserved suffix" in p for p in problems)
    assert any("hub_wait" in p and "base unit" in p for p in problems)


def test_http_requests_are_counted_under_the_route_template_not_the_raw_path() -> None:
    app = FastAPI()
    app.add_middleware(HttpMetrics)

    @app.get("/v1/things/{thing_id}")
    async def thing(thing_id: str) -> dict[str, str]:
        return {"id": thing_id}

    def count(route: str, status: str) -> float:
        for f in _families(metrics_text(None)):
            for s in f.samples:
                if s.name == "hub_http_requests_total" and s.labels == {
                    "method": "GET",
                    "route": route,
                    "status": status,
                }:
                    return s.value
        return 0.0

    before = count("/v1/things/{thing_id}", "200")
    unmatched = count("<unmatched>", "404")
    with TestClient(app) as client:
        assert client.get("/v1/things/person-123").status_code == 200
        assert client.get("/v1/things/person-456").status_code == 200
        assert client.get("/nowhere/person-789").status_code == 404
    assert count("/v1/things/{thing_id}", "200") == before + 2
    assert count("<unmatched>", "404") == unmatched + 1
    text = metrics_text(None).decode()
    assert "person-123" not in text and "person-789" not in text


def test_lag_is_end_minus_committed_summed_per_group_and_topic() -> None:
    committed = {
        "g.router": {("events.a", 0): 5, ("events.a", 1): 7, ("events.b", 0): -1},
        "g.audit": {("audit", 0): 10},
    }
    ends = {("events.a", 0): 8, ("events.a", 1): 7, ("events.b", 0): 4, ("audit", 0): 9}
    assert lag_by_topic(committed, ends) == {
        ("g.router", "events.a"): 3,  # no offset committed on events.b: no figure, not 4
        ("g.audit", "audit"): 0,  # never negative
    }


def test_staged_counts_apply_once_when_flushed() -> None:
    counter = Counter("hub_test_staged", "test", ["x"])
    counts = BatchCounts()
    counts.add(counter, "a")
    counts.clear()  # the batch failed and is retried: its first attempt counts nothing
    counts.add(counter, "a")
    counts.add(counter, "a")
    assert counter.labels("a")._value.get() == 0
    counts.flush()
    counts.flush()
    assert counter.labels("a")._value.get() == 2


def test_staged_counts_apply_bounded_labels() -> None:
    """Labels are bounded as they are applied: two long values alike in their first 64
    characters count under one label, and an empty one under "unknown"."""
    counter = Counter("hub_test_staged_bounded", "test", ["x"])
    counts = BatchCounts()
    counts.add(counter, "s" * 64 + "-one")
    counts.add(counter, "s" * 64 + "-two")
    counts.add(counter, "")
    counts.flush()
    assert counter.labels("s" * 64)._value.get() == 2
    assert counter.labels("unknown")._value.get() == 1


async def _never() -> None:
    raise AssertionError("not called")


def _readiness() -> Readiness:
    return Readiness(
        _never,
        engine=None,  # type: ignore[arg-type]
        bootstrap="kafka:9092",
        interval_s=1.0,
        worker_fresh=timedelta(seconds=3),
    )


def test_readiness_depends_on_broker_and_database_not_on_workers() -> None:
    r = _readiness()
    status, body = r.answer()
    assert status == 503 and "checks" in body["reasons"]  # nothing checked yet
    r.broker, r.database, r.workers = Check(True, ""), Check(True, ""), (0, 0)
    r.checked_at = __import__("time").monotonic()
    status, body = r.answer()
    assert status == 200 and body["status"] == "ready"
    assert body["workers"]["live"] == 0  # information only
    r.broker = Check(False, "Kafka at kafka:9092 is not reachable (KafkaConnectionError)")
    status, body = r.answer()
    assert status == 503 and body["reasons"] == {"broker": r.broker.reason}
    assert body["checks"] == {"broker": False, "database": True}


def test_hub_health_reaches_the_api_the_settings_describe() -> None:
    assert api_base_url(HubSettings(api_host="0.0.0.0", api_port=9191)) == "http://127.0.0.1:9191"
    assert api_base_url(HubSettings(api_host="10.0.0.5", api_port=80)) == "http://10.0.0.5:80"
    assert api_base_url(HubSettings(api_host="::1", api_port=8080)) == "http://[::1]:8080"


class _Answer:
    def __init__(self, status: int, body: dict[str, object]) -> None:
        self.status_code = status
        self._body = body
        self.text = str(body)

    def json(self) -> dict[str, object]:
        return self._body


def test_hub_health_asks_the_port_in_the_settings_and_prints_the_reasons(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import httpx
    from typer.testing import CliRunner

    from cli.main import app

    asked: list[str] = []
    answers = [
        _Answer(200, {"status": "ready"}),
        _Answer(503, {"status": "not_ready", "reasons": {"broker": "Kafka at k:9092 is down"}}),
    ]

    def fake_get(url: str, timeout: float) -> _Answer:
        asked.append(url)
        return answers.pop(0)

    monkeypatch.setattr(httpx, "get", fake_get)
    # the CLI would point the process's logs at the runner's stream, closed after the call
    monkeypatch.setattr("cli.common.console_logging", lambda level, settings: None)
    env = {"HUB_API_HOST": "0.0.0.0", "HUB_API_PORT": "9461"}
    ok = CliRunner().invoke(app, ["health"], env=env)
    assert ok.exit_code == 0, ok.output
    down = CliRunner().invoke(app, ["health"], env=env)
    assert down.exit_code == 1 and "broker: Kafka at k:9092 is down" in down.output
    assert asked == ["http://127.0.0.1:9461/readyz"] * 2
