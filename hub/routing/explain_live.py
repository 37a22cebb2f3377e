"""Explaining an event against the state stored now (shared by `hub explain` and the API)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Engine

from hub.config.model import HubConfig
from hub.errors import ExplainRequestInvalid, Problem
from hub.events.rules import RuleContext
from hub.events.schemas import SchemaRegistry
from hub.events.validation import build_event
from hub.policy.state import UNKNOWN
from hub.routing.explain import FanOut, explain
from hub.routing.originals import AuditOriginals
from hub.routing.route import FOLLOW_UP_TYPES, original_of
from hub.subjects.store import SubjectStore


def recipients_to_explain(
    config: HubConfig, recipient: Sequence[str], all_recipients: bool
) -> list[str]:
    """The recipients asked about; every one must be a known recipient system."""
    known = [s.id for s in config.recipients]
    if all_recipients:
        return known
    if not recipient:
        raise ExplainRequestInvalid(
            "nobody to explain for",
            [Problem("recipient", "required", "name a recipient, or ask for all recipients")],
        )
    unknown = [r for r in recipient if r not in known]
    if unknown:
        raise ExplainRequestInvalid(
            "unknown recipient",
            [
                Problem("recipient", "known_recipient", f"{r!r} is not a recipient system")
                for r in unknown
            ],
        )
    return list(recipient)


def explain_submission(
    body: dict[str, Any],
    source: str,
    recipients: Sequence[str],
    config: HubConfig,
    registry: SchemaRegistry,
    ctx: RuleContext,
    engine: Engine,
    now: datetime,
) -> FanOut:
    """Validate an event as `POST /v1/events` would, then explain it with the stored state."""
    event = build_event(body, source, registry, ctx)
    subject = SubjectStore(engine).load([event.envelope.subject]).get(event.envelope.subject)
    originals = (
        AuditOriginals(engine).delivered([original_of(event)[0]]).get(original_of(event)[0], [])
        if event.envelope.type in FOLLOW_UP_TYPES
        else []
    )
    return explain(event, recipients, config, subject or UNKNOWN, now, originals)
