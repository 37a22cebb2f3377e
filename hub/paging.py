"""A page of a longer list: the rows shown, and how many matched in all, so no reader takes a
capped list for the whole (the workbench says "showing 1-500 of 12,345; narrow the dates")."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy import Connection, Row, Select, func, select

T = TypeVar("T")
MAX_PAGE = 1_000_000  # far past any real list; a bigger number is a typing slip


@dataclass(frozen=True)
class Page(Generic[T]):
    rows: Sequence[T]
    total: int  # every row that matched, across all pages
    number: int = 1  # 1-based
    size: int = 100

    @property
    def offset(self) -> int:
        return offset(self.number, self.size)

    @property
    def first(self) -> int:
        """The position of the first row shown (1-based; 0 when none is shown)."""
        return self.offset + 1 if self.rows else 0

    @property
    def last(self) -> int:
        return self.offset + len(self.rows)

    @property
    def partial(self) -> bool:
        """Some matching rows are on other pages."""
        return len(self.rows) < self.total

    @property
    def has_next(self) -> bool:
        return self.last < self.total and bool(self.rows)

    @property
    def has_previous(self) -> bool:
        return self.number > 1

    @property
    def past_the_end(self) -> bool:
        """A page number beyond the last page (rows matched, none on this page)."""
        return not self.rows and self.total > 0


def offset(number: int, size: int) -> int:
    return (number - 1) * size


def page_number(text: str) -> int:
    """A `page` input: a whole number from 1 (ValueError in the user's words otherwise)."""
    text = text.strip()
    if not (text.isascii() and text.isdigit()) or not 1 <= int(text[:8]) <= MAX_PAGE:
        raise ValueError(f"the page must be a whole number from 1 to {MAX_PAGE:,}, not {text!r}")
    return int(text)


def fetch_page(
    conn: Connection, stmt: Select[Any], number: int, size: int
) -> tuple[list[Row[Any]], int]:
    """The rows of page `number` of `stmt` (already filtered and ordered) and the total count,
    both from SQL: the filter is never applied after a cap."""
    total = int(conn.execute(select(func.count()).select_from(stmt.order_by(None).subquery()))
                .scalar_one())  # fmt: skip
    rows = list(conn.execute(stmt.limit(size).offset(offset(number, size))))
    return rows, total
