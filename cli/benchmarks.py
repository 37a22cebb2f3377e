"""`hub bench codec|policy|flow|audit|import|webhooks|inbox|metrics|match`: each benchmark measures one
part of the hub beside a plain baseline and prints a table (`make bench` runs the usual set)."""

from __future__ import annotations

from typing import Annotated

import typer

from cli.common import console, hub_settings

app = typer.Typer(
    help="Benchmarks: each part of the hub beside a plain baseline; prints figures.",
    no_args_is_help=True,
)


def _counts(text: str, option: str) -> list[int]:
    """A comma-separated list of whole numbers, each at least 1 (fan-out widths, worker counts)."""
    parts = [k.strip() for k in text.split(",") if k.strip()]
    wrong = [k for k in parts if not k.isdigit() or int(k) < 1]
    if wrong or not parts:
        raise typer.BadParameter(
            f"{', '.join(repr(k) for k in wrong) or 'nothing'}: give whole numbers of at least 1, "
            "comma-separated (e.g. 1,5)",
            param_hint=option,
        )
    return [int(k) for k in parts]


@app.command("codec")
def bench_codec(
    events: Annotated[int, typer.Option(min=1, help="Records per run")] = 50_000,
) -> None:
    """Avro encode+decode of an event (envelope + address.changed) on one core, beside pydantic validation."""
    from bench.codec import run_codec_bench
    from hub.events.schemas import SchemaRegistry

    run_codec_bench(SchemaRegistry.from_dir(hub_settings().schema_dir), events, console)


@app.command("idle")
def bench_idle(
    seconds: Annotated[
        float, typer.Option(min=1, help="How long each stack is left idle once ready")
    ] = 20,
) -> None:
    """The CPU an idle hub uses (its agents resting) beside the same stack never resting."""
    from bench.idle import run_idle_bench

    run_idle_bench(hub_settings(), seconds, console)


@app.command("policy")
def bench_policy(
    events: Annotated[int, typer.Option(min=10, help="Events per run (x 30 recipients)")] = 5000,
) -> None:
    """The decision function on one core with 5, 50 and 500 agreements."""
    from bench.policy import run_policy_bench

    run_policy_bench(events, console)


def _database_url(value: str | None) -> str | None:
    """A --database-url the hub can use, else refused in the option's terms (an unparsable one
    was reported as the data directory's SQLite file failing)."""
    from hub.settings import database_url_problem

    problem = database_url_problem(value) if value else None
    if problem:
        raise typer.BadParameter(problem)
    return value


# A benchmark's PostgreSQL (flow --workers, audit): a server of the user's, else a throw-away one
PostgresUrl = Annotated[
    str | None,
    typer.Option(
        help="PostgreSQL server to use (default: a throw-away local server)",
        callback=_database_url,
    ),
]


@app.command("flow")
def bench_flow(
    events: Annotated[
        int,
        typer.Option(
            min=1,
            help="Events to push per run (each baseline too): at 5,000 a raw run at K=1 lasts a "
            "fifth of a second, and its rate spread twofold from one round to the next",
        ),
    ] = 20_000,
    recipients: Annotated[
        str, typer.Option(help="Comma-separated fan-out widths K to measure")
    ] = "1,5",
    rate: Annotated[
        int, typer.Option(min=0, help="Paced rate (events/s) for the latency run; 0 skips it")
    ] = 1000,
    workers: Annotated[
        str,
        typer.Option(
            help="Scale-out instead: comma-separated worker counts (e.g. 1,2) on PostgreSQL, "
            "at the largest K of --recipients"
        ),
    ] = "",
    rounds: Annotated[
        int,
        typer.Option(
            min=1,
            help="Measure in turn this many times and judge the median of the rounds' ratios: "
            "the hub, the raw fan-out and the raw durable loop (with --workers: the counts, "
            "1, 2, 1, 2, ...)",
        ),
    ] = 3,
    database_url: PostgresUrl = None,
) -> None:
    """The whole hub (ingest to delivery) beside a raw aiokafka fan-out and a raw durable loop
    on the same broker; or, with --workers, 1, 2, ... workers on PostgreSQL."""
    from bench.flow import run_bench, run_workers_bench

    ks = _counts(recipients, "--recipients")
    if workers:
        counts = _counts(workers, "--workers")
        run_workers_bench(hub_settings(), events, max(ks), counts, database_url, console, rounds)
        return
    run_bench(hub_settings(), events, ks, rate, console, rounds)


@app.command("audit")
def bench_audit(
    rows: Annotated[int, typer.Option(min=1, help="Audit rows to build")] = 1_000_000,
    batch: Annotated[int, typer.Option(min=1, help="Rows per writer transaction")] = 5000,
    databases: Annotated[
        str,
        typer.Option(
            help="Where to time the writer: sqlite, postgresql or both, comma-separated "
            "(subject access and verify are timed on SQLite)"
        ),
    ] = "sqlite,postgresql",
    database_url: PostgresUrl = None,
) -> None:
    """Build N audit rows on SQLite and on PostgreSQL; time the writer beside a raw insert of the
    same rows, then (SQLite) a subject access query and verify."""
    from bench.audit import DATABASES, run_audit_bench

    chosen = [d.strip() for d in databases.split(",") if d.strip()]
    unknown = [d for d in chosen if d not in DATABASES]
    if unknown or not chosen:
        raise typer.BadParameter(
            f"{', '.join(unknown) or 'nothing'}: give sqlite, postgresql or both "
            "(e.g. --databases sqlite,postgresql)",
            param_hint="--databases",
        )
    hub_settings()  # logging set up as for every command
    run_audit_bench(rows, batch, chosen, database_url, console)


@app.command("import")
def bench_import(
    rows: Annotated[int, typer.Option(min=1, help="Rows in the generated CSV")] = 100_000,
) -> None:
    """Import a generated CSV to a fresh embedded broker: rows/s end to end beside raw produce."""
    from bench.import_file import run_import_bench

    run_import_bench(hub_settings(), rows, console)


@app.command("webhooks")
def bench_webhooks(
    recipients: Annotated[str, typer.Option(help="Comma-separated fan-out widths")] = "1,5,20",
    deliveries: Annotated[int, typer.Option(min=10, help="Deliveries per recipient")] = 500,
) -> None:
    """Webhook fan-out on loopback receivers beside raw httpx POSTs."""
    from bench.webhooks import run_webhook_bench

    run_webhook_bench(hub_settings(), _counts(recipients, "--recipients"), deliveries, console)


@app.command("inbox")
def bench_inbox(
    database_url: Annotated[
        str | None,
        typer.Option(
            help="Database to run on (a throw-away one); default: a temporary SQLite file",
            callback=_database_url,
        ),
    ] = None,
    deliveries: Annotated[
        int, typer.Option(min=300, help="Backlog, and deliveries written")
    ] = 10_000,
) -> None:
    """Pull inbox read rate (paging reader, fetch + ack) with 3 writers, beside a plain SELECT."""
    from bench.inbox import run_inbox_bench

    hub_settings()
    run_inbox_bench(database_url, deliveries, console)


@app.command("metrics")
def bench_metrics(
    audit_rows: Annotated[
        int, typer.Option(min=1, help="Audit rows to fill the database with")
    ] = 1_000_000,
    database_url: Annotated[
        str | None,
        typer.Option(
            help="A throw-away PostgreSQL database to fill instead of a fresh SQLite file",
            callback=_database_url,
        ),
    ] = None,
    baseline_runs: Annotated[
        int, typer.Option(min=1, help="Runs of the old per-scrape queries")
    ] = 3,
) -> None:
    """Time a /metrics scrape (p50/p99 of 20) with N audit rows, beside the old per-scrape queries."""
    from bench.metrics import run_metrics_bench
    from cli.common import console_logging

    settings = hub_settings()
    console_logging("WARNING", settings)
    run_metrics_bench(settings, audit_rows, database_url, baseline_runs, console)


@app.command("match")
def bench_match(
    people: Annotated[int, typer.Option(min=1, help="People in the reference extract")] = 100_000,
    recipients: Annotated[
        int, typer.Option(min=1, help="Recipients an event is scored against")
    ] = 5,
    events: Annotated[int, typer.Option(min=1, help="Events scored one by one")] = 500,
    seed: Annotated[int, typer.Option(help="Generator seed")] = 16,
    events_only: Annotated[
        bool, typer.Option("--events-only", help="Only the one-event timings (no bulk runs)")
    ] = False,
    train_people: Annotated[
        int | None,
        typer.Option(min=1, help="Train on this many people of each extract (default: all)"),
    ] = None,
) -> None:
    """Identity resolution on a generated UK-like population with known truth: precision,
    recall, review share; bulk and one-event timings (p50/p99 beside a plain baseline)."""
    from bench.match import run_match_bench

    hub_settings()  # logging set up as for every command
    run_match_bench(people, recipients, events, seed, console, events_only, train_people)
