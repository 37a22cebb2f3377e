"""`hub`: the command line. The composition root: the only place that wires hub, agents and connectors."""

from __future__ import annotations

import json
import signal
import sys
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from hub.errors import HubError
from hub.logs import configure_logging
from hub.settings import HubSettings, load_settings
from hub.timeutil import utcnow
from runtime import cli_connectors

app = typer.Typer(
    name="hub",
    help="Tell-It-Once Hub: tell the council once; every entitled service is told, and IG can prove it.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
config_app = typer.Typer(
    help="Check the systems and agreements configuration.", no_args_is_help=True
)
keys_app = typer.Typer(help="API keys for systems.", no_args_is_help=True)
app.add_typer(config_app, name="config")
app.add_typer(keys_app, name="keys")
rejected_app = typer.Typer(
    help="Events the hub rejected: list them, replay them once fixed.", no_args_is_help=True
)
schemas_app = typer.Typer(help="The Avro event contracts in schemas/avro.", no_args_is_help=True)
app.add_typer(rejected_app, name="rejected")
app.add_typer(schemas_app, name="schemas")
app.add_typer(cli_connectors.connectors_app, name="connectors")
app.add_typer(cli_connectors.connector_app, name="connector")
app.command("import")(cli_connectors.import_command)
app.command("bench-import")(cli_connectors.bench_import_command)

# Piped output (CI logs, files) gets a wide console so tables and paths are not folded.
console = Console() if sys.stdout.isatty() else Console(width=200)
err = Console(stderr=True, soft_wrap=True)


def print_table(title: str, columns: Sequence[str], rows: Iterable[Sequence[str]]) -> None:
    table = Table(title=title)
    for column in columns:
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(*row)
    console.print(table)


def safe_url(url: str) -> str:
    """A database URL fit to print: the password masked."""
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def _settings() -> HubSettings:
    from hub.secrets import embedded_settings

    settings = load_settings()
    configure_logging(settings.log_level)
    # embedded default: the keys kept in the data dir (made on first run); external: as set
    return embedded_settings(settings) if settings.embedded_broker else settings


@app.command()
def up() -> None:
    """Run the whole stack (embedded broker unless HUB_KAFKA_BOOTSTRAP is set) until Ctrl-C."""
    from runtime.stack import Stack

    settings = _settings()
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
            f"{safe_url(stack.settings.effective_database_url)}\nLogs in {stack.log_dir}. Press Ctrl-C to stop."
        )
        while not stopping:
            stack.supervise()  # restarts a part that died, with backoff; too many: StackError
            time.sleep(0.3)
        console.print("Stopping...")
    finally:
        stack.stop()
    console.print("Stopped.")


@app.command()
def demo() -> None:
    """Start the embedded stack, play the scripted scenario, print the audit table, stop."""
    from runtime.demo import run_demo

    settings = load_settings()
    configure_logging("WARNING")  # the demo's story is the printed tables, not the logs
    run_demo(settings, console if console.is_terminal else Console(width=150))


@app.command()
def worker() -> None:
    """Run the faust worker (router, delivery and audit-writer agents) against HUB_KAFKA_BOOTSTRAP."""
    from runtime.worker import run_worker

    run_worker(_settings())


@app.command()
def api() -> None:
    """Run the HTTP API (ingest, inbox, health) against HUB_KAFKA_BOOTSTRAP."""
    from runtime.api import run_api

    run_api(_settings())


@app.command()
def init() -> None:
    """Create every topic (with the configured partitions) and migrate the database, then exit."""
    import asyncio

    from hub.broker.admin import ensure_topics
    from runtime.wiring import open_stores, wire

    settings = _settings()
    settings.require_bootstrap("hub init")
    w = wire(settings)
    asyncio.run(ensure_topics(settings, w.topics()))
    open_stores(settings).engine.dispose()
    console.print(f"{len(w.topics())} topics ready; database migrated.")


def api_base_url(settings: HubSettings) -> str:
    """Where this host reaches the API the settings describe (a wildcard bind is loopback)."""
    host = settings.api_host
    if host in ("0.0.0.0", "", "::"):
        host = "127.0.0.1"
    elif ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"http://{host}:{settings.api_port}"


@app.command()
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
    """Exit 0 if the API reports ready (broker and database reachable), else print why and exit 1.

    With --worker: exit 0 if a worker on this host wrote its heartbeat within
    HUB_WORKER_STALE_AFTER_S seconds."""
    settings = _settings()
    if worker:
        import socket
        from datetime import timedelta

        from runtime.wiring import open_stores

        stores = open_stores(settings, run_migrations=False)
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


@config_app.command("check")
def config_check() -> None:
    """Validate systems.yaml, agreements/*.yaml and connectors.yaml; every problem with file, line and field."""
    from runtime.connectors import connector_defs
    from runtime.wiring import wire

    w = wire(_settings())
    connectors = connector_defs(w)  # connectors.yaml too
    console.print(
        f"OK: {len(w.config.systems)} systems, {len(w.config.agreements)} agreements, "
        f"{len(w.registry.event_types)} event types, {len(connectors)} source connector{'' if len(connectors) == 1 else 's'}."
    )


@rejected_app.command("list")
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
    rows = open_stores(_settings()).rejected.list(source, status, limit)
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


@rejected_app.command("replay")
def rejected_replay(
    rejected_id: Annotated[
        int, typer.Argument(metavar="ID", help="The id shown by `hub rejected list`")
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

    settings = _settings()
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


@app.command()
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
    rows = open_stores(_settings()).quality.summary(day, source)
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


@schemas_app.command("check")
def schemas_check(
    mode: Annotated[
        str | None,
        typer.Option(
            help="BACKWARD, FORWARD, FULL, their _TRANSITIVE forms, or NONE (default: HUB_SCHEMA_COMPATIBILITY)"
        ),
    ] = None,
) -> None:
    """Check every schema version against the earlier ones under the compatibility mode."""
    from hub.events.compatibility import CompatibilityMode, check_versions
    from hub.events.schemas import SchemaRegistry

    settings = _settings()
    try:
        chosen = CompatibilityMode((mode or settings.schema_compatibility).upper())
    except ValueError as exc:
        raise typer.BadParameter(
            ", ".join(m.value for m in CompatibilityMode), param_hint="--mode"
        ) from exc
    registry = SchemaRegistry.from_dir(settings.schema_dir)
    problems = []
    for event_type in sorted(registry.event_types):
        versions = [(s.version, s.raw) for s in registry.versions(event_type)]
        problems += check_versions(event_type, versions, chosen)
    if problems:
        for problem in problems:
            err.print(f"[red]incompatible:[/red] {problem}", highlight=False)
        raise typer.Exit(1)
    total = sum(len(registry.versions(t)) for t in registry.event_types)
    console.print(
        f"OK: {total} schema versions of {len(registry.event_types)} event types are {chosen.value} compatible."
    )


@app.command("bench-metrics")
def bench_metrics(
    audit_rows: Annotated[
        int, typer.Option(help="Audit rows to fill the database with")
    ] = 1_000_000,
    database_url: Annotated[
        str | None,
        typer.Option(
            help="A throw-away PostgreSQL database to fill instead of a fresh SQLite file"
        ),
    ] = None,
    baseline_runs: Annotated[int, typer.Option(help="Runs of the old per-scrape queries")] = 3,
) -> None:
    """Time a /metrics scrape (p50/p99 of 20) with N audit rows, beside the old per-scrape queries."""
    from runtime.metrics_bench import run_metrics_bench

    configure_logging("WARNING")
    run_metrics_bench(_settings(), audit_rows, database_url, baseline_runs, console)


@app.command("bench-codec")
def bench_codec(events: Annotated[int, typer.Option(help="Records per run")] = 50_000) -> None:
    """Avro encode+decode of an event (envelope + address.changed) on one core, beside pydantic validation."""
    from hub.events.schemas import SchemaRegistry
    from runtime.codec_bench import run_codec_bench

    run_codec_bench(SchemaRegistry.from_dir(_settings().schema_dir), events, console)


@app.command("bench-inbox")
def bench_inbox(
    database_url: Annotated[
        str | None,
        typer.Option(
            help="Database to run on (a throw-away one); default: a temporary SQLite file"
        ),
    ] = None,
    deliveries: Annotated[
        int, typer.Option(min=300, help="Backlog, and deliveries written")
    ] = 10_000,
) -> None:
    """Pull inbox read rate (paging reader, fetch + ack) with 3 writers, beside a plain SELECT."""
    from runtime.inbox_bench import run_inbox_bench

    _settings()
    run_inbox_bench(database_url, deliveries, console)


@keys_app.command("new")
def keys_new(system: Annotated[str, typer.Argument(help="System id the key is for")]) -> None:
    """Print a new random API key and the api_key_sha256 line to put in systems.yaml."""
    from hub.api.auth import hash_key, new_key

    key = new_key()
    console.print(f"API key for {system} (shown once; give it to the system's owner):\n  {key}")
    console.print(f"In config/systems.yaml, under id: {system}:\n  api_key_sha256: {hash_key(key)}")


@app.command()
def bench(
    events: Annotated[int, typer.Option(help="Events to push per run")] = 5000,
    recipients: Annotated[
        str, typer.Option(help="Comma-separated fan-out widths K to measure")
    ] = "1,5",
    rate: Annotated[
        int, typer.Option(help="Paced rate (events/s) for the latency run; 0 skips it")
    ] = 1000,
    workers: Annotated[
        str,
        typer.Option(
            help="Scale-out instead: comma-separated worker counts (e.g. 1,2) on PostgreSQL, "
            "at the largest K of --recipients"
        ),
    ] = "",
    database_url: Annotated[
        str | None,
        typer.Option(help="PostgreSQL for --workers (default: a throw-away local server)"),
    ] = None,
) -> None:
    """Benchmark the hub against a raw aiokafka fan-out baseline on the same broker; prints figures."""
    from runtime.bench import run_bench, run_workers_bench

    ks = [int(k) for k in recipients.split(",") if k.strip()]
    if workers:
        counts = [int(w) for w in workers.split(",") if w.strip()]
        run_workers_bench(_settings(), events, max(ks), counts, database_url, console)
        return
    run_bench(_settings(), events, ks, rate, console)


# `hub audit ...`, `hub systems add`, `hub keys rotate`, `hub bench-audit` (issue 6)
from runtime import cli_audit  # noqa: E402  (registers on the app defined above)

cli_audit.register(app, keys_app)

# `hub agreements ...`, `hub explain`, `hub review ...` (issue 4)
from runtime import cli_policy  # noqa: E402  (registers on the app defined above)

cli_policy.register(app)

# `hub deliveries dead|redrive|endpoints|enable`, `hub bench-webhooks` (issue 5)
from runtime import cli_deliveries  # noqa: E402  (registers on the app defined above)

cli_deliveries.register(app)

# `hub kafka acls` (issue 11): the Kafka ACLs of each hub principal
from runtime.kafka_acls import kafka_app  # noqa: E402

app.add_typer(kafka_app, name="kafka")

# `hub retention purge [--dry-run]` (issue 12)
from runtime import cli_retention  # noqa: E402  (registers on the app defined above)

cli_retention.register(app)

# `hub quarantine list` (issue 12: records on internal topics the hub did not sign)
from runtime import cli_quarantine  # noqa: E402  (registers on the app defined above)

cli_quarantine.register(app)

# `hub db upgrade|current|history|downgrade` (issue 11)
from runtime import cli_db  # noqa: E402  (registers on the app defined above)

cli_db.register(app)


def main() -> None:
    try:
        app()
    except HubError as exc:
        err.print(f"[bold red]error:[/bold red] {exc}", highlight=False)
        sys.exit(2)
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()
