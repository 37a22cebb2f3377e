"""Jinja2 templates shipped in the package (hub/api/templates), HTML-escaped by default."""

from __future__ import annotations

from functools import cache
from typing import Any

from fastapi import Request
from jinja2 import Environment, PackageLoader, select_autoescape


@cache
def environment() -> Environment:
    env = Environment(
        loader=PackageLoader("hub.api", "templates"),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["when"] = lambda d: d.strftime("%Y-%m-%d %H:%M:%S") if d else "-"
    return env


def render(request: Request, name: str, **context: Any) -> str:
    return environment().get_template(name).render(request=request, **context)
