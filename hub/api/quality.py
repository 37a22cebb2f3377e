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
from hub.timeutil import check_days
from hub.unknown_names import COUNTED_NONE, REJECTED_NONE, SOURCE, refuse_unknown

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
    """Accepted and rejected events per source system, event type and rule (IG role). A
    `source` neither configured nor ever counted, with nothing found, is refused (422)."""
    require_role(system, Role.IG)
    check_days(since, until, "query.since", "query.until")
    rows = await asyncio.to_thread(ctx.quality.summary, since, source, until)
    if not rows:
        await asyncio.to_thread(
            refuse_unknown, "source", source, SOURCE, COUNTED_NONE, ctx.source_ids,
            ctx.quality.has_source,
        )  # fmt: skip
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
    role); `X-Total-Count` says how many matched in all. A `source` neither configured nor in
    any rejected record, with nothing found, is refused (422)."""
    require_role(system, Role.IG)
    check_days(date_from, date_to, "query.from", "query.to")
    matched = await asyncio.to_thread(ctx.rejected.page, source, date_from, date_to, page, limit)
    if not matched.total:
        await asyncio.to_thread(
            refuse_unknown, "source", source, SOURCE, REJECTED_NONE, ctx.source_ids,
            ctx.rejected.has_source,
        )  # fmt: skip
    found = counted(response, matched)
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
