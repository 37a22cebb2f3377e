"""Jinja2 templates shipped in the package (hub/api/templates), HTML-escaped by default."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

from fastapi import Request
from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup

from hub.api.signin import CSRF_FIELD, csrf_token
from hub.config.review import ReviewFlag
from hub.config.watch import ConfigWatcher, refusal_lines
from hub.policy.reasons import sentence
from hub.timeutil import UK

FLAG_WORDS = {
    ReviewFlag.PAST_REVIEW: "Past its review date",
    ReviewFlag.EXPIRING_SOON: "Ends within 30 days",
    ReviewFlag.EXPIRED: "Has ended (past its valid-until date)",
    ReviewFlag.NOT_YET_VALID: "Not yet in force",
    ReviewFlag.NOT_ACTIVE: "Not active",
}
WHAT_WORDS = {
    "subject_access_report": "Subject access report",
    "transfer_search": "Transfer search",
}


def uk_time(moment: datetime | None) -> str:
    """A moment in UK local time (GMT or BST named), e.g. `3 Dec 2026 12:13 GMT`."""
    if moment is None:
        return "-"
    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    local = aware.astimezone(UK)
    return f"{local.day} {local:%b %Y %H:%M:%S} {local.tzname()}"


def flag_words(flag: str) -> str:
    try:
        return FLAG_WORDS[ReviewFlag(flag)]
    except ValueError:
        return flag.replace("_", " ").capitalize()


@cache
def environment() -> Environment:
    env = Environment(
        loader=PackageLoader("hub.api", "templates"),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["when"] = uk_time
    env.filters["reason"] = sentence
    env.filters["flag"] = flag_words
    env.filters["what"] = lambda w: WHAT_WORDS.get(w, w.replace("_", " ").capitalize())
    env.globals["inline_css"] = inline_css
    return env


@cache
def inline_css() -> Markup:
    """The stylesheet, for pages that must stand alone (a report saved to a file)."""
    return Markup((Path(__file__).resolve().parent / "static" / "dashboard.css").read_text())


def render(request: Request, name: str, **context: Any) -> str:
    names = context.get("names") or {}
    context.setdefault("svc", lambda sid: names.get(sid) or sid or "-")
    context.setdefault("csrf_field", CSRF_FIELD)
    context.setdefault("csrf_token", csrf_token(request))
    watcher = getattr(request.app.state, "config_watcher", None)
    context.setdefault(
        "config_refused", refusal_lines(watcher if isinstance(watcher, ConfigWatcher) else None)
    )
    return environment().get_template(name).render(request=request, **context)
