"""Service record extracts through the connectors: a CSV dropped in a watched folder and a
change table polled on SQLite load the system's people into service_record incrementally
(upserts by local id, `deleted` rows removed), only the mapped columns read; a bad file is
refused whole with file, line and field; a bad row of a table is skipped and named."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

from sqlalchemy import Engine, text

from connectors.extract import ExtractFileConnector, ExtractSqlConnector
from hub.connectors.config import ExtractFileDef, ExtractSqlDef
from hub.connectors.store import ConnectorStore
from hub.db.engine import make_engine, migrate
from hub.identity.store import ServiceRecords


def hub_engine(tmp_path: Path) -> Engine:
    engine = make_engine(f"sqlite:///{tmp_path / 'hub.db'}")
    migrate(engine)
    return engine


def drop(folder: Path, name: str, body: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(body, encoding="utf-8")
    old = time.time() - 60  # settled
    os.utime(path, (old, old))
    return path


def test_a_csv_drop_loads_an_extract_incrementally(tmp_path: Path) -> None:
    engine = hub_engine(tmp_path)
    definition = ExtractFileDef(
        name="waste-extract",
        kind="extract_file",
        source="waste",
        folder=Path("drop/waste"),
        mapping={"local_id": "account_no", "given_names": "forename"},
    )
    store = ConnectorStore(engine)
    store.ensure(definition.name, definition.kind)
    records = ServiceRecords(engine)
    connector = ExtractFileConnector(definition, tmp_path, records, store)
    folder = tmp_path / "drop/waste"
    drop(
        folder,
        "week1.csv",
        "account_no,forename,family_name,date_of_birth,postcode,bin_colour\n"
        "W-1,Ann,Lee,04/03/1970,ex1 2ab,green\n"
        "W-2,Bob,Khan,1980-05-06,EX2 3CD,black\n",
    )
    assert asyncio.run(connector.run_once()) == 2
    ann = records.get("waste", "W-1")
    assert ann is not None and (ann.given_names, ann.postcode) == ("Ann", "EX1 2AB")
    assert (folder / "processed/week1.csv").exists()
    # the next file changes one record and deletes the other
    drop(
        folder,
        "week2.csv",
        "account_no,forename,family_name,deleted\nW-1,Anne,Lee-Smith,\nW-2,,,yes\n",
    )
    assert asyncio.run(connector.run_once()) == 1
    ann = records.get("waste", "W-1")
    assert ann is not None and (ann.given_names, ann.family_name) == ("Anne", "Lee-Smith")
    assert records.get("waste", "W-2") is None
    # a bad file loads nothing and says where
    drop(folder, "week3.csv", "account_no,forename,date_of_birth\nW-3,Cat,31/02/1990\n")
    assert asyncio.run(connector.run_once()) == 0
    assert records.get("waste", "W-3") is None
    error = (folder / "failed/week3.csv.error.txt").read_text()
    assert "week3.csv row 2.date_of_birth" in error and "Cat" not in error
    status = store.status(definition.name)
    assert status is not None and "week3.csv" in status.last_error
    # a file without the local id column is refused with what it has
    drop(folder, "week4.csv", "forename\nDan\n")
    asyncio.run(connector.run_once())
    assert (
        "lacks the local_id column 'account_no'"
        in (folder / "failed/week4.csv.error.txt").read_text()
    )
    engine.dispose()


def test_sql_polling_loads_an_extract_by_high_water_mark(tmp_path: Path) -> None:
    engine = hub_engine(tmp_path)
    source = make_engine(f"sqlite:///{tmp_path / 'parking.db'}")
    with source.begin() as conn:
        conn.execute(
            text(
                "CREATE TABLE permit_holders (change_id INTEGER PRIMARY KEY, permit_ref TEXT, "
                "given_names TEXT, family_name TEXT, date_of_birth TEXT, postcode TEXT, "
                "vehicle TEXT, deleted INTEGER)"
            )
        )
        conn.execute(
            text(
                "INSERT INTO permit_holders VALUES "
                "(1, 'PK-1', 'Ann', 'Lee', '1970-03-04', 'EX1 2AB', 'AB12 CDE', 0), "
                "(2, 'PK-2', 'Bob', 'Khan', '1980-05-06', 'not a postcode', 'XY34 ZZZ', 0), "
                "(3, 'PK-1', 'Anne', 'Lee', '1970-03-04', 'EX1 2AB', 'AB12 CDE', 0)"
            )
        )
    definition = ExtractSqlDef(
        name="parking-extract",
        kind="extract_sql",
        source="parking",
        url="sqlite:///unused",
        table="permit_holders",
        key_column="change_id",
        mapping={"local_id": "permit_ref"},
    )
    store = ConnectorStore(engine)
    store.ensure(definition.name, definition.kind)
    records = ServiceRecords(engine)
    connector = ExtractSqlConnector(definition, source, records, store)
    assert asyncio.run(connector.run_once()) == 1
    pk1 = records.get("parking", "PK-1")
    assert pk1 is not None and pk1.given_names == "Anne"  # the later change won
    assert records.get("parking", "PK-2") is None  # its postcode is refused
    status = store.status(definition.name)
    assert status is not None and status.position == "3" and status.rejected == 1
    assert "permit_holders row change_id 2.postcode" in status.last_error
    assert "not a postcode" not in status.last_error.replace("not a UK postcode", "")
    with source.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO permit_holders (change_id, permit_ref, deleted) VALUES (4, 'PK-1', 1)"
            )
        )
    asyncio.run(connector.run_once())
    assert records.get("parking", "PK-1") is None
    assert store.position(definition.name) == "4"
    source.dispose()
    engine.dispose()
