"""Reload the configuration directory when IG changes it: atomically, never half-applied.

The watcher fingerprints every file under the directory; when the fingerprint changes it loads
and checks the whole directory. Only a configuration that passes every check replaces the one
in force; a broken edit is reported and the previous configuration stays.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from pathlib import Path

import structlog

from hub.config.loader import load_config
from hub.config.model import HubConfig
from hub.connectors.config import AnyConnectorDef, load_connectors
from hub.errors import ConfigError, Problem
from hub.events.schemas import SchemaRegistry

log = structlog.get_logger("hub.config.watch")
ConnectorDef = AnyConnectorDef


def fingerprint(config_dir: Path) -> str:
    """A hash of every YAML file's path and content under the directory."""
    digest = hashlib.sha256()
    for file in sorted(config_dir.rglob("*.y*ml")):
        digest.update(str(file.relative_to(config_dir)).encode() + b"\0")
        try:
            digest.update(file.read_bytes())
        except OSError:  # removed while we looked: the next check sees the new state
            digest.update(b"\0missing")
        digest.update(b"\0")
    return digest.hexdigest()


REFUSED = "configuration change refused"


def refusal_line(problem: Problem) -> str:
    """`configuration change refused: <file>:<line> <field>: <problem>` (the dashboard banner)."""
    where = problem.location
    if where.endswith(")") and " (" in where:
        place, field = where[:-1].rsplit(" (", 1)
        where = f"{place} {field}"
    return f"{REFUSED}: {where}: {problem.message}"


def refusal_lines(watcher: ConfigWatcher | None) -> list[str]:
    """What the last refused edit got wrong, one line per problem (empty: nothing refused)."""
    if watcher is None or watcher.last_error is None:
        return []
    return [refusal_line(p) for p in watcher.last_error.problems]


class ConfigWatcher:
    """Holds the configuration in force; `current()` re-checks the directory at most every interval."""

    def __init__(
        self,
        config_dir: Path,
        registry: SchemaRegistry,
        config: HubConfig,
        interval_s: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.config_dir = config_dir
        self.registry = registry
        self.interval_s = interval_s
        self.clock = clock
        self._config = config
        self._connectors: tuple[ConnectorDef, ...] | None = None  # loaded when first asked
        self._fingerprint = fingerprint(config_dir)
        self._checked = clock()
        self.generation = 0  # how many reloads took effect
        self.last_error: ConfigError | None = None

    def connectors(self) -> tuple[ConnectorDef, ...]:
        """The source connectors (connectors.yaml) in force, re-checked like `current()`."""
        config = self.current()
        if self._connectors is None:
            self._connectors = load_connectors(self.config_dir, config, self.registry)
        return self._connectors

    def current(self) -> HubConfig:
        now = self.clock()
        if self.interval_s > 0 and now - self._checked >= self.interval_s:
            self._checked = now
            self.reload_if_changed()
        return self._config

    def reload_if_changed(self) -> bool:
        """Load the directory if it changed; True when a new configuration took effect."""
        seen = fingerprint(self.config_dir)
        if seen == self._fingerprint:
            self.last_error = None  # a broken edit undone: nothing is refused any more
            return False
        try:
            config = load_config(self.config_dir, self.registry)
            # connectors.yaml is part of the directory: refused with the rest when broken
            connectors = load_connectors(self.config_dir, config, self.registry)
        except Exception as unexpected:
            exc = (
                unexpected
                if isinstance(unexpected, ConfigError)
                else ConfigError(
                    f"cannot load {self.config_dir}",
                    [Problem(str(self.config_dir), "unreadable", f"{unexpected}")],
                )
            )
            if not isinstance(unexpected, ConfigError):
                log.exception("config_reload_failed", config_dir=str(self.config_dir))
            if self.last_error is None or str(exc.problems) != str(self.last_error.problems):
                log.error(
                    "config_reload_refused",
                    config_dir=str(self.config_dir),
                    problems=[f"{p.location}: {p.message}" for p in exc.problems],
                    kept="the configuration in force stays until the directory is fixed",
                )
            self.last_error = exc
            return False  # keep the fingerprint old, so a fix is picked up at the next check
        self._config = config
        self._connectors = connectors
        self._fingerprint = seen
        self.generation += 1
        self.last_error = None
        log.info(
            "config_reloaded",
            config_dir=str(self.config_dir),
            agreements={a.id: a.version for a in config.agreements},
        )
        return True
