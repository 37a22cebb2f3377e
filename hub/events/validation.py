"""Turn an untrusted submission (HTTP) or record (Kafka) into a valid Event, or list every problem."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from hub.errors import CodecError, EventValidationError, PermissionDenied, Problem, RecordRejected
from hub.events.codec import AvroCodec
from hub.events.envelope import Envelope, Event, Headers
from hub.events.payloads import PAYLOAD_MODELS
from hub.events.rules import RuleContext, apply_rules, character_problems
from hub.events.schemas import SchemaRegistry
from hub.plain_errors import plain_message


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
    correlation_id: str | None = Field(
        default=None, description="Ties related events together (e.g. one contact-centre call)"
    )


def problems_from_validation(exc: ValidationError, prefix: str = "") -> list[Problem]:
    return [
        Problem(
            location=prefix + ".".join(str(p) for p in err["loc"])
            if err["loc"]
            else prefix.rstrip("."),
            rule=err["type"],
            message=plain_message(err),
        )
        for err in exc.errors()
    ]


def new_event_id() -> str:
    return str(uuid.uuid4())


def validate_data(
    event_type: str, payload: Any, ctx: RuleContext, problems: list[Problem]
) -> dict[str, Any]:
    """Structural (pydantic) then contextual rules; appends problems, returns the clean data."""
    model = PAYLOAD_MODELS[event_type]
    try:
        data = model.model_validate(payload).model_dump(mode="python")
    except ValidationError as exc:
        problems.extend(problems_from_validation(exc, prefix="data."))
        return {}
    problems.extend(character_problems(data, "data."))
    data, rule_problems = apply_rules(event_type, data, ctx)
    problems.extend(rule_problems)
    return data


def build_event(
    raw: dict[str, Any], source: str, registry: SchemaRegistry, ctx: RuleContext
) -> Event:
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
    if (
        not isinstance(event_type, str)
        or event_type not in PAYLOAD_MODELS
        or event_type not in registry.event_types
    ):
        if not any(p.location == "type" for p in problems):
            known = ", ".join(sorted(registry.event_types))
            problems.append(
                Problem("type", "known_event_type", f"unknown event type; known: {known}")
            )
        raise EventValidationError("the event is not valid", problems)
    payload = raw.get("data") if submission is None else submission.data
    data = validate_data(event_type, payload, ctx, problems) if isinstance(payload, dict) else {}
    if submission is None:
        raise EventValidationError("the event is not valid", problems)
    problems.extend(
        character_problems(
            {
                "id": submission.id or "",
                "subject": submission.subject,
                "correlation_id": submission.correlation_id or "",
            }
        )
    )
    time = submission.time or ctx.now
    if time.tzinfo is None:
        problems.append(Problem("time", "timezone", "time must include a timezone, e.g. Z"))
    try:
        envelope = Envelope(
            id=submission.id or new_event_id(),
            source=source,
            type=event_type,
            subject=submission.subject,
            time=time if time.tzinfo else time.replace(tzinfo=UTC),
            dataschema=registry.latest(event_type).dataschema,
            correlationid=submission.correlation_id or "",
        )
    except ValidationError as exc:
        problems.extend(problems_from_validation(exc))
    if problems:
        raise EventValidationError("the event is not valid", problems)
    return Event(envelope=envelope, data=data)


def validate_event(event: Event, ctx: RuleContext) -> Event:
    """Re-check a decoded event (e.g. produced straight onto Kafka) with the same rules as ingest."""
    problems: list[Problem] = []
    envelope = event.envelope
    if envelope.type not in PAYLOAD_MODELS:
        raise EventValidationError(
            "the event is not valid",
            [Problem("type", "known_event_type", f"unknown event type {envelope.type!r}")],
        )
    problems.extend(
        character_problems(
            {
                "id": envelope.id,
                "subject": envelope.subject,
                "correlationid": envelope.correlationid,
            }
        )
    )
    data = validate_data(envelope.type, event.data, ctx, problems)
    if problems:
        raise EventValidationError("the event is not valid", problems)
    return Event(envelope=event.envelope, data=data)


def accept_record(
    value: bytes | None,
    headers: Headers,
    codec: AvroCodec,
    sources: frozenset[str],
    ctx: RuleContext,
) -> Event:
    """What the router does with every record on an events topic, whoever produced it.

    Raises RecordRejected with the reason and the rules broken: undecodable bytes or headers,
    a source that is not a known source system, or data that fails the same rules as ingest.
    """
    if value is None:
        raise RecordRejected("record has no value (tombstone)", ("decode",))
    try:
        event = codec.decode_event(value, headers)
    except CodecError as exc:
        raise RecordRejected(str(exc), ("decode",)) from exc
    if event.envelope.source not in sources:
        raise RecordRejected(
            f"source {event.envelope.source!r} is not a known source system", ("known_source",)
        )
    try:
        return validate_event(event, ctx)
    except EventValidationError as exc:
        rules = tuple(dict.fromkeys(p.rule for p in exc.problems))
        raise RecordRejected("; ".join(str(p) for p in exc.problems), rules) from exc
