"""`hub run worker|api|connectors`: one part of the hub in the foreground, as a container runs it
(`hub up` starts them all as child processes of its own)."""

from __future__ import annotations

from typing import Annotated

import typer

from cli.common import hub_settings

app = typer.Typer(
    help="Run one part in the foreground: worker, api, connectors (one per container).",
    no_args_is_help=True,
)


@app.command("worker")
def run_worker() -> None:
    """The faust worker (router, delivery, audit-writer agents) against HUB_KAFKA_BOOTSTRAP."""
    from runtime.process import run_part

    run_part("worker", hub_settings())


@app.command("api")
def run_api() -> None:
    """The HTTP API (ingest, inbox, audit, dashboard, health) against HUB_KAFKA_BOOTSTRAP."""
    from runtime.process import run_part

    run_part("api", hub_settings())


@app.command("connectors")
def run_connectors(
    names: Annotated[
        list[str] | None,
        typer.Argument(
            metavar="[NAME]...",
            help="Connector names from connectors.yaml (default: every enabled one)",
        ),
    ] = None,
    once: Annotated[
        bool, typer.Option("--once", help="One round (drain what is waiting), then exit")
    ] = False,
) -> None:
    """Source connectors (file drop, SQL polling, outbox) until SIGTERM or Ctrl-C, against
    HUB_KAFKA_BOOTSTRAP or a running `hub up`."""
    from runtime.process import run_part

    run_part("connectors", hub_settings(), names or (), once=once)
