"""Probes: `/livez` (the process answers), `/readyz` (it can accept ingest), `/metrics`.

Readiness means what Kubernetes expects of it: the API can take events, so the broker answers
and the database is writable. Both are checked in the background every
HUB_READINESS_CHECK_INTERVAL_S through long-lived clients and the answer is cached, so a probe
costs nothing and hammering it opens no connection. Readiness does not depend on a worker:
Kafka keeps the events until one runs. Live workers (fresh heartbeats) are reported in the body
as information only.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import structlog
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy import Engine, func, select, text

from hub.api.metrics import CONTENT_TYPE, HEARTBEATS, GaugeCache, metrics_text, retrieved
from hub.broker.clients import BrokerMonitor
from hub.periodic import Periodic
from hub.timeutil import utcnow

log = structlog.get_logger("hub.api.health")
router = APIRouter(tags=["health"])


def _check_database(engine: Engine) -> None:
    """Open a write transaction, touch nothing that matters, roll back; the driver's error
    (its class names the cause) when the database cannot."""
    with engine.connect() as conn:
        conn.execute(text("UPDATE audit_chain_head SET head_seq = head_seq WHERE id = -1"))
        conn.rollback()


def worker_counts(engine: Engine, fresh: timedelta) -> tuple[int, int]:
    """(live, assigned): workers whose heartbeat is fresh, and of those, the ones whose every
    agent has joined its group and that hold a partition (`hub.heartbeat.reported_partitions`;
    with more workers than partitions, not every live one does)."""
    since = utcnow() - fresh
    with engine.connect() as conn:
        live = conn.execute(
            select(func.count()).where(HEARTBEATS.c.last_seen >= since)
        ).scalar_one()
        assigned = conn.execute(
            select(func.count()).where(
                HEARTBEATS.c.last_seen >= since, HEARTBEATS.c.assigned_partitions > 0
            )
        ).scalar_one()
    return int(live), int(assigned)


@dataclass
class Check:
    ok: bool = False
    reason: str = "not checked yet"


@dataclass
class Readiness:
    """The cached state of the API's dependencies, refreshed by `run` in the background."""

    broker_probe: Callable[[], Awaitable[object]]
    engine: Engine
    bootstrap: str
    interval_s: float
    worker_fresh: timedelta
    timeout_s: float = 3.0
    broker: Check = field(default_factory=Check)
    database: Check = field(default_factory=Check)
    workers: tuple[int, int] | None = None
    checked_at: float = 0.0  # monotonic time of the last finished round
    _db_inflight: asyncio.Future[None] | None = None
    _loop: Periodic | None = None

    async def check_once(self) -> None:
        self.broker = await self._broker()
        self.database = await self._database()
        try:
            self.workers = await asyncio.wait_for(
                asyncio.to_thread(worker_counts, self.engine, self.worker_fresh), self.timeout_s
            )
        except Exception:
            self.workers = None
        self.checked_at = time.monotonic()

    async def _broker(self) -> Check:
        try:
            await asyncio.wait_for(self.broker_probe(), self.timeout_s)
            return Check(True, "")
        except TimeoutError:
            return Check(
                False, f"Kafka at {self.bootstrap} did not answer within {self.timeout_s:g}s"
            )
        except Exception as exc:
            return Check(
                False, f"Kafka at {self.bootstrap} is not reachable ({type(exc).__name__})"
            )

    async def _database(self) -> Check:
        # a check still blocked (a long lock) is not started again: it is waited on
        if self._db_inflight is None or self._db_inflight.done():
            self._db_inflight = asyncio.ensure_future(
                asyncio.to_thread(_check_database, self.engine)
            )
            self._db_inflight.add_done_callback(retrieved)
        try:
            await asyncio.wait_for(asyncio.shield(self._db_inflight), self.timeout_s)
            return Check(True, "")
        except TimeoutError:
            return Check(False, f"the database did not answer within {self.timeout_s:g}s")
        except Exception as exc:
            return Check(False, f"the database is not writable ({type(exc).__name__})")

    def start(self) -> None:
        if self._loop is None:  # never dies on an error: readiness would freeze
            self._loop = Periodic("readiness", self.check_once, self.interval_s)
        self._loop.start()

    async def stop(self) -> None:
        if self._loop is not None:
            await self._loop.stop()

    def answer(self) -> tuple[int, dict[str, Any]]:
        """The probe's status code and body, from the cache."""
        checks = {"broker": self.broker.ok, "database": self.database.ok}
        reasons = {
            name: check.reason
            for name, check in (("broker", self.broker), ("database", self.database))
            if not check.ok
        }
        age = time.monotonic() - self.checked_at if self.checked_at else None
        stale_after = 3 * self.interval_s + 3 * self.timeout_s
        if age is None or age > stale_after:
            reasons["checks"] = (
                "no check has finished yet"
                if age is None
                else f"the last check finished {age:.0f}s ago (the checks are stuck)"
            )
        ok = not reasons
        body: dict[str, Any] = {"status": "ready" if ok else "not_ready", "checks": checks}
        if reasons:
            body["reasons"] = reasons
        live, assigned = self.workers if self.workers is not None else (None, None)
        body["workers"] = {
            "live": live,
            "assigned": assigned,
            "fresh_within_s": self.worker_fresh.total_seconds(),
            "note": "information only: readiness does not depend on a worker (Kafka keeps events)",
        }
        return (200 if ok else 503), body


@dataclass
class Probes:
    readiness: Readiness
    gauges: GaugeCache | None
    monitor: BrokerMonitor | None = None  # the long-lived Kafka clients both use


def _probes(request: Request) -> Probes:
    probes: Probes = request.app.state.probes
    return probes


@router.get("/livez")
async def livez() -> dict[str, str]:
    """The process is alive and its event loop answers (no dependency is checked)."""
    return {"status": "alive"}


@router.get("/healthz", include_in_schema=False)
async def healthz() -> dict[str, str]:
    """Kept for existing probes: the same as /livez."""
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(request: Request) -> JSONResponse:
    """Ready to accept ingest: the broker answers and the database is writable (checked in the
    background every second or two). 503 names what is not. Live workers are information."""
    status, body = _probes(request).readiness.answer()
    return JSONResponse(body, status)


@router.get("/metrics", response_class=Response)
async def metrics(request: Request) -> Response:
    """Prometheus metrics: this process's counters and histograms, and the business gauges last
    computed in the background (no query runs on a scrape)."""
    return Response(metrics_text(_probes(request).gauges), media_type=CONTENT_TYPE)
