"""`hub deliveries dead|redrive|endpoints|enable`: webhook dead letters and endpoint state.
Registered on the `hub` app by runtime/cli.py."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Annotated

import typer

from hub.settings import HubSettings

deliveries_app = typer.Typer(
    help="Webhook deliveries: dead letters (list, redrive) and endpoints (list, enable).",
    no_args_is_help=True,
)

RecipientOption = Annotated[
    str | None, typer.Option("--recipient", help="Only this recipient (system id)")
]


@dataclass(frozen=True)
class RedriveSummary:
    requeued: int
    withheld: int


async def redrive(settings: HubSettings, bootstrap: str, recipient: str | None) -> RedriveSummary:
    """Re-check each dead letter against the policy in force now: requeue it, or audit it withheld."""
    from hub.broker.producer import make_producer
    from hub.delivery.outbox import OutboxStore
    from hub.delivery.redrive import redecide
    from hub.policy.state import UNKNOWN
    from hub.routing.messages import AuditEntry
    from hub.routing.table import RoutingTable
    from hub.signing.keys import record_keys
    from hub.timeutil import utcnow
    from runtime.wiring import open_stores, wire

    w = wire(settings)
    stores = open_stores(settings)
    outbox = OutboxStore(stores.engine)
    dead = outbox.dead(recipient)
    table = RoutingTable.build(w.config)
    people = stores.subjects.load([row.delivery.subject for row in dead])
    now = utcnow()
    withheld: list[tuple[str, AuditEntry]] = []
    requeued = 0
    for row in dead:
        delivery = row.delivery
        decided = redecide(delivery, table, people.get(delivery.subject, UNKNOWN), now)
        if isinstance(decided, AuditEntry):
            withheld.append((row.delivery_id, decided))
        elif outbox.requeue(row.delivery_id, decided.model_dump_json(), row.attempts, now):
            requeued += 1
    if withheld:
        keys = record_keys(settings)
        producer = make_producer(settings, bootstrap)
        await producer.start()
        try:
            futures = []
            for _, e in withheld:
                value, key = e.model_dump_json().encode(), e.subject_key.encode()
                headers = keys.sign_headers(w.names.audit, key, value)
                futures.append(await producer.send(w.names.audit, value, key=key, headers=headers))
            await asyncio.gather(*futures)
        finally:
            await producer.stop()
        for delivery_id, entry in withheld:
            codes = ", ".join(r.code for r in entry.reasons)
            outbox.mark_withheld(delivery_id, f"redrive withheld: {codes}", now)
    return RedriveSummary(requeued, len(withheld))


@deliveries_app.command("dead")
def dead_command(recipient: RecipientOption = None) -> None:
    """List the dead letters: deliveries given up on after the retry budget."""
    from hub.delivery.outbox import OutboxStore
    from runtime.cli import _settings, console, print_table
    from runtime.wiring import open_stores

    rows = OutboxStore(open_stores(_settings()).engine).dead(recipient)
    if not rows:
        console.print("No dead letters.")
        return
    print_table(
        f"{len(rows)} dead letters",
        ["delivery id", "recipient", "event id", "event type", "attempts", "last", "dead at"],
        [
            [
                r.delivery_id,
                r.recipient,
                r.event_id,
                r.event_type,
                str(r.attempts),
                str(r.last_http_status or r.last_error),
                r.dead_at.isoformat(timespec="seconds") if r.dead_at else "",
            ]
            for r in rows
        ],
    )


@deliveries_app.command("redrive")
def redrive_command(recipient: RecipientOption = None) -> None:
    """Send dead letters again under the policy in force now (no longer allowed: withheld, audited)."""
    from runtime.cli import _settings, console
    from runtime.stack import running_bootstrap

    settings = _settings()
    summary = asyncio.run(redrive(settings, running_bootstrap(settings), recipient))
    console.print(
        f"Redrive: {summary.requeued} back in the outbox (the worker sends them), "
        f"{summary.withheld} withheld under the policy in force now (audited, mode redrive)."
    )


@deliveries_app.command("endpoints")
def endpoints_command() -> None:
    """Each webhook recipient: URL, enabled or disabled (410 Gone), pending and dead counts."""
    from hub.config.model import WebhookSink
    from hub.delivery.outbox import OutboxStore
    from runtime.cli import _settings, print_table
    from runtime.wiring import open_stores, wire

    settings = _settings()
    config = wire(settings).config
    outbox = OutboxStore(open_stores(settings).engine)
    counts = outbox.counts()
    rows = []
    for system in config.recipients:
        if not isinstance(system.delivery, WebhookSink):
            continue
        state = outbox.endpoint(system.id)
        rows.append(
            [
                system.id,
                system.delivery.url,
                f"DISABLED {state.reason}" if state.disabled_at else "enabled",
                str(counts.get((system.id, "pending"), 0)),
                str(counts.get((system.id, "dead"), 0)),
            ]
        )
    print_table("Webhook endpoints", ["recipient", "url", "state", "pending", "dead"], rows)


@deliveries_app.command("enable")
def enable_command(
    recipient: Annotated[str, typer.Argument(help="The recipient whose endpoint works again")],
) -> None:
    """Enable an endpoint disabled by a 410 Gone; its pending deliveries are sent again."""
    from hub.delivery.outbox import OutboxStore
    from hub.errors import ConfigError, Problem
    from hub.timeutil import utcnow
    from runtime.cli import _settings, console
    from runtime.wiring import open_stores, wire

    settings = _settings()
    if wire(settings).config.system(recipient) is None:
        raise ConfigError(
            "unknown recipient", [Problem(recipient, "known_system", "no such system")]
        )
    OutboxStore(open_stores(settings).engine).set_endpoint(recipient, None, "", utcnow())
    console.print(f"Endpoint of {recipient} enabled.")


def bench_webhooks_command(
    recipients: Annotated[str, typer.Option(help="Comma-separated fan-out widths")] = "1,5,20",
    deliveries: Annotated[int, typer.Option(min=10, help="Deliveries per recipient")] = 500,
) -> None:
    """Benchmark webhook fan-out on loopback receivers beside raw httpx POSTs; prints figures."""
    from runtime.cli import _settings, console
    from runtime.webhook_bench import run_webhook_bench

    ks = [int(k) for k in recipients.split(",") if k.strip()]
    run_webhook_bench(_settings(), ks, deliveries, console)


def register(app: typer.Typer) -> None:
    app.add_typer(deliveries_app, name="deliveries")
    app.command("bench-webhooks")(bench_webhooks_command)
