"""A freshly migrated database for the audit tests: SQLite in tmp_path or the test run's PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from hub.db.engine import make_engine, migrate
from tests.integration.conftest import reset_schema


def fresh_engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """Use from a fixture parametrized with "sqlite" and "postgres"."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'hub.db'}"
    else:
        url = request.getfixturevalue("postgres_url")
    reset_schema(url)
    eng = make_engine(url)
    migrate(eng)
    yield eng
    eng.dispose()
