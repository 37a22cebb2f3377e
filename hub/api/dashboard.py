"""The IG workbench: server-rendered pages (Jinja2, inline SVG chart, no CDN), one per task, with
a navigation bar: overview, search, subject access, agreement register, review reminders, access
log, audit chain, consent and objections, rejected events and data quality, review queue.

Sign-in (hub/api/signin.py): a person through the council's OpenID Connect provider; without
one (the embedded laptop default), an API key with the `ig` role, kept server-side: the signed
session cookie holds only a random session id. Times are UK local time (Europe/London).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import parse_qs, urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from hub.access.keys import hash_key
from hub.api.chart import day_chart
from hub.api.context import ApiContext, api_context
from hub.api.ig_context import IgContext, ig_context
from hub.api.limits import MAX_INT64
from hub.api.oidc import OidcClient, SignInFailed
from hub.api.signin import (
    KeySessions,
    Person,
    forget,
    key_sign_in,
    remember_person,
    remember_system,
    session_person,
)
from hub.api.templating import render
from hub.audit.export import rows_csv
from hub.audit.queries import (
    PersonRef,
    TransferPage,
    TransferQuery,
    agreements_overview,
    consent_withdrawals,
    failures,
    transfers_per_day,
    withheld_by_reason,
)
from hub.audit.subject_access import PurposeRequired
from hub.audit.verify import VerifyResult, verify_chain
from hub.audit.workbench import (
    access_log_between,
    agreement_versions,
    checkpoints,
    reminders,
    utc_bounds,
)
from hub.config.model import HubConfig, Role
from hub.errors import HubError
from hub.rejected.store import RejectedStore
from hub.review.store import ReviewStore
from hub.timeutil import uk_date, utcnow

STATIC = Path(__file__).resolve().parent / "static"
FILTERS = ("hub_id", "local_id", "system", "recipient", "source", "agreement", "event_type",
           "outcome", "from", "to", "purpose", "after")  # fmt: skip
NAV = (
    ("overview", "/dashboard", "Overview"),
    ("search", "/dashboard/search", "Search transfers"),
    ("subject", "/dashboard/subject", "Subject access"),
    ("agreements", "/dashboard/agreements", "Agreements"),
    ("reminders", "/dashboard/reminders", "Review reminders"),
    ("access", "/dashboard/access-log", "Access log"),
    ("audit", "/dashboard/audit", "Audit chain"),
    ("consent", "/dashboard/consent", "Consent and objections"),
    ("quality", "/dashboard/quality", "Rejected and data quality"),
    ("review", "/dashboard/review", "Review queue"),
)
MAX_DAYS = 366

router = APIRouter(prefix="/dashboard", include_in_schema=False)
Ctx = Annotated[ApiContext, Depends(api_context)]
Ig = Annotated[IgContext, Depends(ig_context)]


@dataclass
class Workbench:
    """What the workbench keeps per API process (put on `app.state.workbench`)."""

    sessions: KeySessions
    oidc: OidcClient | None = None
    key_sign_in: bool = True  # API-key sign-in: the embedded laptop default only, without OIDC
    retry: Callable[[int], Awaitable[str]] | None = None  # re-publish a review item
    config: Callable[[], HubConfig] | None = None  # the configuration in force (reloaded)
    last_verify: VerifyResult | None = None
    last_verify_at: datetime | None = None
    verify_lock: asyncio.Lock = field(default_factory=asyncio.Lock)


def workbench(request: Request) -> Workbench:
    wb = getattr(request.app.state, "workbench", None)
    if not isinstance(wb, Workbench):
        wb = Workbench(KeySessions(8 * 3600))
        request.app.state.workbench = wb
    return wb


Wb = Annotated[Workbench, Depends(workbench)]


def mount_static(app: Any) -> None:
    app.mount("/dashboard/static", StaticFiles(directory=STATIC), name="dashboard-static")


def signed_in(request: Request, ctx: ApiContext, ig: IgContext, wb: Workbench) -> Person | None:
    person = session_person(request, ctx.config, ig.keys, wb.sessions)
    return person if person is not None and person.is_ig else None


async def current_config(ctx: ApiContext, wb: Workbench) -> HubConfig:
    if wb.config is None:
        return ctx.config
    return await asyncio.to_thread(wb.config)


def purpose_error(exc: PurposeRequired) -> str:
    return f"{exc.summary.capitalize()}: {exc.problems[0].message}."


def to_login() -> RedirectResponse:
    return RedirectResponse("/dashboard/login", status_code=303)


def page(request: Request, name: str, who: Person, active: str, status: int = 200,
         config: HubConfig | None = None, **context: Any) -> HTMLResponse:  # fmt: skip
    names = {s.id: s.name for s in config.systems} if config is not None else {}
    html = render(request, name, who=who.display, nav=NAV, active=active, names=names, **context)
    return HTMLResponse(html, status)


def day_range(params: Any, default_days: int | None = None) -> tuple[date | None, date | None]:
    """The from/to inputs (UK dates, inclusive); ValueError says which one is wrong."""

    def day(name: str) -> date | None:
        text = params.get(name) or ""
        if not text:
            return None
        try:
            return date.fromisoformat(text)
        except ValueError:
            raise ValueError(f"{name} must be a date like 2026-03-31, not {text!r}") from None

    start, end = day("from"), day("to")
    if start and end and end < start:
        raise ValueError("the 'to' date is before the 'from' date")
    if default_days is not None and start is None:
        start = (end or uk_date(utcnow())) - timedelta(days=default_days - 1)
    return start, end


# -- sign-in -------------------------------------------------------------------------------


@router.get("/login", response_class=HTMLResponse)
async def login_form(request: Request, wb: Wb) -> HTMLResponse:
    error = request.query_params.get("error")
    return HTMLResponse(render(request, "login.html", who=None, error=error, **_modes(wb)))


def _modes(wb: Workbench) -> dict[str, bool]:
    return {"oidc": wb.oidc is not None, "keys": wb.oidc is None and wb.key_sign_in}


@router.post("/login", response_model=None)
async def login(request: Request, wb: Wb) -> Response:
    if wb.oidc is not None or not wb.key_sign_in:
        error = (
            "Sign in with your council account: API keys are for systems only."
            if wb.oidc is not None
            else "Signing in with an API key is for the laptop default only: set up the "
            "council's identity provider (HUB_OIDC_ISSUER, see docs/ig.md)."
        )
        html = render(request, "login.html", who=None, error=error, **_modes(wb))
        return HTMLResponse(html, 403)
    ctx, ig = api_context(request), ig_context(request)
    form = parse_qs((await request.body()).decode(errors="replace"))
    key = (form.get("api_key") or [""])[0].strip()
    try:
        system = key_sign_in(ctx.config, key, ig.keys)
    except HubError as exc:
        html = render(request, "login.html", who=None, error=str(exc), **_modes(wb))
        return HTMLResponse(html, 401)
    if Role.IG not in system.roles:
        error = f"{system.id} does not have the ig role"
        return HTMLResponse(render(request, "login.html", who=None, error=error, **_modes(wb)), 403)
    remember_system(request, wb.sessions, hash_key(key))
    return RedirectResponse("/dashboard", status_code=303)


@router.get("/auth/start", response_model=None)
async def oidc_start(request: Request, wb: Wb) -> Response:
    if wb.oidc is None:
        return to_login()
    try:
        return await wb.oidc.start(request)
    except SignInFailed as exc:
        html = render(request, "login.html", who=None, error=str(exc), oidc=True)
        return HTMLResponse(html, 502)


@router.get("/auth/callback", response_model=None, name="oidc_callback")
async def oidc_callback(request: Request, wb: Wb) -> Response:
    if wb.oidc is None:
        return to_login()
    try:
        person = await wb.oidc.finish(request)
    except SignInFailed as exc:
        html = render(request, "login.html", who=None, error=str(exc), oidc=True)
        return HTMLResponse(html, 401)
    if not person.is_ig:
        error = (
            f"{person.display} is signed in at the identity provider but has no IG role here: "
            "ask the hub's administrator to add you to the IG group."
        )
        return HTMLResponse(render(request, "login.html", who=None, error=error, oidc=True), 403)
    remember_person(request, person)
    return RedirectResponse("/dashboard", status_code=303)


@router.post("/logout")
async def logout(request: Request, wb: Wb) -> RedirectResponse:
    forget(request, wb.sessions)
    return to_login()


# -- overview --------------------------------------------------------------------------------


@router.get("", response_model=None)
async def overview(request: Request, ctx: Ctx, ig: Ig, wb: Wb) -> Response:
    who = signed_in(request, ctx, ig, wb)
    if who is None:
        return to_login()
    config = await current_config(ctx, wb)
    error, status = None, 200
    try:
        start, end = day_range(request.query_params, default_days=14)
    except ValueError as exc:
        error, status = f"Check the dates: {exc}", 422
        start, end = day_range({}, default_days=14)
    assert start is not None
    last = end or uk_date(utcnow())
    days = max(1, min(MAX_DAYS, (last - start).days + 1))
    first = last - timedelta(days=days - 1)

    def load() -> dict[str, Any]:
        per_day = transfers_per_day(ig.engine, last, days)
        return {
            "per_day": per_day,
            "chart": day_chart(per_day, last, days),
            "withheld": withheld_by_reason(ig.engine, first, last),
            "failures": failures(ig.engine, 20),
        }

    data = await asyncio.to_thread(load)
    due = reminders(config, uk_date(utcnow()))
    q = {"from": first.isoformat(), "to": last.isoformat()}
    return page(request, "overview.html", who, "overview", status, config,
                error=error, q=q, due=due, **data)  # fmt: skip


# -- search ----------------------------------------------------------------------------------


def _cursor(text: str) -> int:
    """A page cursor: digits only, at most a BIGINT (ValueError otherwise: a 422 page)."""
    if not (text.isascii() and text.isdigit()) or int(text[:20]) > MAX_INT64:
        raise ValueError(f"after must be a whole number from 0 to {MAX_INT64}")
    return int(text)


def _query(params: dict[str, str]) -> TransferQuery:
    start, end = day_range(params)
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
        date_from=start,
        date_to=end,
        after_seq=_cursor(params.get("after") or "0"),
        limit=100,
    )


@router.get("/search", response_model=None)
@router.get("/transfers", response_model=None)
async def search(request: Request, ctx: Ctx, ig: Ig, wb: Wb) -> Response:
    """Transfer search; results first, right under the form (format=csv: the same rows)."""
    who = signed_in(request, ctx, ig, wb)
    if who is None:
        return to_login()
    config = await current_config(ctx, wb)
    params = {k: v for k, v in request.query_params.items() if k in (*FILTERS, "format") and v}
    error, result, status = None, None, 200
    if params.keys() - {"format"}:
        try:
            q = _query(params)
            result = await asyncio.to_thread(
                ig.access.search, q, who.actor, params.get("purpose"), "dashboard", utcnow()
            )
        except PurposeRequired as exc:
            error, status = purpose_error(exc), 422
        except ValueError as exc:
            error, status = f"Check the search fields: {exc}", 422
    if result is not None and params.get("format") == "csv":
        return PlainTextResponse(
            rows_csv(result.rows),
            media_type="text/csv",
            headers={"Content-Disposition": 'attachment; filename="transfers.csv"'},
        )
    base = {k: v for k, v in params.items() if k not in ("format", "after")}
    return page(
        request, "search.html", who, "search", status, config,
        q=params, result=result, error=error,
        csv_link="/dashboard/search?" + urlencode({**base, "format": "csv"}),
        next_link=_next_link(base, result),
        recipients=sorted(s.id for s in config.systems if Role.RECIPIENT in s.roles),
        sources=sorted(s.id for s in config.systems if Role.SOURCE in s.roles),
        agreements=sorted(a.id for a in config.agreements),
    )  # fmt: skip


def _next_link(base: dict[str, str], result: TransferPage | None) -> str:
    if result is None or result.next_after is None:
        return ""
    return "/dashboard/search?" + urlencode({**base, "after": str(result.next_after)})


@router.get("/subject", response_model=None)
async def subject(request: Request, ctx: Ctx, ig: Ig, wb: Wb) -> Response:
    who = signed_in(request, ctx, ig, wb)
    if who is None:
        return to_login()
    config = await current_config(ctx, wb)
    p = request.query_params
    person = PersonRef(
        hub_id=p.get("hub_id") or None,
        local_id=p.get("local_id") or None,
        system=p.get("system") or None,
    )
    asked = any(p.get(k) for k in ("hub_id", "local_id", "purpose"))
    error, report = None, None
    if asked and not person.given:
        error = "Give the person's hub id or a local id."
    elif asked:
        try:
            report = await asyncio.to_thread(
                ig.access.report, person, who.actor, p.get("purpose"), "dashboard", utcnow()
            )
        except PurposeRequired as exc:
            error = purpose_error(exc)
    status = 422 if error else 200
    return page(request, "subject.html", who, "subject", status, config,
                report=report, error=error, q=dict(p), standalone=False)  # fmt: skip


# -- agreements and reminders ----------------------------------------------------------------


@router.get("/agreements", response_model=None)
async def agreements(request: Request, ctx: Ctx, ig: Ig, wb: Wb) -> Response:
    who = signed_in(request, ctx, ig, wb)
    if who is None:
        return to_login()
    config = await current_config(ctx, wb)
    today = uk_date(utcnow())
    flows = await asyncio.to_thread(agreements_overview, ig.engine, config, today)
    by_id = {a.id: a for a in config.agreements}
    rows = [(by_id[f.agreement_id], f) for f in flows]
    return page(request, "agreements.html", who, "agreements", 200, config, rows=rows)


@router.get("/agreements/{agreement_id}", response_model=None)
async def agreement(request: Request, agreement_id: str, ctx: Ctx, ig: Ig, wb: Wb) -> Response:
    who = signed_in(request, ctx, ig, wb)
    if who is None:
        return to_login()
    config = await current_config(ctx, wb)
    found = next((a for a in config.agreements if a.id == agreement_id), None)
    if found is None:
        return page(request, "not_found.html", who, "agreements", 404, config,
                    what=f"There is no agreement {agreement_id!r} in the configuration.")  # fmt: skip
    versions = await asyncio.to_thread(agreement_versions, ig.engine, found)
    today = uk_date(utcnow())
    flags = next((r.flags for r in reminders(config, today) if r.agreement_id == found.id), ())
    return page(request, "agreement.html", who, "agreements", 200, config,
                a=found, versions=versions, flags=flags)  # fmt: skip


@router.get("/reminders", response_model=None)
async def review_reminders(request: Request, ctx: Ctx, ig: Ig, wb: Wb) -> Response:
    who = signed_in(request, ctx, ig, wb)
    if who is None:
        return to_login()
    config = await current_config(ctx, wb)
    today = uk_date(utcnow())
    return page(request, "reminders.html", who, "reminders", 200, config,
                due=reminders(config, today), today=today)  # fmt: skip


# -- access log, audit chain -----------------------------------------------------------------


@router.get("/access-log", response_model=None)
async def access_log(request: Request, ctx: Ctx, ig: Ig, wb: Wb) -> Response:
    who = signed_in(request, ctx, ig, wb)
    if who is None:
        return to_login()
    config = await current_config(ctx, wb)
    error, entries = None, []
    try:
        start, end = day_range(request.query_params)
        entries = await asyncio.to_thread(access_log_between, ig.engine, start, end)
    except ValueError as exc:
        error = f"Check the dates: {exc}"
    return page(request, "access_log.html", who, "access", 422 if error else 200, config,
                entries=entries, error=error, q=dict(request.query_params))  # fmt: skip


@router.get("/audit", response_model=None)
async def audit(request: Request, ctx: Ctx, ig: Ig, wb: Wb) -> Response:
    who = signed_in(request, ctx, ig, wb)
    if who is None:
        return to_login()
    config = await current_config(ctx, wb)
    cps = await asyncio.to_thread(checkpoints, ig.engine)
    return page(request, "audit.html", who, "audit", 200, config,
                result=wb.last_verify, checked_at=wb.last_verify_at, checkpoints=cps)  # fmt: skip


@router.post("/audit/verify", response_model=None)
async def audit_verify(request: Request, ctx: Ctx, ig: Ig, wb: Wb) -> Response:
    who = signed_in(request, ctx, ig, wb)
    if who is None:
        return to_login()
    async with wb.verify_lock:  # one verification at a time per process
        wb.last_verify = await asyncio.to_thread(verify_chain, ig.engine, ig.checkpoints)
        wb.last_verify_at = utcnow()
    return RedirectResponse("/dashboard/audit#status", status_code=303)


# -- consent, rejected and quality, review queue ---------------------------------------------


def _within(moment: datetime, start: date | None, end: date | None) -> bool:
    lo, hi = utc_bounds(start, end)
    when = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return (lo is None or when >= lo) and (hi is None or when < hi)


@router.get("/consent", response_model=None)
async def consent(request: Request, ctx: Ctx, ig: Ig, wb: Wb) -> Response:
    who = signed_in(request, ctx, ig, wb)
    if who is None:
        return to_login()
    config = await current_config(ctx, wb)
    secret = ctx.settings.pseudonym_key.get_secret_value()
    error, rows = None, []
    try:
        start, end = day_range(request.query_params)
        found = await asyncio.to_thread(consent_withdrawals, ig.engine, secret, 1000)
        rows = [r for r in found if _within(r.effective_at, start, end)]
    except ValueError as exc:
        error = f"Check the dates: {exc}"
    return page(request, "consent.html", who, "consent", 422 if error else 200, config,
                rows=rows, error=error, q=dict(request.query_params))  # fmt: skip


@router.get("/quality", response_model=None)
async def quality(request: Request, ctx: Ctx, ig: Ig, wb: Wb) -> Response:
    who = signed_in(request, ctx, ig, wb)
    if who is None:
        return to_login()
    config = await current_config(ctx, wb)
    source = request.query_params.get("source") or None
    error: str | None = None
    counts: list[Any] = []
    rejected: list[Any] = []
    try:
        start, end = day_range(request.query_params)
        counts = await asyncio.to_thread(ctx.quality.summary, start, source)
        found = await asyncio.to_thread(RejectedStore(ig.engine).list, source, None, 500)
        rejected = [r for r in found if _within(r.rejected_at, start, end)]
    except ValueError as exc:
        error = f"Check the dates: {exc}"
    by_rule: dict[tuple[str, str], int] = {}
    for c in counts:
        if c.outcome != "accepted":
            by_rule[(c.source, c.rule)] = by_rule.get((c.source, c.rule), 0) + c.count
    sources = sorted(s.id for s in config.systems if Role.SOURCE in s.roles)
    return page(request, "quality.html", who, "quality", 422 if error else 200, config,
                counts=counts, by_rule=sorted(by_rule.items()), rejected=rejected,
                error=error, q=dict(request.query_params), sources=sources)  # fmt: skip


@router.get("/review", response_model=None)
async def review(request: Request, ctx: Ctx, ig: Ig, wb: Wb) -> Response:
    who = signed_in(request, ctx, ig, wb)
    if who is None:
        return to_login()
    config = await current_config(ctx, wb)
    status = request.query_params.get("status") or "open"
    if status not in ("open", "retried", "released"):
        status = "open"
    items = await asyncio.to_thread(ReviewStore(ig.engine).find, status, 200)
    message = request.query_params.get("done")
    return page(request, "review.html", who, "review", 200, config, items=items, shown=status,
                message=message, can_retry=wb.retry is not None)  # fmt: skip


@router.post("/review/{seq}/retry", response_model=None)
async def review_retry(request: Request, seq: int, ctx: Ctx, ig: Ig, wb: Wb) -> Response:
    who = signed_in(request, ctx, ig, wb)
    if who is None:
        return to_login()
    config = await current_config(ctx, wb)
    if wb.retry is None:
        error = "Retrying is not available in this process: use `hub review retry`."
    else:
        try:
            event_id = await wb.retry(seq)
        except HubError as exc:
            error = str(exc)
        else:
            done = f"Review item {seq} was sent to the router again (event {event_id})."
            return RedirectResponse("/dashboard/review?" + urlencode({"done": done}), 303)
    items = await asyncio.to_thread(ReviewStore(ig.engine).find, "open", 200)
    return page(request, "review.html", who, "review", 409, config, items=items, shown="open",
                message=None, error=error, can_retry=wb.retry is not None)  # fmt: skip
