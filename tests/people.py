"""People the tests talk about, linked to the receiving systems' records (`person.linked`).

A recipient only gets updates about a person whose record it has linked to the hub person
(or the agreement's notify-to-match fields): tests link their people first, as the council's
customer index would.
"""

from __future__ import annotations

import zlib
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, func, select

from hub.db.tables import IdentityLink
from hub.events.envelope import Envelope, Event

RECIPIENTS = ("waste", "libraries", "parking", "adult-social-care", "electoral")
LINKER = "customer-index"


def local_id(subject: str, system: str) -> str:
    """The system's own record number for the person (it does not contain the hub id)."""
    return f"{system[:3].upper()}-{zlib.crc32(f'{system}/{subject}'.encode()) % 1_000_000:06d}"


def link_bodies(subject: str, systems: tuple[str, ...] = RECIPIENTS) -> list[dict[str, Any]]:
    """`POST /v1/events` bodies linking `subject` to each system's record."""
    return [
        {
            "id": f"link-{system}-{local_id(subject, system)}",  # no hub id: ids are audited
            "type": "person.linked",
            "subject": subject,
            "data": {"system": system, "local_id": local_id(subject, system)},
        }
        for system in systems
    ]


def link_events(subject: str, systems: tuple[str, ...] = RECIPIENTS) -> list[Event]:
    at = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
    return [
        Event(
            envelope=Envelope(
                id=body["id"], source=LINKER, type=body["type"], subject=subject, time=at
            ),
            data=body["data"],
        )
        for body in link_bodies(subject, systems)
    ]


def post_links(url: str, subject: str, systems: tuple[str, ...] = RECIPIENTS) -> None:
    """Link `subject` over HTTP as the customer index does (`POST /v1/events`)."""
    import httpx

    for body in link_bodies(subject, systems):
        response = httpx.post(
            f"{url}/v1/events", json=body, headers={"Authorization": f"Bearer demo-{LINKER}-key"}
        )
        assert response.status_code == 202, response.text


def links_recorded(engine: Engine) -> int:
    """How many links (person, system) the hub has recorded: a test publishes its people's
    links and waits for them before the events about those people, which the router decides
    with the links recorded when it routes them."""
    links = IdentityLink.__table__  # type: ignore[attr-defined]
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(links)).scalar_one())
