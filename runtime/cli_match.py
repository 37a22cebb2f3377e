"""`hub match ...` (extracts, model, bulk matching, review, unlink) and `hub bench-match`.
Registered on the `hub` app by runtime/cli.py."""

from __future__ import annotations

import json
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from hub.errors import HubError
from hub.identity.bulk import BulkDecision, Candidate, decide_bulk
from hub.identity.normalise import PersonFields, features
from hub.identity.thresholds import Band, Thresholds, thresholds_for
from hub.settings import HubSettings
from hub.timeutil import utcnow

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from hub.identity.service import EventMatcher

match_app = typer.Typer(
    help="Identity resolution: service record extracts, the match model, bulk matching, review.",
    no_args_is_help=True,
)


class MatchCommandError(HubError):
    code = "match_failed"


def event_matcher(settings: HubSettings, engine: Engine) -> EventMatcher | None:
    """The router's matcher (None when matching is off)."""
    if not settings.match_enabled:
        return None
    from hub.identity.modelfile import ModelCache
    from hub.identity.service import EventMatcher
    from hub.identity.store import MatchStore, ServiceRecords

    return EventMatcher(
        ServiceRecords(engine),
        MatchStore(engine),
        ModelCache(settings.data_dir),
        settings.match_thresholds,
        settings.match_reference_system,
    )


def _rows(people: Sequence[PersonFields]) -> list[dict[str, str | None]]:
    return [features(p) | {"unique_id": p.local_id} for p in people]


@dataclass(frozen=True)
class BulkResult:
    decisions: list[BulkDecision]
    seconds: float


def bulk_match(
    params: dict[str, Any],
    reference: Sequence[PersonFields],
    service: Sequence[PersonFields],
    thresholds: Thresholds,
    threads: int = 2,
) -> BulkResult:
    from hub.identity import splink_port

    started = time.perf_counter()
    pairs = splink_port.predict(
        params, _rows(reference), _rows(service), threshold=min(0.05, thresholds.review)
    )
    decisions = decide_bulk(
        (Candidate(p.left_id, p.right_id, p.probability) for p in pairs),
        [p.local_id for p in service],
        thresholds,
    )
    return BulkResult(decisions, time.perf_counter() - started)


def _open(settings: HubSettings) -> Engine:
    from runtime.wiring import open_stores

    return open_stores(settings).engine


@match_app.command("load")
def match_load(
    system: Annotated[str, typer.Argument(help="The system whose extract this is")],
    file: Annotated[Path, typer.Argument(help="CSV or XLSX: local_id, given_names, ... columns")],
    full_refresh: Annotated[
        bool, typer.Option("--full-refresh", help="Delete the system's records the file lacks")
    ] = False,
) -> None:
    """Load a service's extract (the identifying fields of its people) from a CSV/XLSX file.
    Rows upsert by local_id; a `deleted` column (yes/true/1) removes a record."""
    from hub.connectors.tabular import read_table
    from hub.identity.extracts import parse_rows
    from hub.identity.store import ServiceRecords
    from runtime.cli import _settings, console

    settings = _settings()
    if system not in {s.id for s in _config(settings).systems}:
        raise MatchCommandError(f"there is no system {system!r} in systems.yaml")
    table = read_table(file.read_bytes(), file.name)
    rows = [
        {k: v for k, v in r.cells.items() if v is not None and k} for r in table.rows if not r.blank
    ]
    batch = parse_rows(rows, where=file.name)
    result = ServiceRecords(_open(settings)).apply(system, batch, utcnow(), full_refresh)
    console.print(
        f"{system}: {result.upserted} record(s) loaded, {result.deleted} deleted from {file.name}"
    )


def _config(settings: HubSettings) -> Any:
    from runtime.wiring import wire

    return wire(settings).config


@match_app.command("train")
def match_train(
    system: Annotated[str, typer.Argument(help="A service whose extract trains the model")],
    reference: Annotated[
        str | None, typer.Option(help="Reference system (default HUB_MATCH_REFERENCE_SYSTEM)")
    ] = None,
    max_pairs: Annotated[float, typer.Option(help="Pairs sampled for u probabilities")] = 2e6,
) -> None:
    """Train the council's model from its own data (EM; u by random sampling) and keep it."""
    from hub.identity import splink_port
    from hub.identity.modelfile import save_model
    from hub.identity.store import ServiceRecords
    from runtime.cli import _settings, console

    settings = _settings()
    records = ServiceRecords(_open(settings))
    ref = list(records.all(reference or settings.match_reference_system))
    svc = list(records.all(system))
    if not ref or not svc:
        raise MatchCommandError(
            "both extracts must be loaded first (`hub match load SYSTEM FILE`): "
            f"reference has {len(ref)} record(s), {system} has {len(svc)}"
        )
    params = splink_port.train(_rows(ref), _rows(svc), max_pairs=max_pairs, progress=console.print)
    version = save_model(settings.data_dir, params)
    console.print(f"model {version} trained on {len(ref)} x {len(svc)} records and kept")


@match_app.command("model")
def match_model(
    as_json: Annotated[
        bool, typer.Option("--json", help="The full parameters (Splink JSON)")
    ] = False,
) -> None:
    """Show the model in force: its version, prior and each comparison's levels and weights."""
    from hub.identity.model import MatchModel
    from hub.identity.modelfile import load_params
    from runtime.cli import _settings, console, print_table

    settings = _settings()
    params = load_params(settings.data_dir)
    if params is None:
        raise MatchCommandError("no model has been trained yet (`hub match train SYSTEM`)")
    if as_json:
        print(json.dumps(params, indent=1, sort_keys=True))
        return
    model = MatchModel.from_params(params)
    console.print(
        f"model {model.version}; probability two random records match: "
        f"{params['probability_two_random_records_match']:.3g}"
    )
    rows = []
    for comparison in params["comparisons"]:
        for level in comparison["comparison_levels"]:
            m, u = level.get("m_probability"), level.get("u_probability")
            rows.append(
                (
                    comparison["output_column_name"],
                    level.get("label_for_charts", ""),
                    f"{m:.4g}" if isinstance(m, float) else "-",
                    f"{u:.4g}" if isinstance(u, float) else "-",
                )
            )
    print_table("Comparisons", ("field", "level", "m", "u"), rows)


@match_app.command("run")
def match_run(
    system: Annotated[str, typer.Argument(help="The service whose whole extract is matched")],
    reference: Annotated[str | None, typer.Option(help="Reference system")] = None,
    event_type: Annotated[
        str, typer.Option(help="Whose thresholds apply (HUB_MATCH_THRESHOLDS)")
    ] = "*",
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Report only; link nothing")] = False,
) -> None:
    """Link a whole extract to the reference's people (a new service joining, a refresh):
    automatic links are written with provenance, the rest reported by band."""
    from hub.identity.model import MatchModel
    from hub.identity.modelfile import load_params
    from hub.identity.store import MatchStore, NewLink, ServiceRecords
    from runtime.cli import _settings, console, print_table

    settings = _settings()
    engine = _open(settings)
    params = load_params(settings.data_dir)
    if params is None:
        raise MatchCommandError("no model has been trained yet (`hub match train SYSTEM`)")
    version = MatchModel.from_params(params).version
    records = ServiceRecords(engine)
    console.print("reading extracts")
    ref = list(records.all(reference or settings.match_reference_system))
    svc = list(records.all(system))
    console.print(f"matching {len(svc)} {system} records against {len(ref)} people")
    limits = thresholds_for(event_type, settings.match_thresholds)
    result = bulk_match(params, ref, svc, limits)
    counts = {b: 0 for b in Band}
    links = []
    for d in result.decisions:
        counts[d.band] += 1
        if d.band is Band.AUTO and d.best is not None:
            links.append(
                NewLink(
                    subject=d.best.reference_id,
                    system=system,
                    local_id=d.record_id,
                    method="bulk",
                    probability=d.best.probability,
                    model_version=version,
                    agreeing=(),
                    decided_by=None,
                    event_id=f"bulk-{version}",
                )
            )
    if not dry_run:
        MatchStore(engine).link(links, utcnow())
    print_table(
        f"{system}: matched in {result.seconds:.1f} s (model {version})",
        ("band", "records"),
        [
            ("linked" if not dry_run else "would link", str(counts[Band.AUTO])),
            ("for review", str(counts[Band.REVIEW])),
            ("unmatched", str(counts[Band.NONE])),
        ],
    )


@match_app.command("review")
def match_review(
    status: Annotated[str, typer.Option(help="open, not_sure, accepted, rejected")] = "open",
) -> None:
    """Candidate pairs in the clerical band (decide them in the workbench or the API)."""
    from hub.identity.store import MatchStore
    from runtime.cli import _settings, print_table

    pairs = MatchStore(_open(_settings())).candidates(status)
    print_table(
        "Candidate pairs",
        ("seq", "event", "system", "record", "probability", "agreeing", "disagreeing"),
        [
            (
                str(c.seq),
                c.event_id,
                c.system,
                c.local_id,
                f"{c.probability:.4f}",
                ", ".join(f.field for f in c.fields if f.verdict in ("agree", "partial")),
                ", ".join(f.field for f in c.fields if f.verdict == "disagree"),
            )
            for c in pairs
        ],
    )


@match_app.command("unlink")
def match_unlink(
    subject: Annotated[str, typer.Argument(help="The hub person")],
    system: Annotated[str, typer.Argument(help="The system whose record is unlinked")],
    by: Annotated[str, typer.Option(help="Who undoes the link (recorded)")],
) -> None:
    """Undo a link (automatic or human): logged with who undid it; lists the deliveries that
    went out under it, for IG."""
    from hub.identity.store import MatchStore
    from hub.identity.undo import deliveries_under
    from runtime.cli import _settings, console, print_table

    settings = _settings()
    engine = _open(settings)
    removed = MatchStore(engine).unlink(subject, system, by, utcnow())
    if removed is None:
        raise MatchCommandError(f"{subject} has no link to {system} (see `hub match links`)")
    console.print(
        f"unlinked {system} record {removed.local_id} from {subject} "
        f"(linked {removed.linked_at:%Y-%m-%d %H:%M} by {removed.method})"
    )
    sent = deliveries_under(engine, settings.pseudonym_key.get_secret_value(), removed)
    print_table(
        f"Deliveries that went out under this link: {len(sent)}",
        ("delivery", "event", "type", "decided at", "outcome"),
        sent,
    )


@match_app.command("links")
def match_links(subject: Annotated[str, typer.Argument(help="The hub person")]) -> None:
    """A person's links with their provenance, and the link log."""
    from hub.identity.store import MatchStore
    from runtime.cli import _settings, print_table

    store = MatchStore(_open(_settings()))
    print_table(
        f"Links of {subject}",
        ("system", "record", "method", "probability", "model", "agreeing", "decided by"),
        [
            (
                lk.system,
                lk.local_id,
                lk.method,
                "" if lk.probability is None else f"{lk.probability:.5f}",
                lk.model_version or "",
                ", ".join(lk.agreeing),
                lk.decided_by or "",
            )
            for lk in store.links_of(subject)
        ],
    )
    print_table(
        "Link log",
        ("at", "action", "method", "system", "record", "by"),
        [
            (
                str(r["at"]),
                r["action"],
                r["method"],
                r["system"],
                r["local_id"],
                r["decided_by"] or "",
            )
            for r in store.log(subject)
        ],
    )


@match_app.command("purge")
def match_purge(
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Count only")] = False,
) -> None:
    """Retention: delete extract records not refreshed for HUB_RETENTION_SERVICE_RECORD_DAYS."""
    from hub.identity.store import ServiceRecords
    from runtime.cli import _settings, console

    settings = _settings()
    before = utcnow() - timedelta(days=settings.retention_service_record_days)
    n = ServiceRecords(_open(settings)).purge(before, dry_run)
    console.print(f"{n} service record(s) {'would be ' if dry_run else ''}purged")


def bench_match(
    people: Annotated[int, typer.Option(help="People in the reference extract")] = 100_000,
    recipients: Annotated[int, typer.Option(help="Recipients an event is scored against")] = 5,
    events: Annotated[int, typer.Option(help="Events scored one by one")] = 500,
    seed: Annotated[int, typer.Option(help="Generator seed")] = 16,
) -> None:
    """Benchmark identity resolution on a generated UK-like population with known truth:
    precision, recall, review share; bulk and one-event timings."""
    from hub.identity.bulk import accuracy
    from hub.identity.generator import generate
    from runtime.cli import console

    def say(text: str) -> None:
        console.print(text, markup=False, highlight=False)

    t0 = time.perf_counter()
    pop = generate(people, seed)
    say(
        f"generated {len(pop.reference)} reference and {len(pop.service)} service records "
        f"({len(pop.truth)} true pairs) in {time.perf_counter() - t0:.1f} s"
    )
    from hub.identity import splink_port

    t0 = time.perf_counter()
    params = splink_port.train(_rows(pop.reference), _rows(pop.service))
    train_s = time.perf_counter() - t0
    say(f"trained (EM, u by random sampling) in {train_s:.1f} s")
    settings_thresholds = HubSettings().match_thresholds
    for event_type in ("*", "death.notified"):
        limits = thresholds_for(event_type, settings_thresholds)
        result = bulk_match(params, pop.reference, pop.service, limits)
        acc = accuracy(result.decisions, pop.truth)
        say(
            f"[{event_type}] auto>={limits.auto_link} review>={limits.review}: "
            f"bulk {len(pop.reference)} x {len(pop.service)} in {result.seconds:.1f} s; "
            f"precision {acc.precision:.4f} ({acc.auto_correct}/{acc.auto}), "
            f"recall {acc.recall:.4f} ({acc.found}/{acc.true_pairs}), "
            f"review share {acc.review_share:.4f} ({acc.review}), unmatched {acc.unmatched}"
        )
    _bench_events(params, pop, recipients, events, seed, say)


def _bench_events(
    params: dict[str, Any],
    pop: Any,
    recipients: int,
    events: int,
    seed: int,
    say: Callable[[str], None],
) -> None:
    import random

    from hub.db.engine import make_engine, migrate
    from hub.identity.extracts import ExtractBatch
    from hub.identity.matcher import resolve
    from hub.identity.model import MatchModel
    from hub.identity.store import ServiceRecords

    model = MatchModel.from_params(params)
    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(f"sqlite:///{tmp}/bench.db")
        migrate(engine)
        records = ServiceRecords(engine)
        t0 = time.perf_counter()
        systems = [f"service-{i}" for i in range(recipients)]
        for system in systems:
            records.apply(system, ExtractBatch(tuple(pop.service), ()), utcnow())
        say(
            f"loaded {recipients} x {len(pop.service)} extract records in {time.perf_counter() - t0:.1f} s"
        )
        rng = random.Random(seed)
        held = {ref for ref in pop.truth.values()}
        probes = [p for p in pop.reference if p.local_id in held]
        times = []
        for person in rng.sample(probes, min(events, len(probes))):
            started = time.perf_counter()
            resolve(
                model, records, person, "address.changed", systems, HubSettings().match_thresholds
            )
            times.append((time.perf_counter() - started) * 1000)
        engine.dispose()
    times.sort()
    p99 = times[min(len(times) - 1, int(len(times) * 0.99))]
    say(
        f"one event against {recipients} recipients ({len(times)} events): "
        f"p50 {statistics.median(times):.1f} ms, p99 {p99:.1f} ms, max {times[-1]:.1f} ms"
    )


def match_context_for(settings: HubSettings, stores: Any) -> Any:
    """The API's identity context: extracts, candidate pairs, and the release of a held event
    (re-published as `hub review retry` does) once a pair is accepted."""
    from hub.api.match import MatchContext
    from hub.identity.store import MatchStore, ServiceRecords
    from runtime.review import RetryError, retry

    async def release(source: str, event_id: str) -> bool:
        item = stores.review.open_item(source, event_id)
        if item is None:
            return False
        try:
            await retry(settings, settings.kafka_bootstrap, stores.review, item.seq)
        except RetryError:
            return False
        return True

    return MatchContext(
        records=ServiceRecords(stores.engine),
        store=MatchStore(stores.engine),
        release=release,
        reference_system=settings.match_reference_system,
    )
