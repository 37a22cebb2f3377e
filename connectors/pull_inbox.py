"""Sink connector: the pull inbox over HTTP. A recipient reads and acknowledges only its own deliveries."""

from __future__ import annotations

import asyncio
import time
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from hub.api.auth import current_system, require_role
from hub.api.context import ApiContext, api_context
from hub.api.errors import error_body
from hub.config.model import Role, System
from hub.delivery.shape import DeliveryMessage, to_message
from hub.errors import Problem
from hub.inbox.store import (
    MAX_CURSOR,
    AckBeyondHandedOut,
    BeyondHandedOut,
    CursorNeverGiven,
    CursorsRenumbered,
)
from hub.timeutil import utcnow

router = APIRouter(tags=["inbox"])
LONG_POLL_MAX_S = 30.0
LONG_POLL_STEP_S = 0.2


class InboxMessage(DeliveryMessage):
    """A delivery (the same shape as the webhook body and the Kafka record) and its cursor."""

    cursor: int = Field(description="Position in your inbox; acknowledge up to it")


class InboxPage(BaseModel):
    recipient: str
    items: list[InboxMessage]
    next_cursor: int = Field(
        description="Pass as `after` to read on; acknowledge with it when done"
    )


class AckRequest(BaseModel):
    up_to: int = Field(
        ge=0,
        le=MAX_CURSOR,
        description="Acknowledge every delivery with cursor <= up_to: the next_cursor of a page "
        "you have read and stored (not beyond it: that is refused with ack_beyond_handed_out)",
    )


class AckResult(BaseModel):
    acknowledged: int


@router.get(
    "/v1/inbox",
    response_model=InboxPage,
    responses={
        409: {
            "description": "cursor_never_given: after is above the highest cursor you have "
            "been handed (a cursor from another hub, or from before a restore from a backup); "
            "cursors_renumbered: your cursors were renumbered when the hub was upgraded. Read "
            "once from after=0 either way"
        }
    },
)
async def read_inbox(
    ctx: Annotated[ApiContext, Depends(api_context)],
    system: Annotated[System, Depends(current_system)],
    after: Annotated[
        int,
        Query(
            ge=0,
            le=MAX_CURSOR,
            description="Return deliveries after this cursor: the next_cursor of your last page",
        ),
    ] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    wait: Annotated[
        float,
        Query(
            ge=0,
            le=LONG_POLL_MAX_S,
            description="Long poll: when there is nothing yet, wait up to this many seconds "
            "for a delivery before answering (0: answer at once)",
        ),
    ] = 0,
) -> InboxPage | JSONResponse:
    """Your unacknowledged deliveries after `after`, oldest first."""
    require_role(system, Role.RECIPIENT)
    deadline = time.monotonic() + wait
    while True:
        try:
            entries = await asyncio.to_thread(ctx.inbox.fetch, system.id, after, limit)
        except CursorsRenumbered as exc:
            return _renumbered(exc, "after")
        except CursorNeverGiven as exc:
            return _beyond(exc)
        if entries or time.monotonic() >= deadline:
            break
        await asyncio.sleep(LONG_POLL_STEP_S)
    items = [InboxMessage(cursor=e.cursor, **to_message(e.delivery).model_dump()) for e in entries]
    return InboxPage(
        recipient=system.id, items=items, next_cursor=items[-1].cursor if items else after
    )


@router.post(
    "/v1/inbox/ack",
    response_model=AckResult,
    responses={
        409: {
            "description": "ack_beyond_handed_out: up_to is beyond the highest cursor you have "
            "been handed; cursors_renumbered: read once from after=0 first"
        }
    },
)
async def ack_inbox(
    body: AckRequest,
    ctx: Annotated[ApiContext, Depends(api_context)],
    system: Annotated[System, Depends(current_system)],
) -> AckResult | JSONResponse:
    """Acknowledge your deliveries up to a cursor you have read; they are not returned again."""
    require_role(system, Role.RECIPIENT)
    try:
        count = await asyncio.to_thread(ctx.inbox.ack, system.id, body.up_to, utcnow())
    except AckBeyondHandedOut as exc:
        return _beyond(exc)
    except CursorsRenumbered as exc:
        return _renumbered(exc, "up_to")
    return AckResult(acknowledged=count)


def _beyond(exc: BeyondHandedOut) -> JSONResponse:
    return JSONResponse(error_body(exc.code, str(exc), [exc.problem()]), 409)


def _renumbered(exc: CursorsRenumbered, field: str) -> JSONResponse:
    problem = Problem(field, "read_from_zero", "read once from after=0 first")
    return JSONResponse(error_body(exc.code, str(exc), [problem]), 409)
