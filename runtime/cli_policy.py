"""`hub agreements ...`, `hub explain`, `hub review ...`: the policy engine on the command line.
Registered on the `hub` app by runtime/cli.py."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from hub.timeutil import uk_date, utcnow

agreements_app = typer.Typer(
    help="Data sharing agreements: check the directory, list them with what needs review.",
    no_args_is_help=True,
)
review_app = typer.Typer(
    help="Events about people no system's record is linked to: list them, retry them.",
    no_args_is_help=True,
)


@agreements_app.command("check")
def agreements_check(
    config_dir: Annotated[
        Path | None,
        typer.Argument(help="The configuration directory (default: HUB_CONFIG_DIR)"),
    ] = None,
) -> None:
    """Validate systems.yaml and every agreement; each problem with file, line and field."""
    from hub.config.loader import load_config
    from hub.events.schemas import SchemaRegistry
    from runtime.cli import _settings, console

    settings = _settings()
    directory = config_dir or settings.config_dir
    config = load_config(directory, SchemaRegistry.from_dir(settings.schema_dir))
    active = sum(1 for a in config.agreements if a.status.value == "active")
    console.print(
        f"OK: {len(config.agreements)} agreements ({active} active) and "
        f"{len(config.systems)} systems in {directory}: no problems."
    )


@agreements_app.command("list")
def agreements_list(
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line")] = False,
) -> None:
    """Every agreement with its status and version; flags those past review-by or expiring soon."""
    from hub.config.review import review_flags
    from runtime.cli import _settings, print_table
    from runtime.wiring import wire

    config = wire(_settings()).config
    today = uk_date(utcnow())
    rows: list[dict[str, Any]] = []
    for a in sorted(config.agreements, key=lambda a: a.id):
        rows.append(
            {
                "id": a.id,
                "version": a.version,
                "status": a.status.value,
                "title": a.title,
                "providers": list(a.providers),
                "recipients": list(a.recipients),
                "event_types": sorted(a.shares),
                "consent": a.consent.value,
                "lawful_basis": a.lawful_basis,
                "valid_from": a.valid_from.isoformat(),
                "valid_until": a.valid_until.isoformat() if a.valid_until else None,
                "review_by": a.review_by.isoformat(),
                "flags": [f.value for f in review_flags(a, today)],
            }
        )
    if as_json:
        for row in rows:
            print(json.dumps(row))
        return
    print_table(
        f"Data sharing agreements on {today.isoformat()}",
        ("id", "version", "status", "flows", "consent", "valid", "review by", "needs attention"),
        [
            (
                r["id"],
                r["version"],
                r["status"],
                f"{', '.join(r['providers'])} -> {', '.join(r['recipients'])}: "
                + ", ".join(r["event_types"]),
                r["consent"],
                f"{r['valid_from']} to {r['valid_until'] or 'open'}",
                r["review_by"],
                ", ".join(r["flags"]) or "-",
            )
            for r in rows
        ],
    )


def explain_command(
    event_file: Annotated[
        Path,
        typer.Argument(
            metavar="EVENT.json",
            help="The event as POST /v1/events takes it (with `source`, or give --source)",
        ),
    ],
    recipient: Annotated[
        list[str] | None, typer.Option("--recipient", help="A recipient system (repeatable)")
    ] = None,
    all_recipients: Annotated[
        bool, typer.Option("--all-recipients", help="Every recipient system: the whole fan-out")
    ] = False,
    source: Annotated[
        str | None, typer.Option(help="The source system (default: the event's `source`)")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="The explanation as JSON")] = False,
) -> None:
    """What the hub would do with this event now, and exactly why. Nothing is sent."""
    from hub.errors import ExplainRequestInvalid, Problem
    from hub.routing.explain_live import explain_submission, recipients_to_explain
    from runtime.cli import _settings, console, print_table
    from runtime.wiring import open_stores, wire

    try:
        body = json.loads(event_file.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise typer.BadParameter(
            f"cannot read {event_file}: {exc}", param_hint="EVENT.json"
        ) from exc
    if not isinstance(body, dict):
        raise typer.BadParameter(f"{event_file} must hold a JSON object", param_hint="EVENT.json")
    from_source = source or body.get("source")
    if not isinstance(from_source, str) or not from_source:
        raise ExplainRequestInvalid(
            "no source system",
            [Problem("source", "required", "give --source, or a `source` in the event")],
        )
    settings = _settings()
    w = wire(settings)
    recipients = recipients_to_explain(w.config, recipient or [], all_recipients)
    now = utcnow()
    fan_out = explain_submission(
        body,
        from_source,
        recipients,
        w.config,
        w.registry,
        w.rules.at(now),
        open_stores(settings).engine,
        now,
    )
    if as_json:
        print(fan_out.model_dump_json(indent=2))
        return
    console.print(
        f"{fan_out.event_type} from {fan_out.source}, decided at {fan_out.decided_at:%Y-%m-%d %H:%M:%S} "
        f"UTC; person {'known' if fan_out.subject_resolved else 'NOT linked to any record'}."
    )
    if not fan_out.authority.allowed:
        console.print(
            f"[red]REJECTED[/red] ({fan_out.authority.code}): {fan_out.authority.message}. "
            "The router would put it in events.rejected and tell nobody; nothing was sent.",
            soft_wrap=True,
        )
        raise typer.Exit(0)
    console.print(f"Authority: {fan_out.authority.message}.", soft_wrap=True)
    print_table(
        "What the hub would do (nothing was sent)",
        ("recipient", "decision", "agreement", "lawful basis", "fields", "why"),
        [
            (
                e.recipient,
                ("allow (to match)" if e.match_only else "allow")
                if e.decision == "allow"
                else "withhold",
                f"{e.agreement_id} ({e.agreement_version})" if e.agreement_id else "-",
                e.lawful_basis or "-",
                ", ".join(e.fields) or "-",
                "; ".join(f"{r.code.value}: {r.message}" for r in e.reasons)
                or ("no record there: matching fields only" if e.match_only else "-"),
            )
            for e in fan_out.recipients
        ],
    )


@review_app.command("list")
def review_list(
    status: Annotated[
        str, typer.Option(help="open, released (routed once linked) or retried")
    ] = "open",
    limit: Annotated[int, typer.Option(min=1, max=10_000)] = 100,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line")] = False,
) -> None:
    """Events waiting because no system's record is linked to their person (oldest first)."""
    from runtime.cli import _settings, print_table
    from runtime.wiring import open_stores

    if status not in ("open", "released", "retried"):
        raise typer.BadParameter("must be open, released or retried", param_hint="--status")
    items = open_stores(_settings()).review.find(status, limit)
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


@review_app.command("retry")
def review_retry(
    review_id: Annotated[int, typer.Argument(metavar="ID", help="The id `hub review list` shows")],
) -> None:
    """Re-publish a queued event with its original id (e.g. after linking its person)."""
    import asyncio

    from runtime.cli import _settings, console
    from runtime.review import retry
    from runtime.stack import running_bootstrap
    from runtime.wiring import open_stores

    settings = _settings()
    event_id = asyncio.run(
        retry(settings, running_bootstrap(settings), open_stores(settings).review, review_id)
    )
    console.print(
        f"Review item {review_id} re-published as event {event_id}: if its person is still not "
        "linked it comes back to the queue."
    )


def bench_policy_command(
    events: Annotated[int, typer.Option(min=10, help="Events per run (x 30 recipients)")] = 5000,
) -> None:
    """Benchmark the decision function on one core with 5, 50 and 500 agreements; prints figures."""
    from runtime.cli import console
    from runtime.policy_bench import run_policy_bench

    run_policy_bench(events, console)


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

    from hub.journal.store import JournalStore
    from hub.routing.originals import AuditOriginals
    from hub.subjects.store import SubjectStore
    from hub.timeutil import UK
    from runtime.cli import _settings, console
    from runtime.replay import replay_for
    from runtime.stack import running_bootstrap
    from runtime.wiring import open_stores, wire

    try:
        day = date.fromisoformat(since)
    except ValueError as exc:
        raise typer.BadParameter("expected YYYY-MM-DD", param_hint="--since") from exc
    settings = _settings()
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


def register(app: typer.Typer) -> None:
    app.add_typer(agreements_app, name="agreements")
    app.add_typer(review_app, name="review")
    app.command("explain")(explain_command)
    app.command("bench-policy")(bench_policy_command)
    app.command("replay")(replay_command)
