"""Turn an untrusted submission into a valid Event, or list every problem with it."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from hub.errors import EventValidationError, PermissionDenied, Problem
from hub.events.envelope import Envelope, Event
from hub.events.payloads import PAYLOAD_MODELS
from hub.events.schemas import SchemaRegistry


class EventSubmission(BaseModel):
    """What a source system sends to `POST /v1/events`."""

    model_config = ConfigDict(extra="forbid")

    type: str = Field(description="Event type, e.g. address.changed")
    subject: str = Field(description="The hub person id the event is about")
    data: dict[str, Any] = Field(description="The event's fields, as its schema describes")
    id: str | None = Field(default=None, description="Your own unique event id (retries reuse it)")
    time: datetime | None = Field(
        default=None, description="When the change happened (default now)"
    )
    source: str | None = Field(default=None, description="Must be your own system id if given")


def problems_from_validation(exc: ValidationError, prefix: str = "") -> list[Problem]:
    return [
        Problem(
            location=prefix + ".".join(str(p) for p in err["loc"])
            if err["loc"]
            else prefix.rstrip("."),
            rule=err["type"],
            message=err["msg"],
        )
        for err in exc.errors()
    ]


def new_event_id() -> str:
    return str(uuid.uuid4())


def build_event(raw: dict[str, Any], source: str, registry: SchemaRegistry, now: datetime) -> Event:
    """Validate a submission from `source`. Raises EventValidationError listing every problem."""
    try:
        submission = EventSubmission.model_validate(raw)
    except ValidationError as exc:
        raise EventValidationError("the event is not valid", problems_from_validation(exc)) from exc
    if submission.source is not None and submission.source != source:
        raise PermissionDenied(
            f"source {submission.source!r} does not match the authenticated system {source!r}:"
            " a system may publish only as itself"
        )
    problems: list[Problem] = []
    model = PAYLOAD_MODELS.get(submission.type)
    if model is None or submission.type not in registry.event_types:
        known = ", ".join(sorted(registry.event_types))
        problems.append(Problem("type", "known_event_type", f"unknown event type; known: {known}"))
        raise EventValidationError("the event is not valid", problems)
    data: dict[str, Any] = {}
    try:
        data = model.model_validate(submission.data).model_dump(mode="python")
    except ValidationError as exc:
        problems.extend(problems_from_validation(exc, prefix="data."))
    time = submission.time or now
    if time.tzinfo is None:
        problems.append(Problem("time", "timezone", "time must include a timezone, e.g. Z"))
    try:
        envelope = Envelope(
            id=submission.id or new_event_id(),
            source=source,
            type=submission.type,
            subject=submission.subject,
            time=time if time.tzinfo else time.replace(tzinfo=UTC),
            dataschema=registry.latest(submission.type).dataschema,
        )
    except ValidationError as exc:
        problems.extend(problems_from_validation(exc))
    if problems:
        raise EventValidationError("the event is not valid", problems)
    return Event(envelope=envelope, data=data)
