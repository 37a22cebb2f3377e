"""SQL polling against real SQLite and PostgreSQL: a `hub run connectors` process killed with
SIGKILL mid-stream and restarted publishes every change, duplicates only under the same event
id (so exactly once after the hub's de-duplication); counters and position stay exact."""

from __future__ import annotations

import asyncio
import signal
import threading
import time
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlalchemy import (
    Column,
    Date,
    DateTime,
    Engine,
    Integer,
    MetaData,
    String,
    Table,
    func,
    select,
    text,
)

from connectors.outbox import create_outbox_table, outbox_table, write_outbox
from hub.connectors.ids import sql_change_event_id
from hub.connectors.store import ConnectorStore
from hub.db.engine import make_engine
from hub.quality.counters import QualityCounters
from hub.settings import REPO_ROOT, HubSettings
from runtime.wiring import Wiring
from tests.integration.connector_helpers import (
    config_with_connectors,
    duplicates,
    read_ids,
    start_connector,
    wait_until,
)

TOTAL, FIRST, BATCH = 1500, 300, 50
BAD_EVERY = 250  # these rows carry a UPRN that breaks the rules


@pytest.fixture(params=["sqlite", "postgres"])
def source_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "postgres":
        return str(request.getfixturevalue("postgres_url"))
    return f"sqlite:///{tmp_path / 'source.db'}"


def change_row(i: int) -> dict[str, object]:
    return {
        "change_id": i,
        "person_id": f"P-{i}",
        "old_uprn": "100023336956",
        "old_line1": "Flat 2, 14 Mill Lane",
        "old_postcode": "EX1 2AB",
        "new_uprn": "x-not-a-uprn" if i % BAD_EVERY == 0 else str(200_000_000 + i),
        "new_line1": f"{i} Orchard Close",
        "new_postcode": "EX4 7QT",
        "moved_on": date(2026, 11, 20),
        "changed_at": datetime(2026, 11, 20, 9, 0, tzinfo=UTC),
    }


def changes_table(engine: Engine, name: str) -> Table:
    table = Table(
        name,
        MetaData(),
        Column("change_id", Integer, primary_key=True, autoincrement=False),
        *(
            Column(c, String(100))
            for c in (
                "person_id",
                "old_uprn",
                "old_line1",
                "old_postcode",
                "new_uprn",
                "new_line1",
                "new_postcode",
            )
        ),
        Column("moved_on", Date),
        Column("changed_at", DateTime(timezone=True)),
    )
    table.drop(engine, checkfirst=True)
    table.create(engine)
    return table


SQL_TABLE_YAML = """\
connectors:
  - name: ctax-changes
    kind: sql_table
    source: council-tax
    event_type: address.changed
    url: {url}
    table: {table}
    key_column: change_id
    time_column: changed_at
    poll_interval_s: 0.1
    batch_size: {batch}
    mapping:
      subject: person_id
      previous_address.uprn: old_uprn
      previous_address.lines: [old_line1]
      previous_address.postcode: old_postcode
      new_address.uprn: new_uprn
      new_address.lines: [new_line1]
      new_address.postcode: new_postcode
      effective_date: moved_on
"""

OUTBOX_YAML = """\
connectors:
  - name: registrar-outbox
    kind: sql_outbox
    source: registrar
    url: {url}
    table: {table}
    poll_interval_s: 0.1
    batch_size: {batch}
"""


def kill_and_restart(
    settings: HubSettings,
    name: str,
    tmp_path: Path,
    writer: threading.Thread,
    kill_after: int,
    done: object,
) -> None:
    """Run the connector, SIGKILL it once it is past `kill_after`, restart it, wait for `done`."""
    store = ConnectorStore(make_engine(settings.effective_database_url))
    log_file = tmp_path / "connector.log"

    def position() -> int:
        return int(store.position(name) or 0)

    proc = start_connector(settings, name, log_file)
    try:
        writer.start()
        wait_until(
            lambda: position() >= kill_after, f"position {kill_after}", proc=proc, log_file=log_file
        )
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        killed_at = position()
        assert killed_at < TOTAL, "the connector finished before it could be killed"
        writer.join(60)
        proc = start_connector(settings, name, log_file)
        wait_until(done, "every change published", proc=proc, log_file=log_file)
    finally:
        if proc.poll() is None:
            proc.terminate()
            proc.wait(20)


def _settings_for(hub_settings: HubSettings, tmp_path: Path, yaml: str) -> HubSettings:
    config = config_with_connectors(tmp_path, REPO_ROOT / "config", yaml)
    return hub_settings.model_copy(update={"config_dir": config})


def _rejections_tallied(settings: HubSettings, source: str) -> int:
    """Rejected events counted for the data quality page (each bad row breaks one rule)."""
    rows = QualityCounters(make_engine(settings.effective_database_url)).summary(source=source)
    return sum(r.count for r in rows if r.outcome == "rejected")


def test_change_table_high_water_mark_survives_sigkill(
    hub_settings: HubSettings, wiring: Wiring, source_url: str, tmp_path: Path
) -> None:
    source = make_engine(source_url)
    table = changes_table(source, "ctax_address_changes")
    with source.begin() as conn:
        conn.execute(table.insert(), [change_row(i) for i in range(1, FIRST + 1)])

    def write_more() -> None:  # the source system carries on while the connector runs
        for start in range(FIRST + 1, TOTAL + 1, 25):
            with source.begin() as conn:
                conn.execute(
                    table.insert(),
                    [change_row(i) for i in range(start, min(TOTAL, start + 24) + 1)],
                )
            time.sleep(0.01)

    settings = _settings_for(
        hub_settings, tmp_path, SQL_TABLE_YAML.format(url=source_url, table=table.name, batch=BATCH)
    )
    store = ConnectorStore(make_engine(settings.effective_database_url))
    kill_and_restart(
        settings,
        "ctax-changes",
        tmp_path,
        threading.Thread(target=write_more),
        kill_after=FIRST // 2,
        done=lambda: store.position("ctax-changes") == str(TOTAL),
    )
    bad = {i for i in range(1, TOTAL + 1) if i % BAD_EVERY == 0}
    ids = asyncio.run(read_ids(settings))
    expected = {sql_change_event_id("ctax-changes", i) for i in range(1, TOTAL + 1) if i not in bad}
    assert set(ids) == expected  # every good change, none of the bad ones
    assert len(ids) - len(expected) <= BATCH  # at most the in-flight batch went twice
    assert set(duplicates(ids)) <= expected
    status = store.status("ctax-changes")
    assert status is not None
    # counters and data quality tallies move with the position in one transaction: exact
    # despite the kill
    assert (status.published, status.rejected, status.pending) == (len(expected), len(bad), 0)
    assert _rejections_tallied(settings, "council-tax") == len(bad)
    source.dispose()


def test_outbox_survives_sigkill(
    hub_settings: HubSettings, wiring: Wiring, source_url: str, tmp_path: Path
) -> None:
    source = make_engine(source_url)
    name = "registrar_outbox_test"
    outbox_table(name).drop(source, checkfirst=True)
    create_outbox_table(source, name)
    residents = Table(
        "residents_test",
        MetaData(),
        Column("id", Integer, primary_key=True),
        Column("died_on", Date),
    )
    residents.drop(source, checkfirst=True)
    residents.create(source)
    event_ids: list[str] = []

    def record_death(i: int, conn: object) -> None:
        conn.execute(residents.insert().values(id=i, died_on=date(2026, 11, 18)))  # type: ignore[attr-defined]
        data = {
            "date_of_death": "2026-11-18",
            "verified_by": "registrar" if i % BAD_EVERY else "a-neighbour",
        }
        event_ids.append(write_outbox(conn, "death.notified", f"P-{i}", data, table=name))  # type: ignore[arg-type]

    with source.begin() as conn:
        for i in range(1, FIRST + 1):
            record_death(i, conn)

    def write_more() -> None:
        for start in range(FIRST + 1, TOTAL + 1, 25):
            with source.begin() as conn:
                for i in range(start, min(TOTAL, start + 24) + 1):
                    record_death(i, conn)
            time.sleep(0.01)

    settings = _settings_for(
        hub_settings, tmp_path, OUTBOX_YAML.format(url=source_url, table=name, batch=BATCH)
    )
    t = outbox_table(name)

    def all_handled() -> bool:
        with source.connect() as conn:
            return (
                conn.execute(select(func.count()).where(t.c.published_at.is_(None))).scalar_one()
                == 0
                and len(event_ids) == TOTAL
            )

    kill_and_restart(
        settings,
        "registrar-outbox",
        tmp_path,
        threading.Thread(target=write_more),
        kill_after=FIRST // 2,
        done=all_handled,
    )
    with source.connect() as conn:
        rows = conn.execute(select(t.c.event_id, t.c.outcome, t.c.error)).all()
        assert conn.execute(text(f"SELECT count(*) FROM {residents.name}")).scalar_one() == TOTAL
    rejected = {r.event_id for r in rows if r.outcome == "rejected"}
    published = {r.event_id for r in rows if r.outcome == "published"}
    assert len(rejected) == TOTAL // BAD_EVERY
    assert all("verified_by" in (r.error or "") for r in rows if r.outcome == "rejected")
    assert published | rejected == set(event_ids)
    ids = asyncio.run(read_ids(settings, "death.notified"))
    assert set(ids) == published  # the ids written by the source system, each published
    assert len(ids) - len(published) <= BATCH
    status = ConnectorStore(make_engine(settings.effective_database_url)).status("registrar-outbox")
    # marked in the source's database, counted in the hub's: exact despite a kill in between
    # (tests/integration/test_connector_outbox_counts.py kills it at each side of the mark)
    assert status is not None
    assert (status.published, status.rejected, status.pending) == (len(published), len(rejected), 0)
    assert _rejections_tallied(settings, "registrar") == len(rejected)
    source.dispose()
