"""`hub`: the command tree, grouped by task and by who runs it.

Each group lives in a module of its own (cli/<group>.py) that imports only cli.common; this
module composes them and nothing imports it. Old command names (before the tree) keep working
for one release as aliases: hidden from the help, rewritten to the new name with a one-line
note on stderr (ALIASES below).
"""

from __future__ import annotations

import sys
from importlib.metadata import PackageNotFoundError, version
from typing import Annotated, Any

import typer
from typer import _click
from typer.core import TyperGroup

from cli import (
    agreements,
    audit,
    benchmarks,
    config,
    connectors,
    db,
    deliveries,
    events,
    kafka,
    keys,
    match,
    operate,
    retention,
    run,
)
from cli.common import err
from hub.errors import HubError

# old words -> new words, matched at the start of the command line (longest first)
ALIASES: dict[tuple[str, ...], tuple[str, ...]] = {
    ("import",): ("connectors", "import"),
    ("worker",): ("run", "worker"),
    ("api",): ("run", "api"),
    ("connector", "run-all"): ("run", "connectors"),
    ("connector", "run"): ("run", "connectors"),
    ("schemas", "check"): ("config", "schemas"),
    ("rejected", "list"): ("events", "rejected"),
    ("rejected", "replay"): ("events", "replay"),
    ("quality",): ("events", "quality"),
    ("explain",): ("agreements", "explain"),
    ("audit", "agreements"): ("audit", "flows"),
    ("systems", "add"): ("keys", "new"),
    ("review", "list"): ("deliveries", "held"),
    ("review", "retry"): ("deliveries", "retry"),
    ("replay",): ("deliveries", "replay"),
    ("quarantine", "list"): ("deliveries", "quarantine"),
    ("bench-codec",): ("bench", "codec"),
    ("bench-policy",): ("bench", "policy"),
    ("bench-audit",): ("bench", "audit"),
    ("bench-import",): ("bench", "import"),
    ("bench-webhooks",): ("bench", "webhooks"),
    ("bench-inbox",): ("bench", "inbox"),
    ("bench-metrics",): ("bench", "metrics"),
}


def new_words(args: list[str]) -> tuple[list[str], str | None]:
    """The command line with an old name replaced by its new one, and the note to print (None:
    nothing replaced). `hub bench --events N` (options straight after bench) was the flow
    benchmark; a bare `hub bench` shows the group's help."""
    for old in sorted(ALIASES, key=len, reverse=True):
        if tuple(args[: len(old)]) == old:
            new = ALIASES[old]
            break
    else:
        if len(args) > 1 and args[0] == "bench" and args[1].startswith("-") and args[1] != "--help":
            old, new = ("bench",), ("bench", "flow")
        else:
            return args, None
    note = (
        f"hub: `hub {' '.join(old)}` is now `hub {' '.join(new)}`; "
        "the old name goes in the next release."
    )
    return [*new, *args[len(old) :]], note


class HubGroup(TyperGroup):
    """The root group: rewrites an old command name to its new one before parsing."""

    def parse_args(self, ctx: _click.Context, args: list[str]) -> list[str]:
        args, note = new_words(list(args))
        if note is not None and not ctx.resilient_parsing:
            print(note, file=sys.stderr)
        return super().parse_args(ctx, args)


def _version() -> str:
    try:
        return version("tell-it-once-hub")
    except PackageNotFoundError:  # run from a checkout that is not installed
        return "unknown"


def _show_version(value: bool) -> None:
    if value:
        print(f"hub {_version()}")
        raise typer.Exit()


app = typer.Typer(
    name="hub",
    cls=HubGroup,
    help="Tell-It-Once Hub: tell the council once; every entitled service is told, and IG can prove it.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


@app.callback()
def root(
    show_version: Annotated[
        bool,
        typer.Option(
            "--version", is_eager=True, callback=_show_version, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """Tell-It-Once Hub: tell the council once; every entitled service is told, and IG can prove it."""


START, IG, OPERATE, MEASURE = "Start", "Configure and govern (IG)", "Operate", "Measure"
operate.register(app, START)
app.add_typer(run.app, name="run", rich_help_panel=START)
app.add_typer(config.app, name="config", rich_help_panel=IG)
app.add_typer(agreements.app, name="agreements", rich_help_panel=IG)
app.add_typer(audit.app, name="audit", rich_help_panel=IG)
app.add_typer(keys.app, name="keys", rich_help_panel=IG)
app.add_typer(match.app, name="match", rich_help_panel=IG)
app.add_typer(retention.app, name="retention", rich_help_panel=IG)
app.add_typer(connectors.app, name="connectors", rich_help_panel=OPERATE)
app.add_typer(events.app, name="events", rich_help_panel=OPERATE)
app.add_typer(deliveries.app, name="deliveries", rich_help_panel=OPERATE)
app.add_typer(db.app, name="db", rich_help_panel=OPERATE)
app.add_typer(kafka.app, name="kafka", rich_help_panel=OPERATE)
app.add_typer(benchmarks.app, name="bench", rich_help_panel=MEASURE)


def error_text(exc: HubError) -> str:
    """A HubError for the terminal: one line when there is one problem, else one per problem."""
    from hub.errors import ProblemsError

    if isinstance(exc, ProblemsError) and len(exc.problems) == 1:
        p = exc.problems[0]
        return f"{exc.summary}: {p.location}: {p.message}"
    return str(exc)


def database_text(exc: Exception) -> str:
    """A database the command could not use, in one line: which, which setting, what to do."""
    from hub.db.engine import shown_url
    from hub.settings import load_settings

    try:
        settings = load_settings()
        url, setting = (
            settings.effective_database_url,
            ("HUB_DATABASE_URL" if settings.database_url else "HUB_DATA_DIR"),
        )
    except HubError:
        url, setting = "", "HUB_DATABASE_URL"
    inner = getattr(exc, "orig", None) or exc
    reason = (str(inner).strip().splitlines() or [type(exc).__name__])[0]
    where = f"the database {shown_url(url)} ({setting})" if url else "the database"
    return (
        f"cannot use {where}: {reason}. Check {setting} and that the database server is "
        "running and reachable from here"
    )


def main(args: list[str] | None = None, **extra: Any) -> None:
    """The one place errors become a message and an exit code (never a traceback)."""
    from rich.markup import escape

    try:
        app(args=args, **extra)
    except HubError as exc:
        err.print(f"[bold red]error:[/bold red] {escape(error_text(exc))}", highlight=False)
        sys.exit(2)
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception as exc:
        if not is_database_error(exc):
            raise
        err.print(f"[bold red]error:[/bold red] {escape(database_text(exc))}", highlight=False)
        sys.exit(2)


def is_database_error(exc: BaseException) -> bool:
    """SQLAlchemy's error, without importing SQLAlchemy (0.13 s) for a command that never used
    it: if the module is not loaded, nothing can have raised one of its errors."""
    errors = sys.modules.get("sqlalchemy.exc")
    return errors is not None and isinstance(exc, errors.SQLAlchemyError)


if __name__ == "__main__":
    main()
