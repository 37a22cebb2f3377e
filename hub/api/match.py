"""Identity resolution over HTTP: service record extracts (each system its own), and the
clerical review of candidate pairs (IG or admin): list, a pair side by side, decide."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, Field

from hub.api.auth import current_system
from hub.api.limits import MAX_INT64
from hub.config.model import Role, System
from hub.errors import Conflict, NotFound, PermissionDenied
from hub.identity.extracts import MAX_BATCH, parse_rows
from hub.identity.normalise import PersonFields
from hub.identity.store import CandidatePair, MatchStore, NewLink, PairStatus, ServiceRecords
from hub.timeutil import utcnow

router = APIRouter(tags=["identity"])
Release = Callable[[str, str], Awaitable[bool]]  # (source, event id) -> re-published?
PairId = Annotated[int, Path(ge=1, le=MAX_INT64, description="The candidate pair's id")]


class NotOpen(Conflict):
    code = "pair_decided"


@dataclass(frozen=True)
class MatchContext:
    records: ServiceRecords
    store: MatchStore
    release: Release
    reference_system: str


def match_context(request: Request) -> MatchContext:
    ctx = request.app.state.match
    assert isinstance(ctx, MatchContext)
    return ctx


class ExtractIn(BaseModel):
    records: list[dict[str, Any]] = Field(
        max_length=MAX_BATCH,
        description="Records: local_id, given_names, family_name, date_of_birth, uprn, address, "
        "postcode, previous_uprn, previous_postcode, email, phone, nhs_number; `deleted: true` "
        "removes one",
    )


class ExtractOut(BaseModel):
    system: str
    upserted: int
    deleted: int


@router.put("/v1/extracts/{system_id}", response_model=ExtractOut)
async def put_extract(
    system_id: str,
    body: ExtractIn,
    ctx: Annotated[MatchContext, Depends(match_context)],
    system: Annotated[System, Depends(current_system)],
    full_refresh: Annotated[
        bool, Query(description="The batch is the whole extract: records it lacks are deleted")
    ] = False,
) -> ExtractOut:
    """A system's extract of its people's identifying fields (its own key only), upserted by
    local id; only these fields are kept, never logged or audited."""
    if system.id != system_id and Role.ADMIN not in system.roles:
        raise PermissionDenied(f"system {system.id!r} may only send its own extract")
    batch = parse_rows(body.records)
    result = await asyncio.to_thread(ctx.records.apply, system_id, batch, utcnow(), full_refresh)
    return ExtractOut(system=result.system, upserted=result.upserted, deleted=result.deleted)


def _reviewer(system: System) -> None:
    if not system.roles & {Role.IG, Role.ADMIN}:
        raise PermissionDenied(f"system {system.id!r} has neither the ig nor the admin role")


class FieldOut(BaseModel):
    field: str
    level: str
    verdict: str
    weight: float
    left: str | None = None  # the person as the event's source holds them
    right: str | None = None  # the candidate record


class PairOut(BaseModel):
    id: int
    event_id: str
    event_type: str
    source: str
    subject: str
    system: str
    local_id: str
    probability: float
    model_version: str
    status: str
    created_at: datetime
    decided_by: str | None
    fields: list[FieldOut]


_SHOWN = {
    "given_name": ("given_names",),
    "family_name": ("family_name",),
    "date_of_birth": ("date_of_birth",),
    "address": ("address", "postcode", "uprn", "previous_postcode", "previous_uprn"),
    "email": ("email",),
    "phone": ("phone",),
    "nhs_number": ("nhs_number",),
}


def _show(p: PersonFields | None, field: str) -> str | None:
    if p is None:
        return None
    values = [getattr(p, f) for f in _SHOWN.get(field, ())]
    text = ", ".join(str(v) for v in values if v)
    return text or None


def _pair(c: CandidatePair, left: PersonFields | None, right: PersonFields | None) -> PairOut:
    return PairOut(
        id=c.seq,
        event_id=c.event_id,
        event_type=c.event_type,
        source=c.source,
        subject=c.subject,
        system=c.system,
        local_id=c.local_id,
        probability=c.probability,
        model_version=c.model_version,
        status=c.status,
        created_at=c.created_at,
        decided_by=c.decided_by,
        fields=[
            FieldOut(
                field=f.field,
                level=f.level,
                verdict=f.verdict,
                weight=f.weight,
                left=_show(left, f.field),
                right=_show(right, f.field),
            )
            for f in c.fields
        ],
    )


@router.get("/v1/match/candidates", response_model=list[PairOut])
async def list_pairs(
    ctx: Annotated[MatchContext, Depends(match_context)],
    system: Annotated[System, Depends(current_system)],
    status: Annotated[
        PairStatus, Query(description="Which pairs (superseded: by a later link)")
    ] = "open",
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[PairOut]:
    """Candidate pairs waiting for (or given) a decision; agreeing fields without values."""
    _reviewer(system)
    pairs = await asyncio.to_thread(ctx.store.candidates, status, limit)
    return [_pair(c, None, None) for c in pairs]


async def _side_by_side(ctx: MatchContext, c: CandidatePair) -> PairOut:
    def load() -> tuple[PersonFields | None, PersonFields | None]:
        left = ctx.records.find((c.source, ctx.reference_system), c.subject)
        return left, ctx.records.get(c.system, c.local_id)

    left, right = await asyncio.to_thread(load)
    return _pair(c, left, right)


@router.get("/v1/match/candidates/{seq}", response_model=PairOut)
async def get_pair(
    seq: PairId,
    ctx: Annotated[MatchContext, Depends(match_context)],
    system: Annotated[System, Depends(current_system)],
) -> PairOut:
    """One pair side by side: each field's values, its level and whether it agreed."""
    _reviewer(system)
    c = await asyncio.to_thread(ctx.store.candidate, seq)
    if c is None:
        raise NotFound(f"there is no candidate pair {seq}")
    return await _side_by_side(ctx, c)


class DecisionIn(BaseModel):
    decision: Literal["accept", "reject", "not_sure"]
    by: str = Field(min_length=1, max_length=100, description="The person deciding")


class DecisionOut(BaseModel):
    id: int
    status: str
    released: bool


@router.post("/v1/match/candidates/{seq}/decision", response_model=DecisionOut)
async def decide_pair(
    seq: PairId,
    body: DecisionIn,
    ctx: Annotated[MatchContext, Depends(match_context)],
    system: Annotated[System, Depends(current_system)],
) -> DecisionOut:
    """Accept (link, audited with who decided; the held event is released), reject or not sure."""
    _reviewer(system)
    c = await asyncio.to_thread(ctx.store.candidate, seq)
    if c is None:
        raise NotFound(f"there is no candidate pair {seq}")
    who = f"{body.by} ({system.id})"
    status = {"accept": "accepted", "reject": "rejected", "not_sure": "not_sure"}[body.decision]
    now = utcnow()
    if not await asyncio.to_thread(ctx.store.decide, seq, status, who, now):
        raise NotOpen(f"candidate pair {seq} was already decided ({c.status})")
    released = False
    if status == "accepted":
        link = NewLink(
            subject=c.subject,
            system=c.system,
            local_id=c.local_id,
            method="clerical",
            probability=c.probability,
            model_version=c.model_version,
            agreeing=tuple(f.field for f in c.fields if f.verdict in ("agree", "partial")),
            decided_by=who,
            event_id=c.event_id,
        )
        await asyncio.to_thread(ctx.store.link, [link], now)
        await asyncio.to_thread(ctx.store.close_others, c.source, c.event_id, c.system, now)
        released = await ctx.release(c.source, c.event_id)
    return DecisionOut(id=seq, status=status, released=released)


@router.get("/match/review", response_class=HTMLResponse, include_in_schema=False)
async def review_page(request: Request) -> HTMLResponse:
    """A minimal clerical review page (the IG workbench will host it): it reads and decides
    pairs through the API above with the reviewer's key."""
    from importlib import resources

    html = resources.files("hub.api").joinpath("templates/match_review.html").read_text("utf-8")
    return HTMLResponse(html)
