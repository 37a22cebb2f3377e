"""Every API error is JSON: {"error": {"code", "message", "problems": [...]}}."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from hub.errors import (
    AuthenticationError,
    BrokerError,
    Conflict,
    HubError,
    NotFound,
    PermissionDenied,
    Problem,
    ProblemsError,
)
from hub.events.safe_json import JsonRejected
from hub.plain_errors import plain_message

STATUS: dict[type[HubError], int] = {
    AuthenticationError: 401,
    PermissionDenied: 403,
    NotFound: 404,
    Conflict: 409,
    ProblemsError: 422,
    JsonRejected: 400,
    BrokerError: 503,
}


class BadRequest(HubError):
    code = "bad_request"


def error_body(code: str, message: str, problems: list[Problem] | None = None) -> dict[str, object]:
    return {
        "error": {
            "code": code,
            "message": message,
            "problems": [
                {"field": p.location, "rule": p.rule, "message": p.message} for p in problems or []
            ],
        }
    }


def status_for(exc: HubError) -> int:
    if isinstance(exc, BadRequest):
        return 400
    for cls, status in STATUS.items():
        if isinstance(exc, cls):
            return status
    return 500


def _where(loc: tuple[int | str, ...] | list[int | str]) -> str:
    """`body.event.source`, `query.limit`: where in the request (FastAPI's `body`/`query` kept)."""
    return ".".join(str(p) for p in loc)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(HubError)
    async def _hub_error(_: Request, exc: HubError) -> JSONResponse:
        problems = exc.problems if isinstance(exc, ProblemsError) else None
        message = exc.summary if isinstance(exc, ProblemsError) else str(exc)
        headers = {"WWW-Authenticate": "Bearer"} if isinstance(exc, AuthenticationError) else None
        return JSONResponse(
            error_body(exc.code, message, problems), status_for(exc), headers=headers
        )

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [Problem(_where(e["loc"]), e["type"], plain_message(e)) for e in exc.errors()]
        return JSONResponse(
            error_body(
                "invalid",
                "the request is not valid: see each problem's field and what to do",
                problems,
            ),
            422,
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        # every 404 carries the same code, an unknown path's as hub.errors.NotFound's
        code = NotFound.code if exc.status_code == 404 else f"http_{exc.status_code}"
        return JSONResponse(
            error_body(code, str(exc.detail)),
            exc.status_code,
            headers=getattr(exc, "headers", None),  # e.g. Allow on a 405
        )
