"""Jinja2 templates shipped in the package (hub/api/templates), HTML-escaped by default."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

from fastapi import Request
from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup

from hub.config.watch import ConfigWatcher, refusal_lines


@cache
def environment() -> Environment:
    env = Environment(
        loader=PackageLoader("hub.api", "templates"),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["when"] = lambda d: d.strftime("%Y-%m-%d %H:%M:%S") if d else "-"
    env.globals["inline_css"] = inline_css
    return env


@cache
def inline_css() -> Markup:
    """The stylesheet, for pages that must stand alone (a report saved to a file)."""
    return Markup((Path(__file__).resolve().parent / "static" / "dashboard.css").read_text())


def render(request: Request, name: str, **context: Any) -> str:
    watcher = getattr(request.app.state, "config_watcher", None)
    context.setdefault(
        "config_refused", refusal_lines(watcher if isinstance(watcher, ConfigWatcher) else None)
    )
    return environment().get_template(name).render(request=request, **context)
