"""`hub events rejected|replay|quality`: events as they reached the hub: the ones it rejected
(list them, replay them once fixed) and the data quality per source system."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from cli.common import console, hub_settings, print_table
from hub.timeutil import utcnow
from hub.unknown_names import COUNTED_NONE, REJECTED_NONE, SOURCE, refuse_unknown

if TYPE_CHECKING:
    from hub.settings import HubSettings

app = typer.Typer(
    help="Events as they arrived: the rejected ones (list, replay once fixed), data quality.",
    no_args_is_help=True,
)


def _source_ids(settings: HubSettings) -> list[str]:
    """The source systems in the configuration (read only when a list found nothing)."""
    from runtime.wiring import wire

    return [s.id for s in wire(settings).config.sources]


@app.command("rejected")
def rejected_list(
    source: Annotated[str | None, typer.Option(help="Only events from this source system")] = None,
    status: Annotated[str | None, typer.Option(help="rejected or replayed")] = None,
    limit: Annotated[
        int, typer.Option(min=1, max=10_000, help="At most this many, newest first")
    ] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line")] = False,
) -> None:
    """Records that reached the hub but were rejected (undecodable, unknown source, invalid)."""
    from runtime.wiring import open_stores

    if status is not None and status not in ("rejected", "replayed"):
        raise typer.BadParameter("must be rejected or replayed", param_hint="--status")
    settings = hub_settings()
    store = open_stores(settings).rejected
    rows = store.list(source, status, limit)
    if not rows:
        refuse_unknown(
            "source", source, SOURCE, REJECTED_NONE, lambda: _source_ids(settings), store.has_source
        )
    if as_json:
        for r in rows:
            print(r.model_dump_json(exclude={"key", "value", "headers"}))
        return
    print_table(
        f"Rejected events ({len(rows)})",
        (
            "id",
            "rejected",
            "source",
            "type",
            "event id",
            "from",
            "rules",
            "reason",
            "status",
        ),
        [
            (
                str(r.seq),
                r.rejected_at.strftime("%Y-%m-%d %H:%M:%S"),
                r.source or "-",
                r.event_type or "-",
                r.event_id or "-",
                f"{r.original_topic}/{r.original_partition}@{r.original_offset}",
                ", ".join(r.rules),
                r.reason,
                r.status if r.status != "replayed" else f"replayed as {r.replayed_as}",
            )
            for r in rows
        ],
    )


@app.command("replay")
def rejected_replay(
    rejected_id: Annotated[
        int, typer.Argument(metavar="ID", help="The id shown by `hub events rejected`")
    ],
    fixed: Annotated[
        Path | None,
        typer.Option(
            "--fixed",
            help="A JSON file with the corrected event, as POST /v1/events takes it. "
            "Without it the record is re-published as it was (after a configuration fix).",
        ),
    ] = None,
) -> None:
    """Re-publish a rejected event once fixed; it must now pass the router's checks."""
    import asyncio

    from runtime.rejected import replay
    from runtime.stack import running_bootstrap
    from runtime.wiring import open_stores, wire

    settings = hub_settings()
    body = None
    if fixed is not None:
        try:
            body = json.loads(fixed.read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise typer.BadParameter(f"cannot read {fixed}: {exc}", param_hint="--fixed") from exc
        if not isinstance(body, dict):
            raise typer.BadParameter(f"{fixed} must hold a JSON object", param_hint="--fixed")
    event_id = asyncio.run(
        replay(
            settings,
            running_bootstrap(settings),
            wire(settings),
            open_stores(settings).rejected,
            rejected_id,
            body,
            utcnow(),
        )
    )
    console.print(f"Rejected event {rejected_id} re-published as event {event_id}.")


@app.command("quality")
def quality(
    since: Annotated[
        str | None, typer.Option(help="First day counted, YYYY-MM-DD (UK date)")
    ] = None,
    source: Annotated[str | None, typer.Option(help="Only this source system")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line")] = False,
) -> None:
    """Data quality: events accepted and rejected per source system, event type and rule."""
    from datetime import date

    from runtime.wiring import open_stores

    try:
        day = date.fromisoformat(since) if since else None
    except ValueError as exc:
        raise typer.BadParameter("expected YYYY-MM-DD", param_hint="--since") from exc
    settings = hub_settings()
    counters = open_stores(settings).quality
    rows = counters.summary(day, source)
    if not rows:
        refuse_unknown(
            "source", source, SOURCE, COUNTED_NONE, lambda: _source_ids(settings),
            counters.has_source,
        )  # fmt: skip
    if as_json:
        for row in rows:
            print(row.model_dump_json())
        return
    print_table(
        "Data quality" + (f" since {day}" if day else ""),
        ("source", "event type", "outcome", "rule", "count"),
        [
            (row.source or "-", row.event_type or "-", row.outcome, row.rule or "-", str(row.count))
            for row in rows
        ],
    )
