"""`hub deliveries ...`: everything after the router decided, in one place for the operator who
asks "why did this not arrive?": webhook dead letters (`dead`, `redrive`) and endpoints
(`endpoints`, `enable`), events held until their person is linked (`held`, `retry`), a re-run of
accepted events under today's policy (`replay`), and records refused on the internal topics
(`quarantine`)."""

from __future__ import annotations

import asyncio
import json
from typing import TYPE_CHECKING, Annotated

import typer

from hub.timeutil import utcnow
from hub.unknown_names import RECIPIENT, refuse_unknown

if TYPE_CHECKING:
    from hub.delivery.outbox import OutboxStore
    from hub.settings import HubSettings

app = typer.Typer(
    help="Deliveries: dead letters, endpoints, events held for a link, replay, quarantine.",
    no_args_is_help=True,
)

RecipientOption = Annotated[
    str | None, typer.Option("--recipient", help="Only this recipient (system id)")
]


def _refuse_unknown_recipient(
    settings: HubSettings, recipient: str | None, store: OutboxStore
) -> None:
    """A recipient neither configured nor in the outbox: said, not answered with "none"."""
    from runtime.wiring import wire

    refuse_unknown(
        "recipient",
        recipient,
        RECIPIENT,
        "no webhook delivery in the outbox is for it",
        lambda: [s.id for s in wire(settings).config.recipients],
        store.has_recipient,
    )


@app.command("dead")
def dead_command(recipient: RecipientOption = None) -> None:
    """List the dead letters: deliveries given up on after the retry budget."""
    from cli.common import console, hub_settings, print_table
    from hub.delivery.outbox import OutboxStore
    from runtime.wiring import open_stores

    settings = hub_settings()
    store = OutboxStore(open_stores(settings).engine)
    rows = store.dead(recipient)
    if not rows:
        _refuse_unknown_recipient(settings, recipient, store)
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


@app.command("redrive")
def redrive_command(recipient: RecipientOption = None) -> None:
    """Send dead letters again under the policy in force now (no longer allowed: withheld, audited)."""
    from cli.common import console, hub_settings
    from hub.delivery.outbox import OutboxStore
    from runtime.redrive import redrive
    from runtime.stack import running_bootstrap
    from runtime.wiring import open_stores

    settings = hub_settings()
    if recipient is not None:
        _refuse_unknown_recipient(settings, recipient, OutboxStore(open_stores(settings).engine))
    summary = asyncio.run(redrive(settings, running_bootstrap(settings), recipient))
    console.print(
        f"Redrive: {summary.requeued} back in the outbox (the worker sends them), "
        f"{summary.withheld} withheld under the policy in force now (audited, mode redrive)."
    )


@app.command("endpoints")
def endpoints_command() -> None:
    """Each webhook recipient: URL, enabled, disabled (410 Gone) or held (no signing secret),
    pending and dead counts."""
    from cli.common import hub_settings, print_table
    from hub.config.model import WebhookSink
    from hub.delivery.outbox import OutboxStore
    from runtime.wiring import open_stores, wire

    settings = hub_settings()
    config = wire(settings).config
    outbox = OutboxStore(open_stores(settings).engine)
    counts = outbox.counts()
    rows = []
    for system in config.recipients:
        if not isinstance(system.delivery, WebhookSink):
            continue
        state = outbox.endpoint(system.id)
        if state.disabled_at:
            shown = f"DISABLED {state.reason}"
        elif settings.webhook_secrets.get(system.id):
            shown = "enabled"
        else:  # the dispatcher sends nothing unsigned: its deliveries wait
            shown = "HELD: no secret in HUB_WEBHOOK_SECRETS"
        rows.append(
            [
                system.id,
                system.delivery.url,
                shown,
                str(counts.get((system.id, "pending"), 0)),
                str(counts.get((system.id, "dead"), 0)),
            ]
        )
    print_table("Webhook endpoints", ["recipient", "url", "state", "pending", "dead"], rows)


@app.command("enable")
def enable_command(
    recipient: Annotated[str, typer.Argument(help="The recipient whose endpoint works again")],
) -> None:
    """Enable an endpoint disabled by a 410 Gone; its pending deliveries are sent again."""
    from cli.common import console, hub_settings
    from hub.delivery.outbox import OutboxStore
    from hub.errors import ConfigError, Problem
    from hub.timeutil import utcnow
    from runtime.wiring import open_stores, wire

    settings = hub_settings()
    if wire(settings).config.system(recipient) is None:
        raise ConfigError(
            "unknown recipient", [Problem(recipient, "known_system", "no such system")]
        )
    OutboxStore(open_stores(settings).engine).set_endpoint(recipient, None, "", utcnow())
    console.print(f"Endpoint of {recipient} enabled.")


@app.command("held")
def review_list(
    status: Annotated[
        str, typer.Option(help="open, released (routed once linked) or retried")
    ] = "open",
    limit: Annotated[int, typer.Option(min=1, max=10_000, help="At most this many")] = 100,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line")] = False,
) -> None:
    """Events waiting because no system's record is linked to their person (oldest first)."""
    from cli.common import hub_settings, print_table
    from runtime.wiring import open_stores

    if status not in ("open", "released", "retried"):
        raise typer.BadParameter("must be open, released or retried", param_hint="--status")
    items = open_stores(hub_settings()).review.find(status, limit)
    if as_json:
        for i in items:
            print(i.model_dump_json(exclude={"key", "value", "headers"}))
        return
    print_table(
        f"Review queue ({status})",
        ("id", "queued", "source", "type", "event", "person key", "why"),
        [
            (
                str(i.seq),
                f"{i.created_at:%Y-%m-%d %H:%M:%S}",
                i.source,
                i.event_type,
                i.event_id,
                i.subject_key[:12],
                i.reason,
            )
            for i in items
        ],
    )


@app.command("retry")
def review_retry(
    review_id: Annotated[
        int, typer.Argument(metavar="ID", help="The id `hub deliveries held` shows")
    ],
) -> None:
    """Re-publish a queued event with its original id (e.g. after linking its person)."""
    import asyncio

    from cli.common import console, hub_settings
    from runtime.review import retry
    from runtime.stack import running_bootstrap
    from runtime.wiring import open_stores

    settings = hub_settings()
    event_id = asyncio.run(
        retry(settings, running_bootstrap(settings), open_stores(settings).review, review_id)
    )
    console.print(
        f"Review item {review_id} re-published as event {event_id}: if its person is still not "
        "linked it comes back to the queue."
    )


@app.command("replay")
def replay_command(
    recipient: Annotated[str, typer.Option(help="The recipient system to replay to")],
    since: Annotated[str, typer.Option(help="Events accepted from this UK date, YYYY-MM-DD")],
    event_type: Annotated[
        str | None, typer.Option("--event-type", help="Only this event type")
    ] = None,
) -> None:
    """Re-run accepted events through the policy in force now and deliver what it allows."""
    import asyncio
    from datetime import date, datetime

    from cli.common import console, hub_settings
    from hub.journal.store import JournalStore
    from hub.routing.originals import AuditOriginals
    from hub.subjects.store import SubjectStore
    from hub.timeutil import UK
    from runtime.replay import replay_for
    from runtime.stack import running_bootstrap
    from runtime.wiring import open_stores, wire

    try:
        day = date.fromisoformat(since)
    except ValueError as exc:
        raise typer.BadParameter("expected YYYY-MM-DD", param_hint="--since") from exc
    settings = hub_settings()
    stores = open_stores(settings)
    start = datetime(day.year, day.month, day.day, tzinfo=UK)
    summary = asyncio.run(
        replay_for(
            settings,
            running_bootstrap(settings),
            wire(settings),
            JournalStore(stores.engine),
            SubjectStore(stores.engine),
            AuditOriginals(stores.engine),
            recipient,
            start,
            event_type,
            utcnow(),
        )
    )
    console.print(
        f"Replayed {summary.considered} accepted event(s) to {recipient}: "
        f"{summary.delivered} delivered under the policy in force now, {summary.withheld} "
        f"withheld (audited), {summary.skipped} skipped."
    )


@app.command("quarantine")
def quarantine_list(
    topic: Annotated[str | None, typer.Option(help="Only records from this topic")] = None,
    limit: Annotated[
        int, typer.Option(min=1, max=10_000, help="At most this many, newest first")
    ] = 50,
    as_json: Annotated[
        bool, typer.Option("--json", help="One JSON object per line, bytes as base64")
    ] = False,
) -> None:
    """Deliveries, audit entries and rejections that did not verify: never acted on. Each is a
    sign that something other than the hub writes to its topics (lock them down with ACLs)."""
    import base64

    from cli.common import console, hub_settings, print_table
    from hub.rejected.quarantine import QuarantineStore
    from runtime.wiring import open_stores, wire

    settings = hub_settings()
    store = QuarantineStore(open_stores(settings).engine)
    rows = store.list(topic, limit)
    if not rows:
        refuse_unknown(
            "topic", topic, "one of the hub's topics", "no quarantined record came from it",
            lambda: [t.name for t in wire(settings).topics()], store.has_topic,
        )  # fmt: skip
    if as_json:
        for r in rows:
            print(
                json.dumps(
                    {
                        "id": r.seq,
                        "quarantined_at": r.quarantined_at.isoformat(),
                        "consumer": r.consumer,
                        "topic": r.topic,
                        "partition": r.partition,
                        "offset": r.offset,
                        "reason": r.reason,
                        "key_b64": base64.b64encode(r.key).decode() if r.key is not None else None,
                        "value_b64": r.value_b64,
                        "headers": [[k, base64.b64encode(v).decode()] for k, v in r.headers],
                    }
                )
            )
        return
    if not rows:
        console.print("Nothing quarantined: every record on the internal topics was the hub's.")
        return
    print_table(
        f"Quarantined records ({len(rows)})",
        ("id", "when", "topic", "at", "consumer", "reason", "bytes", "headers"),
        [
            (
                str(r.seq),
                r.quarantined_at.strftime("%Y-%m-%d %H:%M:%S"),
                r.topic,
                f"{r.partition}@{r.offset}",
                r.consumer,
                r.reason,
                str(len(r.value)),
                ", ".join(k for k, _ in r.headers) or "-",
            )
            for r in rows
        ],
    )
