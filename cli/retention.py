"""`hub retention purge [--dry-run]`: purge personal values past each store's retention."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from hub.timeutil import utcnow

app = typer.Typer(
    help="Purge personal values past their retention (journal, inbox, outbox, rejected...).",
    no_args_is_help=True,
)

WHAT = {
    "journal": "complete events (whole values) in the ingest journal",
    "inbox": "values of acknowledged inbox deliveries",
    "webhook": "webhook deliveries delivered or withheld",
    "rejected": "rejected events (whole values)",
    "quarantine": "records refused on internal topics (whole values)",
    "review": "review items released or retried (whole events)",
    "deceased": "deceased flags (subject status)",
    "service_record": "service record extracts not refreshed (identity matching)",
}


@app.command("purge")
def retention_purge(
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Count what would be purged; change nothing")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per store")] = False,
) -> None:
    """Purge each store past its retention (HUB_RETENTION_*_DAYS) and print the counts per
    store. Events still waiting for a final outcome are never purged."""
    from cli.common import console, hub_settings, print_table
    from hub.retention import RetentionPolicy, purge
    from runtime.wiring import open_stores

    settings = hub_settings()
    stores = open_stores(settings)
    try:
        results = purge(stores.engine, RetentionPolicy.from_settings(settings), utcnow(), dry_run)
    finally:
        stores.engine.dispose()
    if as_json:
        for r in results:
            print(
                json.dumps(
                    {
                        "store": r.store,
                        "before": r.before.isoformat(),
                        "purged": 0 if dry_run else r.count,
                        "would_purge": r.count if dry_run else 0,
                    }
                )
            )
        return
    verb = "would purge" if dry_run else "purged"
    print_table(
        f"Retention ({'dry run: nothing changed' if dry_run else 'purged'})",
        ("store", "what", "before", verb),
        [
            (r.store, WHAT[r.store], r.before.strftime("%Y-%m-%d %H:%M"), str(r.count))
            for r in results
        ],
    )
    console.print(f"{verb}: {sum(r.count for r in results)} in all")
