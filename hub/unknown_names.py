"""A list that found nothing while naming what the hub has never known is refused, not answered
empty: IG, a source system or an operator would read an empty answer as "none", when the name
was a typo (`librarys`, `council-tx`) and nothing was looked for.

A name is known if the configuration in force has it, or if the data looked in holds it (a
system retired from `systems.yaml` keeps its history): that lookup is made only for a name
the configuration lacks, and only when the answer was empty.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from hub.errors import Problem, ProblemsError

SUMMARY = "nothing found, and the request names what the hub has never known"
RECIPIENT = "a receiving system in the configuration"
SOURCE = "a source system in the configuration"
COUNTED_NONE = "no event from it was ever counted"
REJECTED_NONE = "no rejected record names it"
QUALITY_NONE = "no event from it was ever counted or rejected"


class UnknownName(ProblemsError):
    """An empty answer to a request naming what the hub has never known (HTTP 422)."""

    code = "unknown_name"

    def sentence(self) -> str:
        """What a page shows: that nothing was found, and what is unknown."""
        return "Nothing found: " + "; ".join(p.message for p in self.problems)


def unknown_name(
    field: str, value: str, what: str, nowhere: str, choices: Iterable[str]
) -> Problem:
    """`value` (given as `field`) is not `what`, and `nowhere` (where it was looked for): and
    what it could be instead."""
    known = sorted(choices)
    choose = f": use one of {', '.join(known)}" if known else ""
    return Problem(field, "unknown", f"{value!r} is not {what}, and {nowhere}{choose}")


def refuse_unknown(
    field: str,
    value: str | None,
    what: str,
    nowhere: str,
    configured: Callable[[], Iterable[str]],
    seen: Callable[[str], bool],
) -> None:
    """For an empty answer: raise UnknownName if `value` is given, not `configured` (read now)
    and not `seen` in the data looked in."""
    if not value:
        return
    known = frozenset(configured())
    if value not in known and not seen(value):
        raise UnknownName(SUMMARY, [unknown_name(field, value, what, nowhere, known)])
