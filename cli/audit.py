"""`hub audit ...`: the IG workbench on the command line: search transfers, subject access,
verify the chain, checkpoint, purge, and the reports (flows per agreement, withheld, failures,
consent)."""

from __future__ import annotations

import getpass
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from hub.timeutil import utcnow

if TYPE_CHECKING:
    from collections.abc import Sequence

    from hub.audit.search_names import SearchNames
    from hub.audit.store import AuditRow
    from hub.settings import HubSettings
    from runtime.wiring import Stores

app = typer.Typer(
    help="The audit trail: search, subject access, verify, checkpoint, purge.",
    no_args_is_help=True,
)

Purpose = Annotated[
    str | None,
    typer.Option(help="Why you are reading about this person (required; recorded in the log)"),
]
HubId = Annotated[str | None, typer.Option("--hub-id", help="The person's hub id")]
LocalId = Annotated[str | None, typer.Option("--local-id", help="The person's id in any system")]
System = Annotated[str | None, typer.Option(help="Whose local id it is (optional)")]


def _stores() -> Stores:
    from cli.common import hub_settings
    from runtime.wiring import open_stores

    return open_stores(hub_settings())


def _search_names(settings: HubSettings) -> SearchNames:
    """What a transfer search may name: the configuration and schemas (read only when a search
    found nothing)."""
    from hub.audit.search_names import SearchNames
    from runtime.wiring import wire

    w = wire(settings)
    return SearchNames.of(w.config, w.registry.event_types)


def _actor(given: str | None) -> str:
    return given or f"cli:{getpass.getuser()}"


def _day(value: str | None, option: str) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except ValueError as exc:
        raise typer.BadParameter("expected YYYY-MM-DD", param_hint=option) from exc


def _days(date_from: str | None, date_to: str | None) -> tuple[date | None, date | None]:
    """--from and --to: each a date, and not running backwards."""
    from hub.timeutil import check_days

    first, last = _day(date_from, "--from"), _day(date_to, "--to")
    check_days(first, last, "--from", "--to")
    return first, last


def _print_rows(rows: list[AuditRow], title: str) -> None:
    from cli.common import print_table

    print_table(
        title,
        ("seq", "decided", "event", "type", "source", "recipient", "outcome", "fields",
         "agreement", "reason"),
        [
            (
                str(r.seq),
                r.decided_at.strftime("%Y-%m-%d %H:%M:%S"),
                r.event_id[:13],
                r.event_type + ("" if r.mode == "live" else f" ({r.mode})"),
                r.source,
                r.recipient,
                r.outcome,
                ", ".join(r.fields) or "-",
                r.agreement_id or "-",
                "; ".join(r.reason_codes) or "-",
            )
            for r in rows
        ],
    )  # fmt: skip


@app.command("list")
def audit_list(
    hub_id: HubId = None,
    local_id: LocalId = None,
    system: System = None,
    recipient: Annotated[str | None, typer.Option(help="Only this receiving system")] = None,
    source: Annotated[str | None, typer.Option(help="Only this source system")] = None,
    agreement: Annotated[str | None, typer.Option(help="Only this agreement id")] = None,
    event_type: Annotated[
        str | None, typer.Option("--event-type", help="Only this event type")
    ] = None,
    event_id: Annotated[str | None, typer.Option("--event-id", help="Only this event")] = None,
    outcome: Annotated[str | None, typer.Option(help="delivered, withheld or failed")] = None,
    date_from: Annotated[str | None, typer.Option("--from", help="First day, YYYY-MM-DD")] = None,
    date_to: Annotated[str | None, typer.Option("--to", help="Last day, YYYY-MM-DD")] = None,
    after: Annotated[int, typer.Option(min=0, help="Rows after this seq (paging)")] = 0,
    limit: Annotated[int, typer.Option(min=1, max=10_000, help="At most this many rows")] = 50,
    purpose: Purpose = None,
    actor: Annotated[str | None, typer.Option("--as", help="Who is asking (default: you)")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line")] = False,
    as_csv: Annotated[bool, typer.Option("--csv", help="CSV with a header line")] = False,
) -> None:
    """Transfers (oldest first): who was sent what, under which agreement, or why not.
    Naming a person (--hub-id/--local-id) needs --purpose and is recorded in the access log."""
    from cli.common import hub_settings
    from hub.audit.event_trace import why_no_transfer
    from hub.audit.export import rows_csv
    from hub.audit.queries import PersonRef, TransferQuery, event_known
    from hub.audit.search_names import event_problem
    from hub.audit.store import AuditFilter
    from hub.audit.subject_access import SubjectAccess
    from hub.unknown_names import SUMMARY, UnknownName

    if outcome is not None and outcome not in ("delivered", "withheld", "failed"):
        raise typer.BadParameter("must be delivered, withheld or failed", param_hint="--outcome")
    settings = hub_settings()
    stores = _stores()
    why: Sequence[str] = ()
    if event_id:
        rows = stores.audit.query(
            AuditFilter(event_ids=(event_id,), recipient=recipient, outcome=outcome, limit=limit)
        )
        next_after = None
        if not rows and recipient is None and outcome is None:  # why no transfer
            why = why_no_transfer(stores.engine, event_id)  # a reason: the event is known
        if not rows and not why and not event_known(stores.engine, event_id):
            raise UnknownName(SUMMARY, [event_problem(event_id)])
    else:
        first, last = _days(date_from, date_to)
        q = TransferQuery(
            person=PersonRef(hub_id=hub_id, local_id=local_id, system=system),
            recipient=recipient,
            source=source,
            agreement_id=agreement,
            event_type=event_type,
            outcome=outcome,
            date_from=first,
            date_to=last,
            after_seq=after,
            limit=limit,
        )
        access = SubjectAccess(stores.engine, settings.pseudonym_key.get_secret_value())
        page = access.search(
            q, _actor(actor), purpose, "cli", utcnow(), names=lambda: _search_names(settings)
        )
        rows, next_after = page.rows, page.next_after
    if as_csv:
        sys.stdout.write(rows_csv(rows))
    elif as_json:
        for row in rows:
            print(row.model_dump_json())
    else:
        _print_rows(rows, f"Audit trail ({len(rows)} rows)")
        if next_after:
            print(f"More: --after {next_after}")
    for line in why:  # beside the table; after JSON or CSV, on stderr (stdout stays data)
        print(line, file=sys.stderr if as_csv or as_json else sys.stdout)


@app.command("report")
def audit_report(
    hub_id: HubId = None,
    local_id: LocalId = None,
    system: System = None,
    purpose: Purpose = None,
    actor: Annotated[str | None, typer.Option("--as", help="Who is asking (default: you)")] = None,
    html: Annotated[
        Path | None, typer.Option(help="Also write a printable HTML page to this file")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="The report as JSON")] = False,
) -> None:
    """Subject access report: every transfer and withheld transfer about one person."""
    from cli.common import console, hub_settings, print_table
    from hub.audit.queries import PersonRef
    from hub.audit.subject_access import SubjectAccess

    person = PersonRef(hub_id=hub_id, local_id=local_id, system=system)
    if not person.given:
        raise typer.BadParameter("give --hub-id, or --local-id (and optionally --system)")
    settings = hub_settings()
    access = SubjectAccess(_stores().engine, settings.pseudonym_key.get_secret_value())
    report = access.report(person, _actor(actor), purpose, "cli", utcnow())
    if html is not None:
        from hub.api.templating import environment

        page = (
            environment()
            .get_template("subject_report.html")
            .render(report=report, standalone=True, who=None)
        )
        html.write_text(page)
    if as_json:
        print(report.model_dump_json(indent=2))
        return
    console.print(
        f"Subject access report for {report.person} (key {', '.join(report.subject_keys) or '-'})"
        f"\nrequested by {report.requested_by}, purpose: {report.purpose}"
    )
    if report.summary is not None:
        console.print(report.summary, soft_wrap=True)
    for title, lines in (
        ("Delivered", report.delivered),
        ("Withheld", report.withheld),
        ("Failed", report.failed),
    ):
        print_table(
            f"{title} ({len(lines)})",
            ("when", "event", "from", "to", "fields", "agreement", "lawful basis", "reason"),
            [
                (
                    f"{line.decided_at:%Y-%m-%d %H:%M:%S}",
                    line.event_type,
                    line.source,
                    line.recipient,
                    ", ".join(line.fields) or "-",
                    line.agreement_id or "-",
                    line.lawful_basis or "-",
                    "; ".join(line.reasons) or "-",
                )
                for line in lines
            ],
        )
    if html is not None:
        console.print(f"Printable report written to {html}")


@app.command("verify")
def audit_verify(
    checkpoint: Annotated[
        Path | None,
        typer.Option(help="A checkpoint file from `hub audit checkpoint --out` (truncation)"),
    ] = None,
    public_key: Annotated[
        Path | None,
        typer.Option(
            help="The hub's Ed25519 public key (PEM, from `hub audit public-key`) to check "
            "signatures with (default: HUB_AUDIT_PUBLIC_KEY_FILE, or the signing key's)"
        ),
    ] = None,
) -> None:
    """Recompute the hash chain; exit 1 naming the first row edited, deleted, inserted,
    reordered or truncated, or a checkpoint or purge anchor not signed by the hub's key."""
    from cli.common import console, err, hub_settings
    from hub.audit.checkpoint import Checkpoint, CheckpointStore
    from hub.audit.verify import verify_chain
    from hub.secrets import audit_verifier

    settings = hub_settings()
    checkpoints = CheckpointStore(_stores().engine, audit_verifier(settings, public_key))
    published = Checkpoint.from_file(checkpoint) if checkpoint else None
    problem = checkpoints.signature_problem(published) if published is not None else None
    if problem is not None:
        err.print(f"FAILED: {checkpoint} is not signed by the hub's audit key: {problem}")
        raise typer.Exit(1)
    r = verify_chain(checkpoints.engine, checkpoints, published)
    figures = f"{r.rows_checked} rows in {r.seconds:.2f}s ({r.rows_per_second:,.0f} rows/s)"
    if r.first_break is not None:
        err.print(f"FAILED at row {r.first_break.seq}: {r.first_break.problem}\n{figures}")
        raise typer.Exit(1)
    since = f" from the purge anchor at row {r.anchor_seq}" if r.anchor_seq else ""
    against = f"; matches checkpoint {checkpoint}" if checkpoint else ""
    console.print(
        f"OK: chain intact{since}, head row {r.head_seq} {r.head_hash}{against}\n{figures}",
        soft_wrap=True,
    )


@app.command("checkpoint")
def audit_checkpoint(
    out: Annotated[
        Path | None, typer.Option(help="Write the signed checkpoint to this file")
    ] = None,
) -> None:
    """Sign the chain head (seq, hash, count, time) with the hub's Ed25519 key and print it;
    keep it somewhere else, with the public key (`hub audit public-key`)."""
    from cli.common import console, hub_settings
    from hub.audit.checkpoint import CheckpointStore
    from hub.secrets import audit_signer

    settings = hub_settings()
    checkpoints = CheckpointStore.signing(_stores().engine, audit_signer(settings))
    cp = checkpoints.publish(utcnow())
    if out is not None:
        cp.to_file(out)
        console.print(f"Checkpoint of row {cp.head_seq} ({cp.row_count} rows) written to {out}")
    print(cp.model_dump_json(indent=2))


@app.command("public-key")
def audit_public_key(
    out: Annotated[Path | None, typer.Option(help="Write the PEM to this file")] = None,
) -> None:
    """Print the hub's Ed25519 public key (PEM): all a DPO needs to verify checkpoints and
    purge anchors (`hub audit verify --checkpoint FILE --public-key FILE`)."""
    from cli.common import err, hub_settings
    from hub.secrets import audit_verifier

    verifier = audit_verifier(hub_settings())
    pem = verifier.public_pem()
    if out is not None:
        out.write_bytes(pem)
        err.print(f"Public key {verifier.key_id} written to {out}")
        return
    sys.stdout.write(pem.decode())


@app.command("purge")
def audit_purge(
    before: Annotated[
        str | None,
        typer.Option(
            help="Delete rows recorded before this day, YYYY-MM-DD "
            "(default: HUB_AUDIT_RETENTION_DAYS ago)"
        ),
    ] = None,
    yes: Annotated[
        bool, typer.Option("--yes", help="Do it (without: only say what would go)")
    ] = False,
) -> None:
    """Retention: delete the oldest rows, leaving a signed anchor so the rest still verifies."""  # fmt: skip
    from sqlalchemy import func, select

    from cli.common import console, hub_settings
    from hub.audit.checkpoint import CheckpointStore
    from hub.audit.ledger import AUDIT
    from hub.audit.retention import purge_before
    from hub.secrets import audit_signer

    settings = hub_settings()
    day = (
        _day(before, "--before")
        or (utcnow() - timedelta(days=settings.audit_retention_days)).date()
    )
    if day > utcnow().date():  # every row, today's included, and the rows of days to come
        raise typer.BadParameter(
            f"{day} is in the future: it would purge the whole trail. Give a past day (the "
            f"default is HUB_AUDIT_RETENTION_DAYS, {settings.audit_retention_days} days, ago)",
            param_hint="--before",
        )
    cutoff = datetime.combine(day, datetime.min.time(), tzinfo=UTC)
    engine = _stores().engine
    if not yes:
        with engine.connect() as conn:
            n = conn.execute(
                select(func.count()).select_from(AUDIT).where(AUDIT.c.recorded_at < cutoff)
            ).scalar_one()
        console.print(f"{n} rows recorded before {day} would be purged; add --yes to do it.")
        return
    checkpoints = CheckpointStore.signing(engine, audit_signer(settings))
    done = purge_before(checkpoints, cutoff, utcnow())
    if done.anchor is None:
        console.print(f"Nothing recorded before {day}.")
        return
    console.print(
        f"Purged {done.deleted} rows recorded before {day}; signed anchor: row "
        f"{done.anchor.head_seq} {done.anchor.head_hash}"
    )


@app.command("access-log")
def audit_access_log(
    subject_key: Annotated[
        str | None, typer.Option("--subject-key", help="Only reads about this pseudonymous key")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=10_000, help="At most this many")] = 50,
) -> None:
    """Who read the audit about a person, when and why (newest first)."""
    import re

    from cli.common import hub_settings, print_table
    from hub.audit.subject_access import SubjectAccess
    from hub.plain_errors import PATTERN_WORDS
    from hub.pseudonym import SUBJECT_KEY_PATTERN

    if subject_key is not None and not re.match(SUBJECT_KEY_PATTERN, subject_key):
        raise typer.BadParameter(PATTERN_WORDS[SUBJECT_KEY_PATTERN], param_hint="--subject-key")

    settings = hub_settings()
    access = SubjectAccess(_stores().engine, settings.pseudonym_key.get_secret_value())
    entries = access.access_log(subject_key, limit)
    print_table(
        f"Audit access log ({len(entries)})",
        ("when", "who", "purpose", "person key", "what", "via"),
        [
            (f"{e.accessed_at:%Y-%m-%d %H:%M:%S}", e.actor, e.purpose, e.subject_key, e.what, e.via)
            for e in entries
        ],
    )


@app.command("flows")
def audit_flows() -> None:
    """Transfers per agreement (delivered, withheld, failed) and the agreements past review or
    expiring soon. The agreements themselves: `hub agreements list`."""
    from cli.common import hub_settings, print_table
    from hub.audit.queries import agreements_overview
    from runtime.wiring import wire

    settings = hub_settings()
    flows = agreements_overview(_stores().engine, wire(settings).config, utcnow().date())
    print_table(
        "Agreements",
        ("agreement", "status", "review by", "valid until", "delivered", "withheld", "failed",
         "needs attention"),
        [
            (f.agreement_id, f.status, str(f.review_by), str(f.valid_until or "-"),
             str(f.delivered), str(f.withheld), str(f.failed), ", ".join(f.flags) or "-")
            for f in flows
        ],
    )  # fmt: skip


@app.command("withheld")
def audit_withheld(
    date_from: Annotated[str | None, typer.Option("--from", help="First day, YYYY-MM-DD")] = None,
    date_to: Annotated[str | None, typer.Option("--to", help="Last day, YYYY-MM-DD")] = None,
) -> None:
    """Withheld transfers counted by reason."""
    from cli.common import print_table
    from hub.audit.queries import withheld_by_reason

    counts = withheld_by_reason(_stores().engine, *_days(date_from, date_to))
    print_table(
        "Withheld by reason", ("reason", "count"), [(c.reason, str(c.count)) for c in counts]
    )


@app.command("failures")
def audit_failures(
    limit: Annotated[int, typer.Option(min=1, max=10_000, help="At most this many")] = 50,
) -> None:
    """Deliveries that failed after their retries (dead letters), newest first."""
    from hub.audit.queries import failures

    _print_rows(failures(_stores().engine, limit), "Failed deliveries")


@app.command("consent")
def audit_consent(
    limit: Annotated[int, typer.Option(min=1, max=10_000, help="At most this many")] = 50,
) -> None:
    """Consent withdrawals and objections, newest first (pseudonymous keys)."""
    from cli.common import hub_settings, print_table
    from hub.audit.queries import consent_withdrawals

    secret = hub_settings().pseudonym_key.get_secret_value()
    rows = consent_withdrawals(_stores().engine, secret, limit)
    print_table(
        "Consent withdrawals",
        ("effective", "person key", "action", "purpose", "recipient"),
        [
            (f"{c.effective_at:%Y-%m-%d %H:%M}", c.subject_key, c.action, c.purpose,
             c.recipient or "all")
            for c in rows
        ],
    )  # fmt: skip
