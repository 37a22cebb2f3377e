"""The outbox connector's counts (and its rejections' data quality tallies) stay exact when it
dies between its two databases.

The outbox rows are marked in the source system's database and the counts kept in the hub's:
no transaction spans both. A connector killed after the source's mark committed, and before
the hub's counts did, must count that batch when it starts again (it will never read those
rows again); one killed before the mark must count the batch once, when it is re-published.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine

from connectors.outbox import create_outbox_table, write_outbox
from connectors.sql_poll import PollContext, SqlOutboxConnector
from hub.connectors.config import SqlOutboxDef
from hub.connectors.store import ConnectorStore
from hub.db.engine import make_engine
from hub.events.publisher import EventPublisher
from hub.quality.counters import QualityCounters
from hub.settings import HubSettings
from runtime.wiring import Wiring
from tests.integration.connector_helpers import duplicates, read_ids

NAME, ROWS, BATCH, BAD_EVERY = "registrar-outbox", 12, 5, 4


class Killed(BaseException):
    """The connector process dying at this point (nothing after it runs)."""


class DiesBeforeMarking(SqlOutboxConnector):
    """The source's mark never commits: the process died just before it."""

    def _mark(self, published: list[int], rejected: list[tuple[int, str]]) -> None:
        raise Killed


class DiesBeforeCounting(ConnectorStore):
    """The hub's database write after the source's mark never happens: the process died."""

    def advance(self, *args: object, **kwargs: object) -> None:
        raise Killed


def _source(tmp_path: Path) -> tuple[Engine, list[str]]:
    engine = make_engine(f"sqlite:///{tmp_path / 'registrar.db'}")
    create_outbox_table(engine)
    ids = []
    with engine.begin() as conn:
        for i in range(1, ROWS + 1):
            data = {
                "date_of_death": "2026-11-18",
                "verified_by": "a-neighbour" if i % BAD_EVERY == 0 else "registrar",
            }
            ids.append(write_outbox(conn, "death.notified", f"P-{i}", data))
    return engine, ids


def _connector(
    source: Engine,
    store: ConnectorStore,
    publisher: EventPublisher,
    wiring: Wiring,
    kind: type[SqlOutboxConnector] = SqlOutboxConnector,
) -> SqlOutboxConnector:
    definition = SqlOutboxDef(
        name=NAME, kind="sql_outbox", source="registrar", url="sqlite://", batch_size=BATCH
    )
    store.ensure(NAME, "sql_outbox")
    return kind(definition, source, PollContext(publisher, store, wiring.registry, wiring.rules))


@pytest.mark.parametrize("dies", ["after the mark", "before the mark"])
async def test_a_batch_is_counted_once_whichever_side_of_the_mark_the_connector_died(
    dies: str,
    hub_settings: HubSettings,
    wiring: Wiring,
    publisher: EventPublisher,
    tmp_path: Path,
) -> None:
    source, event_ids = _source(tmp_path)
    hub_db = make_engine(hub_settings.effective_database_url)
    if dies == "after the mark":
        first = _connector(source, DiesBeforeCounting(hub_db), publisher, wiring)
    else:
        first = _connector(source, ConnectorStore(hub_db), publisher, wiring, DiesBeforeMarking)
    with pytest.raises(Killed):
        await first.run_once()

    store = ConnectorStore(hub_db)
    await _connector(source, store, publisher, wiring).run_once()

    status = store.status(NAME)
    assert status is not None
    rejected = ROWS // BAD_EVERY
    assert (status.published, status.rejected) == (ROWS - rejected, rejected)
    assert (status.position, status.pending) == (str(ROWS), 0)
    tallied = QualityCounters(hub_db).summary(source="registrar")
    assert [(q.outcome, q.count) for q in tallied] == [("rejected", rejected)]
    ids = await read_ids(hub_settings, "death.notified")
    good = {e for i, e in enumerate(event_ids, start=1) if i % BAD_EVERY}
    assert set(ids) == good
    # only a batch the source never marked goes to the broker twice (same ids: de-duplicated)
    assert set(duplicates(ids)) <= (good if dies == "before the mark" else set())
    source.dispose()
    hub_db.dispose()
