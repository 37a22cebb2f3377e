"""`hub quarantine list`: records on internal topics the hub did not sign, refused and kept.
Registered on the `hub` app by runtime/cli.py."""

from __future__ import annotations

import json
from typing import Annotated

import typer

quarantine_app = typer.Typer(
    help="Records refused on the hub's internal topics (not signed by the hub, or altered).",
    no_args_is_help=True,
)


@quarantine_app.command("list")
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

    from hub.rejected.quarantine import QuarantineStore
    from runtime.cli import _settings, console, print_table
    from runtime.wiring import open_stores

    rows = QuarantineStore(open_stores(_settings()).engine).list(topic, limit)
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


def register(app: typer.Typer) -> None:
    app.add_typer(quarantine_app, name="quarantine")
