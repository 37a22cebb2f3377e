"""Source connector: `POST /v1/events`. A system publishes as itself; 202 only after the broker acked."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

import structlog
from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel

from hub.api.auth import current_system, require_role
from hub.api.context import ApiContext, api_context
from hub.api.errors import BadRequest
from hub.config.model import Role, System
from hub.errors import EventIdConflict, EventValidationError
from hub.events.content import content_hash
from hub.events.envelope import Event
from hub.events.safe_json import JsonRejected, load_json
from hub.events.validation import EventSubmission, build_event
from hub.metrics import INGEST_PUBLISHED, label
from hub.metrics import rejected as count_rejected
from hub.policy.authority import FactWithoutAuthority, authorise
from hub.quality.counters import Tally, rejection_tallies
from hub.timeutil import uk_date, utcnow

log = structlog.get_logger("connectors.http_ingest")
router = APIRouter(tags=["ingest"])


class Accepted(BaseModel):
    id: str
    type: str
    status: str = "accepted"  # or "duplicate": this source already sent this event (200)


@router.post(
    "/v1/events",
    status_code=202,
    response_model=Accepted,
    openapi_extra={
        "requestBody": {
            "content": {"application/json": {"schema": EventSubmission.model_json_schema()}}
        }
    },
    responses={
        200: {"description": "A duplicate: this source already sent this id with this content"},
        403: {"description": "A fact the source has no authority for (code names the rule)"},
        409: {"description": "event_id_conflict: this source sent this id with other content"},
    },
)
async def publish_event(
    request: Request,
    response: Response,
    ctx: Annotated[ApiContext, Depends(api_context)],
    system: Annotated[System, Depends(current_system)],
) -> Accepted:
    """Publish one change event as the authenticated source system.

    Event ids are per source: a repeat of an id with the same content is answered 200
    `duplicate` (nothing new is sent); with other content, 409 `event_id_conflict`. A fact the
    source has no authority for (a death, a consent, a link of another system's record) is
    refused with 403 and the rule's name (systems.yaml `authority:`)."""
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
    verdict = authorise(event, system.id, ctx.config)
    if not verdict.allowed:
        refused = FactWithoutAuthority(verdict)
        tally = Tally(uk_date(now), system.id, event.envelope.type, "rejected", refused.code)
        await asyncio.to_thread(ctx.quality.add, [tally])
        count_rejected(system.id, event.envelope.type, [refused.code])
        log.warning(
            "fact_without_authority",
            event_id=event.envelope.id,
            source=system.id,
            type=event.envelope.type,
            code=refused.code,
        )
        raise refused
    digest = content_hash(event)
    if await _seen_before(ctx, event, digest):
        response.status_code = 200
        return Accepted(id=event.envelope.id, type=event.envelope.type, status="duplicate")
    receipt = await ctx.publisher.publish(event)
    await _seen_before(ctx, event, digest)  # a concurrent request with this id won the race
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


async def _seen_before(ctx: ApiContext, event: Event, digest: str) -> bool:
    """Whether this source already sent this event id with this content (a duplicate); raises
    EventIdConflict if it sent it with other content."""
    if ctx.claims is None:
        return False
    env = event.envelope
    of_record = await asyncio.to_thread(ctx.claims.content_of, env.source, env.id)
    if of_record is None:
        return False
    if of_record in ("", digest):
        return True
    log.warning("event_id_conflict", event_id=env.id, source=env.source, type=env.type)
    raise EventIdConflict(
        f"{env.source} already sent event id {env.id!r} with other content: event ids are per "
        "source and a repeat must carry the same type, subject and data. Send a new id for a "
        "new change (or a correction of the earlier event)."
    )
