"""The IG dashboard: server-rendered pages (Jinja2, inline SVG chart, no script, no CDN).

Sign-in: an API key with the `ig` role, entered once in the sign-in form; it is kept in an
HttpOnly, SameSite=Strict cookie scoped to /dashboard and checked on every request (a rotated
key stops working at once). Sign out clears it.
"""

from __future__ import annotations

import asyncio
from datetime import date
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import parse_qs, urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from hub.api.auth import authenticate
from hub.api.chart import day_chart
from hub.api.context import ApiContext, api_context
from hub.api.ig_context import IgContext, ig_context
from hub.api.limits import MAX_INT64
from hub.api.templating import render
from hub.audit.export import rows_csv
from hub.audit.queries import (
    PersonRef,
    TransferPage,
    TransferQuery,
    agreements_overview,
    failures,
    transfers_per_day,
    withheld_by_reason,
)
from hub.audit.subject_access import PurposeRequired
from hub.config.model import Role, System
from hub.errors import HubError
from hub.timeutil import utcnow

COOKIE = "hub_ig_key"
STATIC = Path(__file__).resolve().parent / "static"
FILTERS = ("hub_id", "local_id", "system", "recipient", "source", "agreement", "event_type",
           "outcome", "from", "to", "purpose", "after")  # fmt: skip

router = APIRouter(prefix="/dashboard", include_in_schema=False)
Ctx = Annotated[ApiContext, Depends(api_context)]
Ig = Annotated[IgContext, Depends(ig_context)]


def mount_static(app: Any) -> None:
    app.mount("/dashboard/static", StaticFiles(directory=STATIC), name="dashboard-static")


def signed_in(request: Request, ctx: ApiContext, ig: IgContext) -> System | None:
    key = request.cookies.get(COOKIE)
    if not key:
        return None
    try:
        system = authenticate(ctx.config, f"Bearer {key}", ig.keys)
    except HubError:
        return None
    return system if Role.IG in system.roles else None


def purpose_error(exc: PurposeRequired) -> str:
    return f"{exc.summary.capitalize()}: {exc.problems[0].message}."


def to_login() -> RedirectResponse:
    return RedirectResponse("/dashboard/login", status_code=303)


@router.get("/login", response_class=HTMLResponse)
async def login_form(request: Request) -> HTMLResponse:
    return HTMLResponse(render(request, "login.html", who=None, error=None))


@router.post("/login", response_model=None)
async def login(request: Request, ctx: Ctx, ig: Ig) -> Response:
    form = parse_qs((await request.body()).decode(errors="replace"))
    key = (form.get("api_key") or [""])[0].strip()
    try:
        system = authenticate(ctx.config, f"Bearer {key}", ig.keys)
    except HubError as exc:
        return HTMLResponse(render(request, "login.html", who=None, error=str(exc)), 401)
    if Role.IG not in system.roles:
        error = f"{system.id} does not have the ig role"
        return HTMLResponse(render(request, "login.html", who=None, error=error), 403)
    response = RedirectResponse("/dashboard", status_code=303)
    response.set_cookie(
        COOKIE, key, httponly=True, samesite="strict", path="/dashboard", secure=False
    )
    return response


@router.post("/logout")
async def logout() -> RedirectResponse:
    response = to_login()
    response.delete_cookie(COOKIE, path="/dashboard")
    return response


async def overview_context(ctx: ApiContext, ig: IgContext) -> dict[str, Any]:
    today = utcnow().date()

    def load() -> dict[str, Any]:
        per_day = transfers_per_day(ig.engine, today)
        return {
            "per_day": per_day,
            "chart": day_chart(per_day, today),
            "withheld": withheld_by_reason(ig.engine),
            "failures": failures(ig.engine, 20),
            "agreements": agreements_overview(ig.engine, ctx.config, today),
        }

    loaded = await asyncio.to_thread(load)
    systems = ctx.config.systems
    loaded["recipients"] = sorted(s.id for s in systems if Role.RECIPIENT in s.roles)
    loaded["sources"] = sorted(s.id for s in systems if Role.SOURCE in s.roles)
    return loaded


@router.get("", response_model=None)
async def overview(request: Request, ctx: Ctx, ig: Ig) -> Response:
    who = signed_in(request, ctx, ig)
    if who is None:
        return to_login()
    data = await overview_context(ctx, ig)
    page = render(request, "dashboard.html", who=who.id, q={}, page=None, error=None, **data)
    return HTMLResponse(page)


def _cursor(text: str) -> int:
    """A page cursor: digits only, at most a BIGINT (ValueError otherwise: a 422 page)."""
    if not (text.isascii() and text.isdigit()) or int(text[:20]) > MAX_INT64:
        raise ValueError(f"after must be a whole number from 0 to {MAX_INT64}")
    return int(text)


def _query(params: dict[str, str]) -> TransferQuery:
    def day(name: str) -> date | None:
        if not params.get(name):
            return None
        try:
            return date.fromisoformat(params[name])
        except ValueError:
            raise ValueError(
                f"'{name}' must be a real date written YYYY-MM-DD (e.g. 2026-11-30)"
            ) from None

    return TransferQuery(
        person=PersonRef(
            hub_id=params.get("hub_id") or None,
            local_id=params.get("local_id") or None,
            system=params.get("system") or None,
        ),
        recipient=params.get("recipient") or None,
        source=params.get("source") or None,
        agreement_id=params.get("agreement") or None,
        event_type=params.get("event_type") or None,
        outcome=params.get("outcome") or None,
        date_from=day("from"),
        date_to=day("to"),
        after_seq=_cursor(params.get("after") or "0"),
        limit=100,
    )


@router.get("/transfers", response_model=None)
async def transfers(request: Request, ctx: Ctx, ig: Ig) -> Response:
    """Search results inside the overview page (format=csv: the same rows as a download)."""
    who = signed_in(request, ctx, ig)
    if who is None:
        return to_login()
    params = {k: v for k, v in request.query_params.items() if k in (*FILTERS, "format") and v}
    error, page = None, None
    status = 200
    try:
        q = _query(params)
        page = await asyncio.to_thread(
            ig.access.search, q, who.id, params.get("purpose"), "dashboard", utcnow()
        )
    except PurposeRequired as exc:
        error, status = purpose_error(exc), 422
    except ValueError as exc:
        error, status = f"Check the search fields: {exc}", 422
    if page is not None and params.get("format") == "csv":
        return PlainTextResponse(
            rows_csv(page.rows),
            media_type="text/csv",
            headers={"Content-Disposition": 'attachment; filename="transfers.csv"'},
        )
    data = await overview_context(ctx, ig)
    base = {k: v for k, v in params.items() if k not in ("format", "after")}
    return HTMLResponse(
        render(
            request,
            "dashboard.html",
            who=who.id,
            q=params,
            page=page,
            error=error,
            csv_link="/dashboard/transfers?" + urlencode({**base, "format": "csv"}),
            next_link=_next_link(base, page),
            **data,
        ),
        status,
    )


def _next_link(base: dict[str, str], page: TransferPage | None) -> str:
    if page is None or page.next_after is None:
        return ""
    return "/dashboard/transfers?" + urlencode({**base, "after": str(page.next_after)})


@router.get("/subject", response_model=None)
async def subject(request: Request, ctx: Ctx, ig: Ig) -> Response:
    who = signed_in(request, ctx, ig)
    if who is None:
        return to_login()
    p = request.query_params
    person = PersonRef(
        hub_id=p.get("hub_id") or None,
        local_id=p.get("local_id") or None,
        system=p.get("system") or None,
    )
    error = None
    if not person.given:
        error = "Give the person's hub id or a local id."
    else:
        try:
            report = await asyncio.to_thread(
                ig.access.report, person, who.id, p.get("purpose"), "dashboard", utcnow()
            )
        except PurposeRequired as exc:
            error = purpose_error(exc)
        else:
            return HTMLResponse(
                render(request, "subject_report.html", who=who.id, report=report, standalone=False)
            )
    data = await overview_context(ctx, ig)
    page = render(request, "dashboard.html", who=who.id, q={}, page=None, error=error, **data)
    return HTMLResponse(page, 422)
