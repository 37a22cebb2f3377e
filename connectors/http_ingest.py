"""Source connector: `POST /v1/events`. A system publishes as itself; 202 only after the broker acked."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

import structlog
from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel

from hub.api.auth import current_system, require_role
from hub.api.context import ApiContext, api_context
from hub.api.errors import BadRequest
from hub.config.model import Role, System
from hub.errors import EventValidationError
from hub.events.safe_json import JsonRejected, load_json
from hub.events.validation import EventSubmission, build_event
from hub.metrics import INGEST_PUBLISHED, label
from hub.metrics import rejected as count_rejected
from hub.quality.counters import rejection_tallies
from hub.timeutil import utcnow

log = structlog.get_logger("connectors.http_ingest")
router = APIRouter(tags=["ingest"])


class Accepted(BaseModel):
    id: str
    type: str
    status: str = "accepted"


@router.post(
    "/v1/events",
    status_code=202,
    response_model=Accepted,
    openapi_extra={
        "requestBody": {
            "content": {"application/json": {"schema": EventSubmission.model_json_schema()}}
        }
    },
)
async def publish_event(
    request: Request,
    ctx: Annotated[ApiContext, Depends(api_context)],
    system: Annotated[System, Depends(current_system)],
) -> Accepted:
    """Publish one change event as the authenticated source system."""
    require_role(system, Role.SOURCE)
    try:
        body: Any = load_json(await request.body())
    except JsonRejected:
        count_rejected(system.id, "", ["json"])
        raise
    if not isinstance(body, dict):
        count_rejected(system.id, "", ["json"])
        raise BadRequest("the body must be a JSON object")
    now = utcnow()
    try:
        event = build_event(body, system.id, ctx.registry, ctx.rules.at(now))
    except EventValidationError as exc:
        raw_type = body.get("type")
        event_type = raw_type[:64] if isinstance(raw_type, str) else ""
        await asyncio.to_thread(ctx.quality.add, rejection_tallies(exc, system.id, event_type, now))
        known = event_type if event_type in ctx.registry.event_types else ""  # bounded labels
        count_rejected(system.id, known, [p.rule for p in exc.problems])
        raise
    receipt = await ctx.publisher.publish(event)
    INGEST_PUBLISHED.labels(label(system.id), label(event.envelope.type)).inc()
    log.info(
        "event_accepted",
        event_id=event.envelope.id,
        source=system.id,
        type=event.envelope.type,
        topic=receipt.topic,
        partition=receipt.partition,
        offset=receipt.offset,
    )
    return Accepted(id=event.envelope.id, type=event.envelope.type)
