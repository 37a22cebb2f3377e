"""`hub match ...`: identity resolution: service record extracts, the match model, bulk matching,
clerical review, links and their undoing."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from cli.common import console, hub_settings, print_table
from hub.errors import HubError
from hub.identity.thresholds import Band, thresholds_for
from hub.settings import HubSettings
from hub.timeutil import utcnow

if TYPE_CHECKING:
    from sqlalchemy import Engine

app = typer.Typer(
    help="Identity resolution: service record extracts, the match model, bulk matching, review.",
    no_args_is_help=True,
)


class MatchCommandError(HubError):
    code = "match_failed"


def _open(settings: HubSettings, *, create: bool = False) -> Engine:
    """The hub's database: loading an extract may create it; everything else reads an existing one."""
    from runtime.wiring import open_stores

    return open_stores(settings, schema="create" if create else "read").engine


@app.command("load")
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

    settings = hub_settings()
    if system not in {s.id for s in _config(settings).systems}:
        raise MatchCommandError(f"there is no system {system!r} in systems.yaml")
    table = read_table(file.read_bytes(), file.name)
    rows = [
        {k: v for k, v in r.cells.items() if v is not None and k} for r in table.rows if not r.blank
    ]
    batch = parse_rows(rows, where=file.name)
    result = ServiceRecords(_open(settings, create=True)).apply(
        system, batch, utcnow(), full_refresh
    )
    console.print(
        f"{system}: {result.upserted} record(s) loaded, {result.deleted} deleted from {file.name}"
    )


def _config(settings: HubSettings) -> Any:
    from runtime.wiring import wire

    return wire(settings).config


@app.command("train")
def match_train(
    system: Annotated[str, typer.Argument(help="A service whose extract trains the model")],
    reference: Annotated[
        str | None, typer.Option(help="Reference system (default HUB_MATCH_REFERENCE_SYSTEM)")
    ] = None,
    max_pairs: Annotated[
        float, typer.Option(min=1, help="Pairs sampled for u probabilities")
    ] = 2e6,
) -> None:
    """Train the council's model from its own data (EM; u by random sampling) and keep it."""
    from hub.identity import splink_port
    from hub.identity.modelfile import save_model
    from hub.identity.store import ServiceRecords
    from runtime.matching import rows

    settings = hub_settings()
    records = ServiceRecords(_open(settings))
    ref = list(records.all(reference or settings.match_reference_system))
    svc = list(records.all(system))
    if not ref or not svc:
        raise MatchCommandError(
            "both extracts must be loaded first (`hub match load SYSTEM FILE`): "
            f"reference has {len(ref)} record(s), {system} has {len(svc)}"
        )
    params = splink_port.train(rows(ref), rows(svc), max_pairs=max_pairs, progress=console.print)
    version = save_model(settings.data_dir, params)
    console.print(f"model {version} trained on {len(ref)} x {len(svc)} records and kept")


@app.command("model")
def match_model(
    as_json: Annotated[
        bool, typer.Option("--json", help="The full parameters (Splink JSON)")
    ] = False,
) -> None:
    """Show the model in force: its version, prior and each comparison's levels and weights."""
    from hub.identity.model import MatchModel
    from hub.identity.modelfile import load_params

    settings = hub_settings()
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


@app.command("run")
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
    from runtime.matching import bulk_match

    settings = hub_settings()
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
        MatchStore(engine, settings.pseudonym_key.get_secret_value()).link(links, utcnow())
    print_table(
        f"{system}: matched in {result.seconds:.1f} s (model {version})",
        ("band", "records"),
        [
            ("linked" if not dry_run else "would link", str(counts[Band.AUTO])),
            ("for review", str(counts[Band.REVIEW])),
            ("unmatched", str(counts[Band.NONE])),
        ],
    )


@app.command("review")
def match_review(
    status: Annotated[
        str, typer.Option(help="open, not_sure, accepted, rejected or superseded")
    ] = "open",
) -> None:
    """Candidate pairs in the clerical band (decide them in the workbench or the API)."""
    from hub.identity.store import PAIR_STATUSES, MatchStore

    if status not in PAIR_STATUSES:
        raise typer.BadParameter(
            f"must be one of {', '.join(PAIR_STATUSES)}", param_hint="--status"
        )
    settings = hub_settings()
    pairs = MatchStore(_open(settings), settings.pseudonym_key.get_secret_value()).candidates(
        status
    )
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


@app.command("unlink")
def match_unlink(
    subject: Annotated[str, typer.Argument(help="The hub person")],
    system: Annotated[str, typer.Argument(help="The system whose record is unlinked")],
    by: Annotated[str, typer.Option(help="Who undoes the link (recorded)")],
) -> None:
    """Undo a link (automatic or human): logged with who undid it; lists the deliveries that
    went out under it, for IG."""
    from hub.identity.store import MatchStore
    from hub.identity.undo import deliveries_under

    settings = hub_settings()
    engine = _open(settings)
    secret = settings.pseudonym_key.get_secret_value()
    removed = MatchStore(engine, secret).unlink(subject, system, by, utcnow())
    if removed is None:
        raise MatchCommandError(f"{subject} has no link to {system} (see `hub match links`)")
    console.print(
        f"unlinked {system} record {removed.local_id} from {subject} "
        f"(linked {removed.linked_at:%Y-%m-%d %H:%M} by {removed.method})"
    )
    sent = deliveries_under(engine, secret, removed)
    print_table(
        f"Deliveries that went out under this link: {len(sent)}",
        ("delivery", "event", "type", "decided at", "outcome"),
        sent,
    )


@app.command("links")
def match_links(subject: Annotated[str, typer.Argument(help="The hub person")]) -> None:
    """A person's links with their provenance, and the link log."""
    from hub.audit.queries import PersonRef, person_known, resolve_person
    from hub.audit.search_names import person_problem
    from hub.identity.store import MatchStore, ServiceRecords
    from hub.unknown_names import SUMMARY, UnknownName

    if not subject.strip():
        raise typer.BadParameter("give the person's hub id (e.g. P-100234)", param_hint="SUBJECT")
    settings = hub_settings()
    secret = settings.pseudonym_key.get_secret_value()
    engine = _open(settings)
    store = MatchStore(engine, secret)
    person = PersonRef(hub_id=subject)
    links = store.links_of(subject)
    known = (  # linked, in the reference extract, or named by any event or transfer
        links
        or ServiceRecords(engine).get(settings.match_reference_system, subject) is not None
        or person_known(engine, resolve_person(engine, secret, person))
    )
    if not known:
        raise UnknownName(SUMMARY, [person_problem(person)])
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
            for lk in links
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


@app.command("purge")
def match_purge(
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Count only")] = False,
) -> None:
    """Retention: delete extract records not refreshed for HUB_RETENTION_SERVICE_RECORD_DAYS."""
    from hub.identity.store import ServiceRecords

    settings = hub_settings()
    before = utcnow() - timedelta(days=settings.retention_service_record_days)
    n = ServiceRecords(_open(settings)).purge(before, dry_run)
    console.print(f"{n} service record(s) {'would be ' if dry_run else ''}purged")
