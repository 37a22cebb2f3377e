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
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import parse_qs, urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from hub.access.keys import hash_key
from hub.api.chart import day_chart
from hub.api.context import ApiContext, api_context
from hub.api.ig_context import IgContext, ig_context
from hub.api.limits import MAX_INT64
from hub.api.oidc import OidcClient, SignInFailed
from hub.api.signin import (
    CSRF_FIELD,
    KeySessions,
    Person,
    csrf_ok,
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
    consent_withdrawals_page,
    failures_page,
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
)
from hub.config.model import HubConfig, Role
from hub.errors import HubError
from hub.paging import Page, page_number
from hub.rejected.store import RejectedStore
from hub.review.store import ReviewStore
from hub.timeutil import uk_date, utcnow
from hub.unknown_names import QUALITY_NONE, SOURCE, UnknownName, refuse_unknown

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


def page(request: Request, name: str, who: Person | None, active: str, status: int = 200,
         config: HubConfig | None = None, **context: Any) -> HTMLResponse:  # fmt: skip
    names = {s.id: s.name for s in config.systems} if config is not None else {}
    display = who.display if who is not None else None
    html = render(request, name, who=display, nav=NAV, active=active, names=names, **context)
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


# -- what every page starts from -------------------------------------------------------------


class SignInFirst(StarletteHTTPException):
    """Nobody with the IG role is signed in: to the sign-in page."""

    def __init__(self) -> None:
        super().__init__(303, "sign in first", headers={"Location": "/dashboard/login"})


class FormRefused(StarletteHTTPException):
    """A state-changing form came without this session's CSRF token: nothing was done."""

    def __init__(self, desk: Desk) -> None:
        super().__init__(403, "the form did not carry this session's token")
        self.desk = desk


@dataclass(frozen=True)
class Desk:
    """What every workbench page starts from: who is signed in (IG role), the configuration in
    force, and the dates (UK days, inclusive) and page number asked for; `error` says what to
    correct in them (the page then shows it with a 422 and no rows)."""

    request: Request
    who: Person
    config: HubConfig
    ctx: ApiContext
    ig: IgContext
    wb: Workbench
    start: date | None = None
    end: date | None = None
    page: int = 1
    error: str | None = None

    @property
    def status(self) -> int:
        return 422 if self.error else 200

    @property
    def today(self) -> date:
        return uk_date(utcnow())

    def render(self, name: str, active: str, status: int | None = None, **context: Any
               ) -> HTMLResponse:  # fmt: skip
        """The page; without an explicit status, a 422 showing what to correct in the dates or
        page number when they were wrong."""
        if status is None:
            status = self.status
            context.setdefault("error", self.error)
        context.setdefault("q", dict(self.request.query_params))
        return page(self.request, name, self.who, active, status, self.config, **context)

    def links(self, found: Page[Any], path: str | None = None) -> dict[str, str]:
        """This page's address (or `path`'s) with another page number, the other inputs kept."""

        def at(number: int) -> str:
            q = {k: v for k, v in self.request.query_params.items() if k != "page"}
            if number > 1:
                q["page"] = str(number)
            return (path or self.request.url.path) + ("?" + urlencode(q) if q else "")

        return {"first": at(1), "previous": at(found.number - 1), "next": at(found.number + 1)}


async def open_desk(request: Request, ctx: Ctx, ig: Ig, wb: Wb) -> Desk:
    who = signed_in(request, ctx, ig, wb)
    if who is None:
        raise SignInFirst()
    config = await current_config(ctx, wb)
    start, end, number, error = None, None, 1, None
    try:
        start, end = day_range(request.query_params)
    except ValueError as exc:
        error = f"Check the dates: {exc}"
    try:
        number = page_number(request.query_params.get("page") or "1")
    except ValueError as exc:
        error = error or f"Check the page number: {exc}"
    return Desk(request, who, config, ctx, ig, wb, start, end, number, error)


async def form_fields(request: Request) -> dict[str, str]:
    """A urlencoded form's fields (the first value of each)."""
    form = parse_qs((await request.body()).decode(errors="replace"))
    return {k: v[0] for k, v in form.items() if v}


async def checked_form(request: Request, desk: Annotated[Desk, Depends(open_desk)]) -> Desk:
    """A state-changing form POST: signed in, and carrying this session's CSRF token."""
    if not csrf_ok(request, (await form_fields(request)).get(CSRF_FIELD)):
        raise FormRefused(desk)
    return desk


Signed = Annotated[Desk, Depends(open_desk)]
Form = Annotated[Desk, Depends(checked_form)]


def install(app: Any) -> None:
    """The workbench's static files, and its answers to "sign in first" and a refused form."""
    app.mount("/dashboard/static", StaticFiles(directory=STATIC), name="dashboard-static")

    async def sign_in_first(_: Request, __: Exception) -> Response:
        return to_login()

    async def refused(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, FormRefused)
        what = "The form did not come with this sign-in's security token, so it was refused."
        return exc.desk.render("refused.html", "", 403, what=what, back="/dashboard")

    app.add_exception_handler(SignInFirst, sign_in_first)
    app.add_exception_handler(FormRefused, refused)


def none_found(size: int) -> Page[Any]:
    return Page([], 0, 1, size)


# -- sign-in -------------------------------------------------------------------------------


@router.get("/login", response_class=HTMLResponse)
async def login_form(request: Request, wb: Wb) -> HTMLResponse:
    error = request.query_params.get("error")
    return HTMLResponse(render(request, "login.html", who=None, error=error, **_modes(wb)))


def _modes(wb: Workbench) -> dict[str, bool]:
    return {"oidc": wb.oidc is not None, "keys": wb.oidc is None and wb.key_sign_in}


@router.post("/login", response_model=None)
async def login(request: Request, wb: Wb) -> Response:
    def refuse(error: str, status: int) -> HTMLResponse:
        return HTMLResponse(
            render(request, "login.html", who=None, error=error, **_modes(wb)), status
        )

    if wb.oidc is not None or not wb.key_sign_in:
        return refuse(
            "Sign in with your council account: API keys are for systems only."
            if wb.oidc is not None
            else "Signing in with an API key is for the laptop default only: set up the "
            "council's identity provider (HUB_OIDC_ISSUER, see docs/ig.md).",
            403,
        )
    form = await form_fields(request)
    if not csrf_ok(request, form.get(CSRF_FIELD)):
        return refuse("This sign-in form had expired or came from another website: nothing "
                      "was done. Enter your key again here.", 403)  # fmt: skip
    ctx, ig = api_context(request), ig_context(request)
    key = form.get("api_key", "").strip()
    try:
        system = key_sign_in(ctx.config, key, ig.keys)
    except HubError as exc:
        return refuse(str(exc), 401)
    if Role.IG not in system.roles:
        return refuse(f"{system.id} does not have the ig role", 403)
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
async def logout(request: Request, d: Form) -> RedirectResponse:
    forget(request, d.wb.sessions)
    return to_login()


# -- overview --------------------------------------------------------------------------------

FAILURES_SHOWN = 20


@router.get("", response_model=None)
async def overview(d: Signed) -> Response:
    last = d.end if d.end and not d.error else d.today
    start = d.start if d.start and not d.error else last - timedelta(days=13)
    days = max(1, min(MAX_DAYS, (last - start).days + 1))
    first = last - timedelta(days=days - 1)
    engine = d.ig.engine

    def load() -> dict[str, Any]:
        per_day = transfers_per_day(engine, last, days)
        return {
            "per_day": per_day,
            "chart": day_chart(per_day, last, days),
            "withheld": withheld_by_reason(engine, first, last),
            "failures": failures_page(engine, 1, FAILURES_SHOWN),
        }

    data = await asyncio.to_thread(load)
    q = {"from": first.isoformat(), "to": last.isoformat()}
    return d.render("overview.html", "overview", q=q, due=reminders(d.config, d.today), **data)


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
async def search(d: Signed) -> Response:
    """Transfer search; results first, right under the form (format=csv: the same rows)."""
    params = {k: v for k, v in d.request.query_params.items() if k in (*FILTERS, "format") and v}
    error, result, status = None, None, 200
    if params.keys() - {"format"}:
        try:
            q = _query(params)
            result = await asyncio.to_thread(
                d.ig.access.search,
                q,
                d.who.actor,
                params.get("purpose"),
                "dashboard",
                utcnow(),
                names=d.ctx.search_names,
            )
        except PurposeRequired as exc:
            error, status = purpose_error(exc), 422
        except UnknownName as exc:
            error, status = exc.sentence(), 422
        except ValueError as exc:
            error, status = f"Check the search fields: {exc}", 422
    if result is not None and params.get("format") == "csv":
        return PlainTextResponse(
            rows_csv(result.rows),
            media_type="text/csv",
            headers={"Content-Disposition": 'attachment; filename="transfers.csv"'},
        )
    base = {k: v for k, v in params.items() if k not in ("format", "after")}
    systems = d.config.systems
    return d.render(
        "search.html", "search", status,
        q=params, result=result, error=error,
        csv_link="/dashboard/search?" + urlencode({**base, "format": "csv"}),
        next_link=_next_link(base, result),
        recipients=sorted(s.id for s in systems if Role.RECIPIENT in s.roles),
        sources=sorted(s.id for s in systems if Role.SOURCE in s.roles),
        agreements=sorted(a.id for a in d.config.agreements),
    )  # fmt: skip


def _next_link(base: dict[str, str], result: TransferPage | None) -> str:
    if result is None or result.next_after is None:
        return ""
    return "/dashboard/search?" + urlencode({**base, "after": str(result.next_after)})


@router.get("/subject", response_model=None)
async def subject(d: Signed) -> Response:
    p = d.request.query_params
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
                d.ig.access.report, person, d.who.actor, p.get("purpose"), "dashboard", utcnow()
            )
        except PurposeRequired as exc:
            error = purpose_error(exc)
    return d.render("subject.html", "subject", 422 if error else 200,
                    report=report, error=error, standalone=False)  # fmt: skip


# -- agreements and reminders ----------------------------------------------------------------


@router.get("/agreements", response_model=None)
async def agreements(d: Signed) -> Response:
    flows = await asyncio.to_thread(agreements_overview, d.ig.engine, d.config, d.today)
    by_id = {a.id: a for a in d.config.agreements}
    return d.render("agreements.html", "agreements", 200,
                    rows=[(by_id[f.agreement_id], f) for f in flows])  # fmt: skip


@router.get("/agreements/{agreement_id}", response_model=None)
async def agreement(agreement_id: str, d: Signed) -> Response:
    found = next((a for a in d.config.agreements if a.id == agreement_id), None)
    if found is None:
        return d.render("not_found.html", "agreements", 404,
                        what=f"There is no agreement {agreement_id!r} in the configuration.")  # fmt: skip
    versions = await asyncio.to_thread(agreement_versions, d.ig.engine, found)
    flags = next((r.flags for r in reminders(d.config, d.today) if r.agreement_id == found.id), ())
    return d.render("agreement.html", "agreements", 200, a=found, versions=versions, flags=flags)


@router.get("/reminders", response_model=None)
async def review_reminders(d: Signed) -> Response:
    return d.render("reminders.html", "reminders", 200,
                    due=reminders(d.config, d.today), today=d.today)  # fmt: skip


# -- access log, audit chain -----------------------------------------------------------------

ACCESS_LOG_PAGE = 200
CHECKPOINTS_PAGE = 50


@router.get("/access-log", response_model=None)
async def access_log(d: Signed) -> Response:
    found: Page[Any] = none_found(ACCESS_LOG_PAGE)
    if d.error is None:
        found = await asyncio.to_thread(
            access_log_between, d.ig.engine, d.start, d.end, d.page, ACCESS_LOG_PAGE
        )
    return d.render("access_log.html", "access", found=found, links=d.links(found))


@router.get("/audit", response_model=None)
async def audit(d: Signed) -> Response:
    number = d.page if d.error is None else 1
    found = await asyncio.to_thread(checkpoints, d.ig.engine, number, CHECKPOINTS_PAGE)
    return d.render("audit.html", "audit", found=found, links=d.links(found),
                    result=d.wb.last_verify, checked_at=d.wb.last_verify_at)  # fmt: skip


@router.post("/audit/verify", response_model=None)
async def audit_verify(d: Form) -> Response:
    wb = d.wb
    async with wb.verify_lock:  # one verification at a time per process
        wb.last_verify = await asyncio.to_thread(verify_chain, d.ig.engine, d.ig.checkpoints)
        wb.last_verify_at = utcnow()
    return RedirectResponse("/dashboard/audit#status", status_code=303)


# -- consent, rejected and quality, review queue ---------------------------------------------

CONSENT_PAGE = 500
REJECTED_PAGE = 500
REVIEW_PAGE = 200


@router.get("/consent", response_model=None)
async def consent(d: Signed) -> Response:
    found: Page[Any] = none_found(CONSENT_PAGE)
    if d.error is None:
        secret = d.ctx.settings.pseudonym_key.get_secret_value()
        found = await asyncio.to_thread(
            consent_withdrawals_page, d.ig.engine, secret, d.start, d.end, d.page, CONSENT_PAGE
        )
    return d.render("consent.html", "consent", found=found, links=d.links(found))


@router.get("/quality", response_model=None)
async def quality(d: Signed) -> Response:
    source = d.request.query_params.get("source") or None
    counts: list[Any] = []
    found: Page[Any] = none_found(REJECTED_PAGE)
    if d.error is None:
        counts = await asyncio.to_thread(d.ctx.quality.summary, d.start, source, d.end)
        found = await asyncio.to_thread(
            RejectedStore(d.ig.engine).page, source, d.start, d.end, d.page, REJECTED_PAGE
        )
    by_rule: dict[tuple[str, str], int] = {}
    for c in counts:
        if c.outcome != "accepted":
            by_rule[(c.source, c.rule)] = by_rule.get((c.source, c.rule), 0) + c.count
    sources = sorted(s.id for s in d.config.systems if Role.SOURCE in s.roles)
    if d.error is None and not counts and not found.total:
        try:  # a hand-typed source the hub never knew: said, not "no rejected events"
            await asyncio.to_thread(refuse_unknown, "source", source, SOURCE, QUALITY_NONE,
                                    d.ctx.source_ids, d.ctx.quality_has_source)  # fmt: skip
        except UnknownName as exc:
            return d.render("quality.html", "quality", 422, counts=[], by_rule=[], found=found,
                            links=d.links(found), sources=sources,
                            error=exc.sentence())  # fmt: skip
    return d.render("quality.html", "quality", counts=counts, by_rule=sorted(by_rule.items()),
                    found=found, links=d.links(found), sources=sources)  # fmt: skip


def _shown(status: str | None) -> str:
    return status if status in ("open", "retried", "released") else "open"


@router.get("/review", response_model=None)
async def review(d: Signed) -> Response:
    shown = _shown(d.request.query_params.get("status"))
    number = d.page if d.error is None else 1
    found = await asyncio.to_thread(ReviewStore(d.ig.engine).page, shown, number, REVIEW_PAGE)
    return d.render("review.html", "review", found=found, links=d.links(found), shown=shown,
                    message=d.request.query_params.get("done"),
                    can_retry=d.wb.retry is not None)  # fmt: skip


@router.post("/review/{seq}/retry", response_model=None)
async def review_retry(seq: int, d: Form) -> Response:
    if not 1 <= seq <= MAX_INT64:
        error = f"There is no review item {seq}."
    elif d.wb.retry is None:
        error = "Retrying is not available in this process: use `hub review retry`."
    else:
        try:
            event_id = await d.wb.retry(seq)
        except HubError as exc:
            error = str(exc)
        else:
            done = f"Review item {seq} was sent to the router again (event {event_id})."
            return RedirectResponse("/dashboard/review?" + urlencode({"done": done}), 303)
    found = await asyncio.to_thread(ReviewStore(d.ig.engine).page, "open", 1, REVIEW_PAGE)
    links = d.links(found, "/dashboard/review")
    return d.render("review.html", "review", 409, found=found, links=links,
                    shown="open", message=None, error=error,
                    can_retry=d.wb.retry is not None)  # fmt: skip
