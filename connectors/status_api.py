"""`GET /v1/connectors` (IG or admin) and `POST /v1/connectors/{name}/pause|resume` (admin)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException
from pydantic import BaseModel, Field

from hub.api.auth import current_system
from hub.config.model import Role, System
from hub.connectors.config import AnyConnectorDef, FileDropDef, SqlTableDef
from hub.connectors.store import ConnectorStatus, ConnectorStore
from hub.errors import PermissionDenied
from hub.timeutil import utcnow

ConnectorDef = AnyConnectorDef


class ConnectorInfo(BaseModel):
    name: str
    kind: str = Field(description="file_drop, sql_table or sql_outbox")
    source: str
    event_type: str | None = Field(
        description="None for an outbox (each row names its type) and for an extract (no events)"
    )
    enabled: bool
    paused: bool
    position: str = Field(description="Last change (or file) published and acknowledged")
    published: int
    rejected: int
    pending: int = Field(description="Changes (or files) waiting at the last poll")
    lag_seconds: float = Field(description="Age of the oldest change not yet published")
    last_run_at: datetime | None
    last_error: str


def _require_any(system: System, *roles: Role) -> None:
    if not any(r in system.roles for r in roles):
        wanted = " or ".join(r.value for r in roles)
        raise PermissionDenied(f"system {system.id!r} does not have the {wanted} role")


def _info(d: ConnectorDef, s: ConnectorStatus, now: datetime) -> ConnectorInfo:
    return ConnectorInfo(
        name=d.name,
        kind=d.kind,
        source=d.source,
        event_type=d.event_type if isinstance(d, FileDropDef | SqlTableDef) else None,
        enabled=d.enabled,
        paused=s.paused,
        position=s.position,
        published=s.published,
        rejected=s.rejected,
        pending=s.pending,
        lag_seconds=s.lag_seconds(now),
        last_run_at=s.last_run_at,
        last_error=s.last_error,
    )


def connectors_router(store: ConnectorStore, defs: Sequence[ConnectorDef]) -> APIRouter:
    router = APIRouter(tags=["connectors"])
    by_name = {d.name: d for d in defs}

    def _status(d: ConnectorDef) -> ConnectorStatus:
        store.ensure(d.name, d.kind)
        found = store.status(d.name)
        assert found is not None
        return found

    def _find(name: str) -> ConnectorDef:
        d = by_name.get(name)
        if d is None:
            raise HTTPException(404, f"no connector named {name!r} in connectors.yaml")
        return d

    @router.get("/v1/connectors", response_model=list[ConnectorInfo])
    async def list_connectors(
        system: Annotated[System, Depends(current_system)],
    ) -> list[ConnectorInfo]:
        """Every configured source connector: position, lag, rows published and rejected (IG or admin)."""
        _require_any(system, Role.IG, Role.ADMIN)
        now = utcnow()
        statuses = await asyncio.to_thread(lambda: [_status(d) for d in defs])
        return [_info(d, s, now) for d, s in zip(defs, statuses, strict=True)]

    async def _set(name: str, system: System, paused: bool) -> ConnectorInfo:
        _require_any(system, Role.ADMIN)
        d = _find(name)
        await asyncio.to_thread(store.set_paused, d.name, paused, d.kind)
        return _info(d, await asyncio.to_thread(_status, d), utcnow())

    @router.post("/v1/connectors/{name}/pause", response_model=ConnectorInfo)
    async def pause(name: str, system: Annotated[System, Depends(current_system)]) -> ConnectorInfo:
        """Stop a connector taking new changes; it keeps its position (admin)."""
        return await _set(name, system, True)

    @router.post("/v1/connectors/{name}/resume", response_model=ConnectorInfo)
    async def resume(
        name: str, system: Annotated[System, Depends(current_system)]
    ) -> ConnectorInfo:
        """Let a paused connector carry on from its position (admin)."""
        return await _set(name, system, False)

    return router
