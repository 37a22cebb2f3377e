"""`hub db upgrade [REV] | current | history | downgrade REV`: the database schema, as an operator
runs it (the database of HUB_DATABASE_URL, else the SQLite file in HUB_DATA_DIR).

Every migration runs under the migration lock (hub/db/engine.py), as the hub's own processes do
when they start, so a `hub db upgrade` beside starting workers is safe.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from sqlalchemy import Engine

app = typer.Typer(
    help="The database schema: upgrade, current revision, history, downgrade.",
    no_args_is_help=True,
)


def _target() -> tuple[str, str]:
    """The settings' database URL, and the same with the password masked (to print)."""
    from cli.common import safe_url
    from hub.settings import load_settings

    url = load_settings().effective_database_url
    return url, safe_url(url)


def _engine_for(url: str) -> Engine:
    from hub.db.engine import make_engine

    return make_engine(url)


def _fail(message: str) -> typer.Exit:
    from cli.common import err

    err.print(f"[bold red]error:[/bold red] {message}", highlight=False)
    return typer.Exit(1)


def _run(action: str, revision: str, what: str) -> None:
    from alembic.util import CommandError
    from sqlalchemy.exc import SQLAlchemyError

    from cli.common import console
    from hub.db.engine import downgrade, migrate

    url, shown = _target()
    engine = _engine_for(url)
    try:
        before, after = (migrate if action == "upgrade" else downgrade)(engine, revision)
    except CommandError as exc:
        raise _fail(f"{what} {revision}: {exc} (`hub db history` lists the revisions)") from exc
    except SQLAlchemyError as exc:
        raise _fail(
            f"database {shown}: {type(exc).__name__}: {exc.args[0] if exc.args else exc}"
        ) from exc
    finally:
        engine.dispose()
    if before == after:
        console.print(
            f"Database {shown} already at {_spell(after)}: nothing to do.", soft_wrap=True
        )
    else:
        console.print(f"Database {shown}: {_spell(before)} -> {_spell(after)}.", soft_wrap=True)


def _spell(revisions: tuple[str, ...]) -> str:
    return ", ".join(revisions) if revisions else "no schema (base)"


@app.command("upgrade")
def db_upgrade(
    revision: Annotated[
        str, typer.Argument(help="Target revision (default: head, the newest)")
    ] = "head",
) -> None:
    """Migrate the database to REVISION (default: the newest), one migrator at a time."""
    _run("upgrade", revision, "cannot upgrade to")


# `-1` (one back) is a revision, not an option
@app.command("downgrade", context_settings={"ignore_unknown_options": True})
def db_downgrade(
    revision: Annotated[
        str, typer.Argument(help="Target revision: an id (e.g. 0006), -1 (one back), or base")
    ],
) -> None:
    """Take the database back to REVISION (drops what later migrations added: data in it is lost)."""
    _run("downgrade", revision, "cannot downgrade to")


@app.command("current")
def db_current() -> None:
    """The revision the database is at, and whether that is the newest (exit 1 if it is not)."""
    from sqlalchemy.exc import SQLAlchemyError

    from cli.common import console
    from hub.db.engine import current_revisions, script_directory

    url, shown = _target()
    engine = _engine_for(url)
    try:
        current = current_revisions(engine)
    except SQLAlchemyError as exc:
        raise _fail(
            f"database {shown}: {type(exc).__name__}: {exc.args[0] if exc.args else exc}"
        ) from exc
    finally:
        engine.dispose()
    heads = tuple(script_directory().get_heads())
    if set(current) == set(heads):
        console.print(f"{_spell(current)} (head): database {shown} is up to date.", soft_wrap=True)
        return
    console.print(
        f"{_spell(current)}: database {shown} is behind the newest revision {_spell(heads)}; "
        "run `hub db upgrade`.",
        soft_wrap=True,
    )
    raise typer.Exit(1)


@app.command("history")
def db_history() -> None:
    """Every migration, newest first; the database's current revision is marked."""
    from sqlalchemy.exc import SQLAlchemyError

    from cli.common import print_table
    from hub.db.engine import current_revisions, script_directory

    url, shown = _target()
    engine = _engine_for(url)
    try:
        current = set(current_revisions(engine))
    except SQLAlchemyError:
        current = set()  # the list of migrations is still worth printing
    finally:
        engine.dispose()
    script = script_directory()
    heads = set(script.get_heads())
    rows = []
    for rev in script.walk_revisions():
        marks = [
            m
            for m, on in (("head", rev.revision in heads), ("current", rev.revision in current))
            if on
        ]
        summary = (rev.doc or "").strip().splitlines()[0] if rev.doc else ""
        rows.append((rev.revision, str(rev.down_revision or "base"), ", ".join(marks), summary))
    print_table(f"Migrations (database {shown})", ("revision", "after", "", "what it does"), rows)
