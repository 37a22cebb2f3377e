"""`hub agreements check|list|explain`: the data sharing agreements, and what the policy engine
would do with an event now."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from hub.timeutil import uk_date, utcnow

app = typer.Typer(
    help="Data sharing agreements: check, list (with what needs review), explain a decision.",
    no_args_is_help=True,
)


@app.command("check")
def agreements_check(
    config_dir: Annotated[
        Path | None,
        typer.Argument(help="The configuration directory (default: HUB_CONFIG_DIR)"),
    ] = None,
) -> None:
    """Validate systems.yaml and every agreement; each problem with file, line and field."""
    from cli.common import console, hub_settings
    from hub.config.loader import load_config
    from hub.events.schemas import SchemaRegistry

    settings = hub_settings()
    directory = config_dir or settings.config_dir
    config = load_config(directory, SchemaRegistry.from_dir(settings.schema_dir))
    active = sum(1 for a in config.agreements if a.status.value == "active")
    console.print(
        f"OK: {len(config.agreements)} agreements ({active} active) and "
        f"{len(config.systems)} systems in {directory}: no problems."
    )


@app.command("list")
def agreements_list(
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line")] = False,
) -> None:
    """Every agreement with its status and version; flags those past review-by or expiring soon."""
    from cli.common import hub_settings, print_table
    from hub.config.review import review_flags
    from runtime.wiring import wire

    config = wire(hub_settings()).config
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


@app.command("explain")
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
    from cli.common import console, hub_settings, print_table
    from hub.errors import ExplainRequestInvalid, Problem
    from hub.routing.explain_live import explain_submission, recipients_to_explain
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
    settings = hub_settings()
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
