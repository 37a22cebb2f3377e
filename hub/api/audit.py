"""IG endpoints for the audit trail: transfer search and export, the subject access report,
agreements overview, withheld by reason, failures, consent withdrawals, the access log and the
chain's integrity. IG role only; reads about a person need a `purpose` and are logged."""

from __future__ import annotations

import asyncio
from datetime import date
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.responses import HTMLResponse, PlainTextResponse, Response
from pydantic import BaseModel, Field

from hub.access.keys import KeyStore
from hub.api.auth import current_system, require_role
from hub.api.context import ApiContext, api_context
from hub.api.counted import COUNTED, FROM, PAGE, TO, counted
from hub.api.ig_context import IgContext, ig_context
from hub.api.limits import MAX_INT64
from hub.api.signin import Person, session_person
from hub.api.templating import render
from hub.audit.export import rows_csv
from hub.audit.queries import (
    AgreementFlow,
    ConsentWithdrawal,
    PersonRef,
    ReasonCount,
    TransferPage,
    TransferQuery,
    agreements_overview,
    consent_withdrawals_page,
    failures_page,
    withheld_by_reason,
)
from hub.audit.store import AuditRow
from hub.audit.subject_access import AccessLogEntry, SubjectAccessReport
from hub.audit.verify import Break, verify_chain
from hub.config.model import Role, System
from hub.errors import PermissionDenied
from hub.pseudonym import SUBJECT_KEY_PATTERN
from hub.timeutil import check_days, utcnow

router = APIRouter(prefix="/v1/audit", tags=["audit (IG)"])


PURPOSE = Query(
    description="Why you are reading about this person (recorded in the access log); "
    "required whenever a person is named"
)


def transfer_query(
    hub_id: Annotated[str | None, Query(description="The person's hub id")] = None,
    local_id: Annotated[str | None, Query(description="The person's id in any system")] = None,
    system: Annotated[str | None, Query(description="Whose local id it is (optional)")] = None,
    recipient: str | None = None,
    source: str | None = None,
    agreement: Annotated[str | None, Query(description="Agreement id")] = None,
    event_type: str | None = None,
    outcome: Literal["delivered", "withheld", "failed"] | None = None,
    date_from: Annotated[
        date | None, Query(alias="from", description="First day (UK calendar day)")
    ] = None,
    date_to: Annotated[
        date | None, Query(alias="to", description="Last day (UK calendar day), inclusive")
    ] = None,
    after: Annotated[
        int, Query(ge=0, le=MAX_INT64, description="Page: the next_after of the last page")
    ] = 0,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 100,
) -> TransferQuery:
    check_days(date_from, date_to, "query.from", "query.to")
    return TransferQuery(
        person=PersonRef(hub_id=hub_id, local_id=local_id, system=system),
        recipient=recipient,
        source=source,
        agreement_id=agreement,
        event_type=event_type,
        outcome=outcome,
        date_from=date_from,
        date_to=date_to,
        after_seq=after,
        limit=limit,
    )


def ig_system(
    request: Request,
    ctx: Annotated[ApiContext, Depends(api_context)],
    authorization: Annotated[str | None, Header()] = None,
) -> System | Person:
    """A system's API key (Authorization header), or else a person signed in to the workbench
    (its session cookie): IG role either way. The access log records `.id`."""
    if not authorization:
        wb = getattr(request.app.state, "workbench", None)
        keys = getattr(request.app.state, "keys", None)
        person = session_person(
            request,
            ctx.config,
            keys if isinstance(keys, KeyStore) else None,
            getattr(wb, "sessions", None),
        )
        if person is not None:
            if not person.is_ig:
                raise PermissionDenied(f"{person.display} does not have the ig role")
            return person
    return require_role(current_system(request, ctx, None, authorization), Role.IG)


IG = Annotated[System | Person, Depends(ig_system)]
Ig = Annotated[IgContext, Depends(ig_context)]


@router.get(
    "/transfers", response_model=TransferPage, responses={200: {"content": {"text/csv": {}}}}
)
async def transfers(
    ig: Ig,
    ctx: Annotated[ApiContext, Depends(api_context)],
    system: IG,
    q: Annotated[TransferQuery, Depends(transfer_query)],
    purpose: Annotated[str | None, PURPOSE] = None,
    format: Literal["json", "csv"] = "json",
) -> Response | TransferPage:
    """Transfers (delivered, withheld, failed), filtered and paginated by seq; CSV with format=csv.
    A search that finds nothing and names a recipient, source, agreement, event type or person
    the hub has never known is refused (422, `unknown_name`), not answered with no rows."""
    page = await asyncio.to_thread(
        ig.access.search, q, system.id, purpose, "api", utcnow(), names=ctx.search_names
    )
    if format == "csv":
        return PlainTextResponse(
            rows_csv(page.rows),
            media_type="text/csv",
            headers={"Content-Disposition": 'attachment; filename="transfers.csv"'},
        )
    return page


@router.get(
    "/subject-access",
    response_model=SubjectAccessReport,
    responses={200: {"content": {"text/html": {}}}},
)
async def subject_access(
    request: Request,
    ig: Ig,
    system: IG,
    hub_id: Annotated[str | None, Query(description="The person's hub id")] = None,
    local_id: Annotated[str | None, Query(description="The person's id in any system")] = None,
    system_id: Annotated[str | None, Query(alias="system")] = None,
    purpose: Annotated[str | None, PURPOSE] = None,
    format: Literal["json", "html"] = "json",
) -> Response | SubjectAccessReport:
    """Every transfer and withheld transfer about one person: fields, recipients, agreements and
    lawful bases. format=html gives a printable page."""
    from hub.errors import Problem, ProblemsError

    person = PersonRef(hub_id=hub_id, local_id=local_id, system=system_id)
    if not person.given:
        raise ProblemsError(
            "name the person",
            [Problem("hub_id", "required", "give hub_id, or local_id (and optionally system)")],
        )
    report = await asyncio.to_thread(ig.access.report, person, system.id, purpose, "api", utcnow())
    if format == "html":
        return HTMLResponse(render(request, "subject_report.html", report=report, standalone=True))
    return report


@router.get("/agreements", response_model=list[AgreementFlow])
async def agreements(
    ctx: Annotated[ApiContext, Depends(api_context)], ig: Ig, _: IG
) -> list[AgreementFlow]:
    """Flows per agreement, and the agreements past review or expiring soon (flags)."""
    return await asyncio.to_thread(agreements_overview, ig.engine, ctx.config, utcnow().date())


@router.get("/withheld", response_model=list[ReasonCount])
async def withheld(
    ig: Ig,
    _: IG,
    date_from: Annotated[date | None, Query(alias="from")] = None,
    date_to: Annotated[date | None, Query(alias="to")] = None,
) -> list[ReasonCount]:
    """Withheld transfers counted by reason code."""
    check_days(date_from, date_to, "query.from", "query.to")
    return await asyncio.to_thread(withheld_by_reason, ig.engine, date_from, date_to)


@router.get("/failures", response_model=list[AuditRow], responses=COUNTED)
async def failed(
    response: Response,
    ig: Ig,
    _: IG,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    page: Annotated[int, PAGE] = 1,
) -> list[AuditRow]:
    """Deliveries that failed after their retries (dead letters), newest first;
    `X-Total-Count` says how many failed in all."""
    return counted(response, await asyncio.to_thread(failures_page, ig.engine, page, limit))


@router.get("/consent-withdrawals", response_model=list[ConsentWithdrawal], responses=COUNTED)
async def withdrawals(
    response: Response,
    ctx: Annotated[ApiContext, Depends(api_context)],
    ig: Ig,
    _: IG,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    page: Annotated[int, PAGE] = 1,
    date_from: Annotated[date | None, FROM] = None,
    date_to: Annotated[date | None, TO] = None,
) -> list[ConsentWithdrawal]:
    """Consent withdrawals and objections effective within the dates, newest first
    (pseudonymous keys); `X-Total-Count` says how many matched in all."""
    check_days(date_from, date_to, "query.from", "query.to")
    secret = ctx.settings.pseudonym_key.get_secret_value()
    found = await asyncio.to_thread(
        consent_withdrawals_page, ig.engine, secret, date_from, date_to, page, limit
    )
    return counted(response, found)


@router.get("/access-log", response_model=list[AccessLogEntry], responses=COUNTED)
async def access_log(
    response: Response,
    ig: Ig,
    _: IG,
    subject_key: Annotated[
        str | None, Query(pattern=SUBJECT_KEY_PATTERN, description="Only reads about this key")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    page: Annotated[int, PAGE] = 1,
) -> list[AccessLogEntry]:
    """Who read the audit about a person, when and why, newest first; `X-Total-Count` says how
    many reads there are in all."""
    found = await asyncio.to_thread(ig.access.access_log_page, subject_key, page, limit)
    return counted(response, found)


class ChainStatus(BaseModel):
    ok: bool
    rows_checked: int
    head_seq: int
    head_hash: str
    anchor_seq: int = Field(description="Last purged row (0: nothing purged)")
    first_break: Break | None


@router.get("/verify", response_model=ChainStatus)
async def verify(ig: Ig, _: IG) -> ChainStatus:
    """Recompute the hash chain now; names the first row that was altered, removed or added."""
    r = await asyncio.to_thread(verify_chain, ig.engine, ig.checkpoints)
    return ChainStatus(
        ok=r.ok,
        rows_checked=r.rows_checked,
        head_seq=r.head_seq,
        head_hash=r.head_hash,
        anchor_seq=r.anchor_seq,
        first_break=r.first_break,
    )
