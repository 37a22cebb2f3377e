"""`hub connectors list|status|imports|pause|resume|import`: the source connectors, and a file
imported now. Running them is `hub run connectors`."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(
    help="Source connectors: list, status and lag, imports, pause, resume; import a file now.",
    no_args_is_help=True,
)


@app.command("import")
def import_command(
    file: Annotated[Path, typer.Argument(help="The CSV or XLSX file", exists=True, dir_okay=False)],
    source: Annotated[str, typer.Option(help="The source system the rows come from")],
    event_type: Annotated[
        str | None,
        typer.Option("--type", help="Event type (default: the source's file connector's)"),
    ] = None,
    connector: Annotated[
        str | None, typer.Option(help="Use this file connector's column mapping")
    ] = None,
    results: Annotated[
        Path | None,
        typer.Option(help="Where to write every row's outcome (default: FILE.results.csv)"),
    ] = None,
) -> None:
    """Import one file now: each row becomes an event; every row's outcome goes to FILE.results.csv.

    The column mapping is the source's file-drop connector's (connectors.yaml), or, with --type
    and no connector, columns named after the event's fields. Re-running an interrupted import
    resumes it; re-running a finished one publishes nothing again. Exits 1 when some rows were
    rejected, 2 when the file cannot be read at all.
    """
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    from cli.common import console, hub_settings
    from runtime.connectors import import_one
    from runtime.stack import running_bootstrap

    settings = hub_settings()
    bootstrap = running_bootstrap(settings)
    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=False,
    ) as progress:
        task = progress.add_task(f"Importing {file.name}", total=None)

        def on_progress(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        summary = asyncio.run(
            import_one(
                settings, bootstrap, file, source, event_type, connector, results, on_progress
            )
        )
    if summary.already_done:  # its counts are the earlier import's: not news
        console.print(
            f"{file.name} was imported before (same content): nothing published again. "
            f"Results: {summary.results_file}"
        )
        return
    if summary.resumed_from:
        console.print(f"Resumed after row {summary.resumed_from + 1} of an interrupted import.")
    console.print(
        f"{summary.rows} rows: {summary.published} published, {summary.rejected} rejected, "
        f"{summary.duplicates} duplicate, {summary.blank} blank. Results: {summary.results_file}"
    )
    if summary.ignored_columns:
        console.print(f"Columns not mapped (ignored): {', '.join(summary.ignored_columns)}")
    if summary.rejected:
        raise typer.Exit(1)


@app.command("list")
def connectors_list() -> None:
    """The connectors configured in connectors.yaml (validated: errors name file, line and field)."""
    from cli.common import hub_settings, print_table, safe_url
    from hub.connectors.config import ExtractFileDef, ExtractSqlDef, FileDropDef, SqlOutboxDef
    from runtime.connectors import connector_defs
    from runtime.wiring import wire

    settings = hub_settings()
    defs = connector_defs(wire(settings))
    rows = []
    for d in defs:
        if isinstance(d, FileDropDef):
            where, event_type = str(d.folder_in(settings.data_dir)), d.event_type
        elif isinstance(d, ExtractFileDef):
            where, event_type = str(d.folder_in(settings.data_dir)), "(extract)"
        elif isinstance(d, ExtractSqlDef):
            where, event_type = f"{safe_url(d.url)} {d.table}.{d.key_column}", "(extract)"
        elif isinstance(d, SqlOutboxDef):
            where, event_type = f"{safe_url(d.url)} {d.table}", "(per row)"
        else:
            where, event_type = f"{safe_url(d.url)} {d.table}.{d.key_column}", d.event_type
        rows.append((d.name, d.kind, d.source, event_type, where, "yes" if d.enabled else "no"))
    print_table(
        f"Connectors ({len(rows)})",
        ("name", "kind", "source", "event type", "reads", "enabled"),
        rows,
    )


@app.command("status")
def connectors_status(
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line")] = False,
) -> None:
    """Each connector's position, lag (oldest unpublished change), rows published and rejected."""
    from cli.common import hub_settings, print_table
    from hub.timeutil import utcnow
    from runtime.connectors import statuses

    now = utcnow()
    found = statuses(hub_settings())
    if as_json:
        for s in found:
            print(json.dumps({**s.model_dump(mode="json"), "lag_seconds": s.lag_seconds(now)}))
        return
    print_table(
        "Connector status",
        (
            "name",
            "kind",
            "state",
            "position",
            "published",
            "rejected",
            "pending",
            "lag",
            "last run",
            "last error",
        ),
        [
            (
                s.name,
                s.kind,
                "paused" if s.paused else "running",
                s.position or "-",
                str(s.published),
                str(s.rejected),
                str(s.pending),
                f"{s.lag_seconds(now):.0f}s",
                s.last_run_at.strftime("%Y-%m-%d %H:%M:%S") if s.last_run_at else "never",
                s.last_error or "-",
            )
            for s in found
        ],
    )


@app.command("imports")
def connectors_imports(
    limit: Annotated[
        int, typer.Option(min=1, max=10_000, help="At most this many, newest first")
    ] = 20,
) -> None:
    """Files imported (by a file drop or `hub connectors import`): rows done of total, published, rejected."""
    from cli.common import hub_settings, print_table
    from hub.connectors.store import ConnectorStore
    from runtime.wiring import open_stores

    found = ConnectorStore(open_stores(hub_settings()).engine).imports(limit)
    print_table(
        f"File imports ({len(found)})",
        (
            "file",
            "source",
            "event type",
            "rows done",
            "published",
            "rejected",
            "duplicates",
            "status",
            "started",
        ),
        [
            (
                i.file_name,
                i.source,
                i.event_type,
                f"{i.rows_done} of {i.rows_total}",
                str(i.published),
                str(i.rejected),
                str(i.duplicates),
                i.status,
                i.started_at.strftime("%Y-%m-%d %H:%M:%S"),
            )
            for i in found
        ],
    )


def _set_paused(name: str, paused: bool) -> None:
    from cli.common import console, hub_settings
    from runtime.connectors import set_paused

    set_paused(hub_settings(), name, paused)
    console.print(f"{name} {'paused' if paused else 'resumed'}.")


@app.command("pause")
def connectors_pause(name: Annotated[str, typer.Argument(help="Connector name")]) -> None:
    """Stop a connector taking new changes (it finishes its batch); its position is kept."""
    _set_paused(name, True)


@app.command("resume")
def connectors_resume(name: Annotated[str, typer.Argument(help="Connector name")]) -> None:
    """Let a paused connector carry on from its saved position."""
    _set_paused(name, False)
