"""IG endpoints for data quality: counters per source and rule, and the rejected events."""

from __future__ import annotations

import asyncio
from datetime import date, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response
from pydantic import BaseModel, Field

from hub.api.auth import current_system, require_role
from hub.api.context import ApiContext, api_context
from hub.api.counted import COUNTED, FROM, PAGE, TO, counted
from hub.config.model import Role, System
from hub.quality.counters import QualityRow

router = APIRouter(tags=["data quality"])


class QualityReport(BaseModel):
    since: date | None
    until: date | None = None
    rows: list[QualityRow] = Field(description="Totals per source, event type, outcome and rule")


class RejectedItem(BaseModel):
    id: int
    rejected_at: datetime
    source: str
    event_id: str
    event_type: str
    original_topic: str
    original_partition: int
    original_offset: int
    reason: str
    rules: list[str]
    status: str = Field(description="rejected, or replayed once fixed")
    replayed_as: str | None


@router.get("/v1/quality", response_model=QualityReport)
async def quality(
    ctx: Annotated[ApiContext, Depends(api_context)],
    system: Annotated[System, Depends(current_system)],
    since: Annotated[date | None, Query(description="First day counted (UK date)")] = None,
    source: Annotated[str | None, Query(description="Only this source system")] = None,
    until: Annotated[date | None, Query(description="Last day counted (UK date)")] = None,
) -> QualityReport:
    """Accepted and rejected events per source system, event type and rule (IG role)."""
    require_role(system, Role.IG)
    rows = await asyncio.to_thread(ctx.quality.summary, since, source, until)
    return QualityReport(since=since, until=until, rows=rows)


@router.get("/v1/rejected", response_model=list[RejectedItem], responses=COUNTED)
async def rejected(
    response: Response,
    ctx: Annotated[ApiContext, Depends(api_context)],
    system: Annotated[System, Depends(current_system)],
    source: Annotated[str | None, Query(description="Only this source system")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    page: Annotated[int, PAGE] = 1,
    date_from: Annotated[date | None, FROM] = None,
    date_to: Annotated[date | None, TO] = None,
) -> list[RejectedItem]:
    """Records that reached the hub but were rejected within the dates, newest first (IG
    role); `X-Total-Count` says how many matched in all."""
    require_role(system, Role.IG)
    found = counted(
        response,
        await asyncio.to_thread(ctx.rejected.page, source, date_from, date_to, page, limit),
    )
    return [
        RejectedItem(
            id=r.seq,
            rejected_at=r.rejected_at,
            source=r.source,
            event_id=r.event_id,
            event_type=r.event_type,
            original_topic=r.original_topic,
            original_partition=r.original_partition,
            original_offset=r.original_offset,
            reason=r.reason,
            rules=list(r.rules),
            status=r.status,
            replayed_as=r.replayed_as,
        )
        for r in found
    ]
