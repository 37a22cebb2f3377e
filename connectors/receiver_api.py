"""Self-service for receiving systems over HTTP, with their own API key (only their own id):
their webhook endpoint's state and re-enabling it after a fix, their dead letters and a redrive,
a replay request, a signed test ping. Every action is recorded in the audit access log
(actor: the recipient, via: api, what: the action).

What needs the broker (redrive's withheld entries, replay) is done by callables the composition
root (runtime/api.py) puts on `app.state.receiver_actions`."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field
from sqlalchemy import Engine, insert

from connectors.webhook import WebhookSender
from hub.api.auth import current_system, require_role
from hub.api.errors import BadRequest
from hub.config.model import Role, System, WebhookSink
from hub.db.tables import AuditAccessLog
from hub.delivery.outbox import OutboxStore
from hub.errors import NotFound
from hub.settings import HubSettings
from hub.timeutil import utcnow

router = APIRouter(prefix="/v1/receiver", tags=["receiver"])
ACCESS_LOG = AuditAccessLog.__table__  # type: ignore[attr-defined]
NOT_A_WEBHOOK = "not_a_webhook_recipient"


@dataclass(frozen=True)
class ReceiverActions:
    engine: Engine
    settings: HubSettings
    redrive: Callable[[str], Awaitable[tuple[int, int]]]  # recipient -> (requeued, withheld)
    replay: Callable[[str, datetime, datetime | None, str | None], Awaitable[tuple[int, int, int]]]

    def record(self, recipient: str, what: str) -> None:
        """Audit a receiver's action (who, what, when) in the audit access log."""
        with self.engine.begin() as conn:
            conn.execute(
                insert(ACCESS_LOG),
                [
                    {
                        "accessed_at": utcnow(),
                        "actor": recipient[:64],
                        "purpose": "receiver self-service",
                        "subject_key": "-",
                        "what": what[:64],
                        "via": "api",
                    }
                ],
            )


def receiver_actions(request: Request) -> ReceiverActions:
    actions = request.app.state.receiver_actions
    assert isinstance(actions, ReceiverActions)
    return actions


def recipient(system: Annotated[System, Depends(current_system)]) -> System:
    return require_role(system, Role.RECIPIENT)


Me = Annotated[System, Depends(recipient)]
Actions = Annotated[ReceiverActions, Depends(receiver_actions)]


def _webhook(system: System) -> WebhookSink:
    if not isinstance(system.delivery, WebhookSink):
        raise NotFound(f"{system.id!r} does not receive webhooks (its delivery is not a webhook)")
    return system.delivery


class EndpointView(BaseModel):
    recipient: str
    url: str
    enabled: bool
    disabled_at: datetime | None = Field(description="When a 410 Gone disabled it")
    reason: str
    pending: int = Field(description="Deliveries waiting to be sent")
    dead: int = Field(description="Dead letters (retry budget spent)")


class DeadLetter(BaseModel):
    delivery_id: str
    event_id: str
    type: str
    attempts: int
    last_http_status: int | None
    last_error: str
    dead_at: datetime | None


class RedriveResult(BaseModel):
    requeued: int = Field(description="Sent again under today's agreements (mode redrive)")
    withheld: int = Field(description="No longer allowed today: withheld and audited")


class ReplayRequest(BaseModel):
    since: datetime = Field(description="Replay events the hub accepted since this time")
    until: datetime | None = Field(
        default=None, description="...and up to this time (default: now)"
    )
    type: str | None = Field(default=None, description="Only this event type")


class ReplayResult(BaseModel):
    considered: int
    delivered: int = Field(description="Allowed by today's agreements: sent as mode replay")
    withheld: int


class PingResult(BaseModel):
    webhook_id: str
    http_status: int | None
    delivered: bool
    error: str
    latency_ms: float


def _endpoint(outbox: OutboxStore, system: System, sink: WebhookSink) -> EndpointView:
    state = outbox.endpoint(system.id)
    counts = outbox.counts()
    return EndpointView(
        recipient=system.id,
        url=sink.url,
        enabled=state.disabled_at is None,
        disabled_at=state.disabled_at,
        reason=state.reason,
        pending=counts.get((system.id, "pending"), 0),
        dead=counts.get((system.id, "dead"), 0),
    )


@router.get("/endpoint", response_model=EndpointView, operation_id="getReceiverEndpoint")
async def get_endpoint(me: Me, actions: Actions) -> EndpointView:
    """Your webhook endpoint: enabled, or disabled by a 410 Gone (and why), pending and dead."""
    sink = _webhook(me)
    outbox = OutboxStore(actions.engine)
    await asyncio.to_thread(actions.record, me.id, "endpoint_read")
    return await asyncio.to_thread(_endpoint, outbox, me, sink)


@router.post("/endpoint/enable", response_model=EndpointView, operation_id="enableReceiverEndpoint")
async def enable_endpoint(me: Me, actions: Actions) -> EndpointView:
    """Enable your endpoint again after a fix: its pending deliveries are sent again."""
    sink = _webhook(me)
    outbox = OutboxStore(actions.engine)
    await asyncio.to_thread(outbox.set_endpoint, me.id, None, "", utcnow())
    await asyncio.to_thread(actions.record, me.id, "endpoint_enable")
    return await asyncio.to_thread(_endpoint, outbox, me, sink)


@router.get(
    "/dead-letters", response_model=list[DeadLetter], operation_id="listReceiverDeadLetters"
)
async def dead_letters(me: Me, actions: Actions) -> list[DeadLetter]:
    """Your dead letters (no values: ids, type, attempts and the last error)."""
    _webhook(me)
    rows = await asyncio.to_thread(OutboxStore(actions.engine).dead, me.id)
    await asyncio.to_thread(actions.record, me.id, "dead_letters_read")
    return [
        DeadLetter(
            delivery_id=r.delivery_id,
            event_id=r.event_id,
            type=r.event_type,
            attempts=r.attempts,
            last_http_status=r.last_http_status,
            last_error=r.last_error,
            dead_at=r.dead_at,
        )
        for r in rows
    ]


@router.post(
    "/dead-letters/redrive", response_model=RedriveResult, operation_id="redriveReceiverDeadLetters"
)
async def redrive(me: Me, actions: Actions) -> RedriveResult:
    """Send your dead letters again under today's agreements (re-decided: what is no longer
    allowed is withheld and audited); each is a new message with `original_delivery_id`."""
    _webhook(me)
    requeued, withheld = await actions.redrive(me.id)
    await asyncio.to_thread(actions.record, me.id, "dead_letters_redrive")
    return RedriveResult(requeued=requeued, withheld=withheld)


@router.post("/replay", response_model=ReplayResult, operation_id="requestReceiverReplay")
async def replay(body: ReplayRequest, me: Me, actions: Actions) -> ReplayResult:
    """Events accepted since `since`, decided again for you under today's agreements (never
    more than they allow now), delivered as mode replay through your channel."""
    if body.until is not None and body.until < body.since:
        raise BadRequest("`until` is before `since`: give a range that runs forwards")
    considered, delivered, withheld = await actions.replay(me.id, body.since, body.until, body.type)
    await asyncio.to_thread(actions.record, me.id, "replay")
    return ReplayResult(considered=considered, delivered=delivered, withheld=withheld)


def ping_body(recipient: str, ping_id: str) -> dict[str, Any]:
    return {"version": 2, "type": "hub.ping", "delivery_id": ping_id, "recipient": recipient}


@router.post("/ping", response_model=PingResult, operation_id="pingReceiverEndpoint")
async def ping(me: Me, actions: Actions) -> PingResult:
    """A signed test request to your webhook endpoint (`type` hub.ping, no personal data)."""
    sink = _webhook(me)
    secrets = [s.get_secret_value() for s in actions.settings.webhook_secrets.get(me.id, [])]
    ping_id = f"ping_{uuid.uuid4().hex}"
    if not secrets:
        result = PingResult(
            webhook_id=ping_id, http_status=None, delivered=False, error="no_secret", latency_ms=0
        )
    else:
        sender = WebhookSender(sink, secrets)
        try:
            sent = await sender.send(ping_id, json.dumps(ping_body(me.id, ping_id)).encode())
        finally:
            await sender.close()
        result = PingResult(
            webhook_id=ping_id,
            http_status=sent.http_status,
            delivered=sent.delivered,
            error=sent.error,
            latency_ms=sent.latency_ms,
        )
    await asyncio.to_thread(actions.record, me.id, "ping")
    return result
