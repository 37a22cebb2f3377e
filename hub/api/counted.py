"""Lists over the API that say how many matched in all (`X-Total-Count`), so a list capped by
`limit` is never taken for the whole, and the query inputs they share (page, from, to)."""

from __future__ import annotations

from typing import Any, TypeVar

from fastapi import Query, Response

from hub.paging import MAX_PAGE, Page

T = TypeVar("T")
TOTAL = "X-Total-Count"
COUNTED: dict[int | str, dict[str, Any]] = {
    200: {
        "headers": {
            TOTAL: {
                "description": "How many matched in all (across every page): more than the "
                "list holds when it is capped by `limit`",
                "schema": {"type": "integer"},
            }
        }
    }
}
PAGE = Query(ge=1, le=MAX_PAGE, description="Which page of `limit` rows (1: the newest)")
FROM = Query(alias="from", description="First UK day (inclusive)")
TO = Query(alias="to", description="Last UK day (inclusive)")


def counted(response: Response, found: Page[T]) -> list[T]:
    """The page's rows; the response says how many matched in all."""
    response.headers[TOTAL] = str(found.total)
    return list(found.rows)
