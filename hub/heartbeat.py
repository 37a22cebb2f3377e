"""Worker liveness in the database, so the API and health checks can tell a worker is running."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine, delete, select

from hub.db.engine import any_found
from hub.db.tables import WorkerHeartbeat

_TABLE = WorkerHeartbeat.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True)
class AgentAssignment:
    """One agent's place in its consumer group, as its worker sees it."""

    joined: bool  # its consumer completed the latest group join it took part in
    partitions: int  # the partitions it holds now


def reported_partitions(agents: Iterable[AgentAssignment]) -> int:
    """What a worker's heartbeat reports as its assigned partitions (more than 0: ready).

    0 until every agent's consumer has joined its group (starting, or during a rebalance);
    then the partitions its agents hold together. An agent that joined and holds nothing is
    normal: with more workers than a topic has partitions some get none (the audit topic has one,
    so with two workers one audit-writer is idle), and it must not make the worker look unready.
    """
    agents = list(agents)
    if not agents or not all(a.joined for a in agents):
        return 0
    return sum(a.partitions for a in agents)


class HeartbeatStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def beat(
        self, worker_id: str, pid: int, started_at: datetime, now: datetime, assigned: int
    ) -> None:
        with self.engine.begin() as conn:
            conn.execute(delete(_TABLE).where(_TABLE.c.worker_id == worker_id))
            conn.execute(
                _TABLE.insert().values(
                    worker_id=worker_id,
                    pid=pid,
                    started_at=started_at,
                    last_seen=now,
                    assigned_partitions=assigned,
                )
            )

    def ready_workers(self, now: datetime, within: timedelta) -> int:
        """Workers seen recently that hold at least one partition."""
        stmt = select(_TABLE.c.worker_id).where(
            _TABLE.c.last_seen >= now - within, _TABLE.c.assigned_partitions > 0
        )
        with self.engine.connect() as conn:
            return len(conn.execute(stmt).all())

    def fresh_on_host(self, host: str, now: datetime, within: timedelta) -> bool:
        """A worker on `host` (worker ids are "<host>:<pid>") beat within `within`."""
        stmt = select(_TABLE.c.worker_id).where(
            _TABLE.c.worker_id.like(f"{host}:%"), _TABLE.c.last_seen >= now - within
        )
        return any_found(self.engine, stmt)
