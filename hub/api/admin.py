"""Admin endpoints: API keys for people and systems (role `admin`). A key is shown once."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from hub.access.keys import KeyProblem, SystemExists
from hub.api.auth import current_system, require_role
from hub.api.context import ApiContext, api_context
from hub.api.errors import BadRequest
from hub.api.ig_context import IgContext, ig_context
from hub.config.model import SYSTEM_ID_PATTERN, Role, System
from hub.errors import Conflict
from hub.timeutil import utcnow

router = APIRouter(prefix="/v1/admin", tags=["admin"])


class NewSystem(BaseModel):
    id: str = Field(pattern=SYSTEM_ID_PATTERN, description="e.g. ig-alice")
    name: str = Field(min_length=1, max_length=200)
    roles: frozenset[Role] = Field(min_length=1)


class IssuedKey(BaseModel):
    system_id: str
    api_key: str = Field(description="Shown once: only its SHA-256 is kept")


def admin_system(system: Annotated[System, Depends(current_system)]) -> System:
    return require_role(system, Role.ADMIN)


class SystemConflict(Conflict):
    code = "system_exists"


@router.post(
    "/systems",
    response_model=IssuedKey,
    status_code=201,
    responses={409: {"description": "system_exists: rotate its key instead (hub keys rotate)"}},
)
async def add_system(
    body: NewSystem,
    ctx: Annotated[ApiContext, Depends(api_context)],
    ig: Annotated[IgContext, Depends(ig_context)],
    _: Annotated[System, Depends(admin_system)],
) -> IssuedKey:
    """A key for a new person or system (as `hub systems add`); 409 if the system exists."""
    try:
        key = await asyncio.to_thread(
            ig.keys.add_system, body.id, body.name, body.roles, utcnow(), ctx.config
        )
    except SystemExists as exc:
        raise SystemConflict(str(exc)) from exc
    except KeyProblem as exc:
        raise BadRequest(str(exc)) from exc
    return IssuedKey(system_id=body.id, api_key=key)


@router.post("/systems/{system_id}/rotate-key", response_model=IssuedKey)
async def rotate_key(
    system_id: str,
    ctx: Annotated[ApiContext, Depends(api_context)],
    ig: Annotated[IgContext, Depends(ig_context)],
    _: Annotated[System, Depends(admin_system)],
) -> IssuedKey:
    """Revoke every key of the system and issue a new one (as `hub keys rotate`)."""
    try:
        key = await asyncio.to_thread(ig.keys.rotate, ctx.config, system_id, utcnow())
    except KeyProblem as exc:
        raise BadRequest(str(exc)) from exc
    return IssuedKey(system_id=system_id, api_key=key)
