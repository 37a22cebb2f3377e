"""`hub up|demo|init|health`: start the hub, play the demo, prepare a deployment, ask if it is up.

Registered at the top of the tree: they are the first commands a newcomer and an operator type.
"""

from __future__ import annotations

import json
import signal
import time
from typing import Annotated

import typer
from rich.console import Console

from cli.common import api_base_url, console, console_logging, err, hub_settings, safe_url
from hub.settings import load_settings
from hub.timeutil import utcnow


def register(app: typer.Typer, panel: str) -> None:
    """Put up, demo, init and health at the top of `app`, in that order."""
    for command in (up, demo, init, health):
        app.command(rich_help_panel=panel)(command)


def up() -> None:
    """Run the whole stack until Ctrl-C (embedded broker unless HUB_KAFKA_BOOTSTRAP is set)."""
    from runtime.stack import Stack

    settings = hub_settings()
    stopping = False

    def _stop(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    stack = Stack(settings, notify=lambda message: console.print(message, highlight=False))
    try:
        stack.start()
        broker = "embedded" if stack.broker else "external"
        console.print(
            f"Tell-It-Once Hub is up: API {stack.api_url} (docs at {stack.api_url}/docs), "
            f"{broker} Kafka at {stack.settings.kafka_bootstrap}, database "
            f"{safe_url(stack.settings.effective_database_url)}"
            + (f", {stack.settings.workers} workers" if stack.settings.workers > 1 else "")
            + f"\nLogs in {stack.log_dir}. Press Ctrl-C to stop."
        )
        while not stopping:
            stack.supervise()  # restarts a part that died, with backoff; too many: StackError
            time.sleep(0.3)
        console.print("Stopping...")
    finally:
        stack.stop()
    console.print("Stopped.")


def demo() -> None:
    """Start the embedded stack, play the scripted scenario, print the audit table, stop."""
    from runtime.demo import run_demo

    settings = load_settings()
    console_logging("WARNING", settings)  # the demo's story is the printed tables, not the logs
    run_demo(settings, console if console.is_terminal else Console(width=150))


def init() -> None:
    """Create every topic and migrate the database, then exit (before a deployment starts)."""
    import asyncio

    from hub.broker.admin import ensure_topics
    from runtime.wiring import open_stores, wire

    settings = hub_settings()
    settings.require_bootstrap("hub init")
    w = wire(settings)
    asyncio.run(ensure_topics(settings, w.topics()))
    open_stores(settings, schema="create").engine.dispose()
    console.print(f"{len(w.topics())} topics ready; database migrated.")


def health(
    url: Annotated[
        str | None,
        typer.Option(help="Base URL of the hub API [default: from HUB_API_HOST and HUB_API_PORT]"),
    ] = None,
    worker: Annotated[
        bool,
        typer.Option("--worker", help="Check this host's worker heartbeat in the database instead"),
    ] = False,
) -> None:
    """Exit 0 if the API reports ready (broker and database reachable), else say why; exit 1.

    With --worker: exit 0 if a worker on this host wrote its heartbeat within
    HUB_WORKER_STALE_AFTER_S seconds."""
    settings = hub_settings()
    if worker:
        import socket
        from datetime import timedelta

        from runtime.wiring import open_stores

        stores = open_stores(settings)
        try:
            fresh = stores.heartbeat.fresh_on_host(
                socket.gethostname(), utcnow(), timedelta(seconds=settings.worker_stale_after_s)
            )
        finally:
            stores.engine.dispose()
        if not fresh:
            err.print(
                f"not alive: no worker heartbeat from {socket.gethostname()} in the last "
                f"{settings.worker_stale_after_s:g}s"
            )
            raise typer.Exit(1)
        console.print("worker alive")
        return
    import httpx

    if url is None and settings.api_port == 0:  # any free port: ask the running `hub up`
        from runtime.stack import running_file

        try:
            url = str(json.loads(running_file(settings).read_text())["api_url"])
        except (OSError, ValueError, KeyError):
            err.print("not ready: HUB_API_PORT is 0 and no `hub up` runs here; give --url")
            raise typer.Exit(1) from None
    base = (url or api_base_url(settings)).rstrip("/")
    try:
        response = httpx.get(f"{base}/readyz", timeout=5)
    except httpx.HTTPError as exc:
        err.print(f"not ready: {base} did not answer ({exc})")
        raise typer.Exit(1) from exc
    if response.status_code != 200:
        try:
            reasons = response.json().get("reasons") or {}
            why = "; ".join(f"{k}: {v}" for k, v in reasons.items()) or response.text
        except ValueError:
            why = response.text
        err.print(f"not ready: {why}")
        raise typer.Exit(1)
    console.print("ready")
