"""Policy endpoints: explain a decision without sending anything; the review queue (IG, admin)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field
from sqlalchemy import Engine

from hub.api.auth import current_system
from hub.config.model import Role, System
from hub.config.watch import ConfigWatcher
from hub.errors import ExplainRequestInvalid, PermissionDenied, Problem
from hub.events.rules import RuleConfig
from hub.review.store import ReviewStore
from hub.routing.explain import FanOut
from hub.routing.explain_live import explain_submission, recipients_to_explain
from hub.timeutil import utcnow

router = APIRouter(tags=["policy"])


@dataclass(frozen=True)
class PolicyContext:
    engine: Engine
    watcher: ConfigWatcher
    review: ReviewStore
    rules: RuleConfig


def policy_context(request: Request) -> PolicyContext:
    ctx = request.app.state.policy
    assert isinstance(ctx, PolicyContext)
    return ctx


def _ig_or_admin(system: System) -> None:
    if not system.roles & {Role.IG, Role.ADMIN}:
        raise PermissionDenied(f"system {system.id!r} has neither the ig nor the admin role")


class ExplainRequest(BaseModel):
    event: dict[str, Any] = Field(
        description="The event as POST /v1/events takes it, with its `source`"
    )
    recipient: str | None = Field(default=None, description="One recipient; none: all of them")


class ReviewItemOut(BaseModel):
    id: int
    queued_at: datetime
    event_id: str
    event_type: str
    source: str
    subject_key: str
    reason: str
    status: str


@router.post("/v1/policy/explain", response_model=FanOut)
async def explain(
    body: ExplainRequest,
    ctx: Annotated[PolicyContext, Depends(policy_context)],
    system: Annotated[System, Depends(current_system)],
) -> FanOut:
    """What the hub would do with this event now, and why, per recipient. Nothing is sent."""
    _ig_or_admin(system)
    source = body.event.get("source")
    if not isinstance(source, str) or not source:
        raise ExplainRequestInvalid(
            "no source system", [Problem("event.source", "required", "the event needs a source")]
        )
    config = await asyncio.to_thread(ctx.watcher.current)
    recipients = recipients_to_explain(
        config, [body.recipient] if body.recipient else [], body.recipient is None
    )
    now = utcnow()
    return await asyncio.to_thread(
        explain_submission,
        body.event,
        source,
        recipients,
        config,
        ctx.watcher.registry,
        ctx.rules.at(now),
        ctx.engine,
        now,
    )


@router.get("/v1/review", response_model=list[ReviewItemOut])
async def review(
    ctx: Annotated[PolicyContext, Depends(policy_context)],
    system: Annotated[System, Depends(current_system)],
    status: Annotated[str, Query(pattern="^(open|released|retried)$")] = "open",
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[ReviewItemOut]:
    """Events waiting because no system's record is linked to their person (IG, admin)."""
    _ig_or_admin(system)
    items = await asyncio.to_thread(ctx.review.find, status, limit)
    return [
        ReviewItemOut(
            id=i.seq,
            queued_at=i.created_at,
            event_id=i.event_id,
            event_type=i.event_type,
            source=i.source,
            subject_key=i.subject_key,
            reason=i.reason,
            status=i.status,
        )
        for i in items
    ]
