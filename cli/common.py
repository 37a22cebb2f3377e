"""What every command group shares: the consoles, the settings, tables and printable URLs.

Human output goes to `console` (stdout) and `err` (stderr) through rich; the structlog JSON
logs go to stderr only when stderr is not a terminal (a pipe, a file, a container), so a
person at a terminal sees people's words and a machine reading the output gets JSON lines.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterable, Sequence

from rich.console import Console
from rich.table import Table

from hub.logs import configure_logging
from hub.settings import HubSettings, load_settings

# Piped output (CI logs, files) gets a wide console so tables and paths are not folded.
console = Console() if sys.stdout.isatty() else Console(width=200)
err = Console(stderr=True, soft_wrap=True)


def console_logging(level: str, settings: HubSettings) -> None:
    """Where the structlog JSON logs (and the libraries' logging) go: stderr when it is not a
    terminal (a pipe, a file, a container: machines read them there); on a terminal, the file
    logs/hub.log in the data directory, so the console holds only what is written for people."""
    if not sys.stderr.isatty():
        configure_logging(level)
        return
    log_dir = settings.data_dir / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    stream = open(log_dir / "hub.log", "a", buffering=1, encoding="utf-8")  # noqa: SIM115 (for the process's life)
    configure_logging(level, file=stream)
    logging.basicConfig(
        stream=stream,
        level=logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
        force=True,
    )


def hub_settings() -> HubSettings:
    """The settings (HUB_* environment), logging set up; the embedded default's secrets are the
    ones kept in its data directory (made on first run)."""
    from hub.secrets import embedded_settings

    found = load_settings()
    console_logging(found.log_level, found)
    return embedded_settings(found) if found.embedded_broker else found


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


def api_base_url(found: HubSettings) -> str:
    """Where this host reaches the API the settings describe (a wildcard bind is loopback)."""
    host = found.api_host
    if host in ("0.0.0.0", "", "::"):
        host = "127.0.0.1"
    elif ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"http://{host}:{found.api_port}"
