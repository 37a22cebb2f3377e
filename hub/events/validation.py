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
    problems: list[Problem] = []
    submission: EventSubmission | None = None
    try:
        submission = EventSubmission.model_validate(raw)
    except ValidationError as exc:
        problems.extend(problems_from_validation(exc))
    if submission is not None and submission.source is not None and submission.source != source:
        raise PermissionDenied(
            f"source {submission.source!r} does not match the authenticated system {source!r}:"
            " a system may publish only as itself"
        )
    event_type = raw.get("type") if submission is None else submission.type
    payload = raw.get("data") if submission is None else submission.data
    model = PAYLOAD_MODELS.get(event_type) if isinstance(event_type, str) else None
    if model is None or event_type not in registry.event_types:
        if not any(p.location == "type" for p in problems):
            known = ", ".join(sorted(registry.event_types))
            problems.append(
                Problem("type", "known_event_type", f"unknown event type; known: {known}")
            )
        raise EventValidationError("the event is not valid", problems)
    data: dict[str, Any] = {}
    if isinstance(payload, dict):
        try:
            data = model.model_validate(payload).model_dump(mode="python")
        except ValidationError as exc:
            problems.extend(problems_from_validation(exc, prefix="data."))
    if submission is None:
        raise EventValidationError("the event is not valid", problems)
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
