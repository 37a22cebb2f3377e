"""File drop against the real embedded broker: the issue's CSV, unreadable files, a re-drop,
and an interrupted import that resumes without losing or re-publishing acked rows."""

from __future__ import annotations

import asyncio
import csv
import os
import signal
import subprocess
import sys
import time
from collections.abc import Awaitable, Sequence
from pathlib import Path
from typing import Any

import pytest

from connectors.file_drop import FileDropConnector, ImportContext, import_file
from hub.broker.producer import AiokafkaSender, make_producer
from hub.connectors.config import FileDropDef
from hub.connectors.ids import file_row_event_id, file_sha256
from hub.connectors.rows import ImportTarget
from hub.connectors.store import ConnectorStore, ImportKey
from hub.db.engine import make_engine
from hub.errors import BrokerError
from hub.events.publisher import EventPublisher, RecordSender
from hub.settings import HubSettings
from hub.signing.keys import record_keys
from runtime.connectors import build, connected, connector_defs, find_def
from runtime.stack import settings_env
from runtime.wiring import Wiring
from tests.connector_samples import GOOD_PEOPLE, issue_csv, many_rows_csv
from tests.integration.connector_helpers import duplicates, read_ids

SOURCE, TYPE = "council-tax", "address.changed"


def results_of(path: Path) -> dict[int, dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as f:
        return {int(r["row"]): r for r in csv.DictReader(f)}


def drop(folder: Path, name: str, data: bytes) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes(data)
    os.utime(path, (1_700_000_000, 1_700_000_000))  # long settled
    return path


async def test_the_issue_csv_dropped_in_the_folder(
    hub_settings: HubSettings, wiring: Wiring
) -> None:
    d = find_def(connector_defs(wiring), "council-tax-moves")
    assert isinstance(d, FileDropDef)
    folder = d.folder_in(hub_settings.data_dir)
    drop(folder, "moves.csv", issue_csv())
    drop(folder, "unicode-export.csv", issue_csv().decode("cp1252").encode("utf-16"))
    async with connected(hub_settings, hub_settings.kafka_bootstrap, [TYPE]) as hub:
        connector = build(d, hub)
        assert isinstance(connector, FileDropConnector)
        (summary,) = await connector.run_once()
        assert (summary.published, summary.rejected, summary.duplicates) == (3, 4, 1)
        assert summary.ignored_columns == ("officer_notes",)

        # good rows published once, with the ids the results file gives
        results = results_of(folder / "processed" / "moves.csv.results.csv")
        published = {n: r["event_id"] for n, r in results.items() if r["outcome"] == "published"}
        assert sorted(published) == [2, 3, 9]
        ids = await read_ids(hub_settings)
        assert sorted(ids) == sorted(published.values())
        sha = file_sha256(issue_csv())
        assert published[2] == file_row_event_id(sha, SOURCE, TYPE, 2)
        # bad rows reported with their reasons; nothing else lost
        assert "data.new_address.uprn" in results[4]["errors"]
        assert "data.effective_date: required, but missing: add it" in results[5]["errors"]
        assert "not UTF-8" in results[6]["errors"]
        assert "15 cells but the header names 13" in results[7]["errors"]
        assert results[8]["outcome"] == "duplicate" and results[8]["event_id"] == published[2]
        assert len(results) == 8
        assert not (folder / "moves.csv").exists() and (folder / "processed" / "moves.csv").exists()
        # a file that cannot be read at all goes to failed/ with the reason
        assert (folder / "failed" / "unicode-export.csv").exists()
        assert "UTF-16" in (folder / "failed" / "unicode-export.csv.error.txt").read_text()
        status = hub.connectors.status(d.name)
        assert status is not None and (status.published, status.rejected) == (3, 4)

        # the same file dropped again publishes nothing new
        drop(folder, "moves.csv", issue_csv())
        (again,) = await connector.run_once()
        assert again.already_done and again.published_now == 0
        assert sorted(await read_ids(hub_settings)) == sorted(published.values())
        processed = sorted(p.name for p in (folder / "processed").iterdir())
        assert len(processed) == 4  # both drops, each with its own results file
        assert all(name.startswith("moves") for name in processed)
        assert len(results_of(folder / "processed" / "moves.csv.results.csv")) == 8
    assert set(GOOD_PEOPLE) == {"P-1", "P-2", "P-3"}


class FailAfter:
    """A sender that breaks (like a lost broker connection) after `n` records."""

    def __init__(self, inner: RecordSender, n: int) -> None:
        self.inner, self.left = inner, n

    async def send(
        self, topic: str, value: bytes, key: bytes, headers: Sequence[tuple[str, bytes]]
    ) -> Awaitable[Any]:
        if self.left == 0:
            raise ConnectionError("broker connection lost")
        self.left -= 1
        return await self.inner.send(topic, value=value, key=key, headers=headers)


async def test_an_interrupted_import_resumes_without_republishing_acked_rows(
    hub_settings: HubSettings, wiring: Wiring, tmp_path: Path
) -> None:
    rows, batch = 2500, 200
    path = tmp_path / "big.csv"
    path.write_bytes(many_rows_csv(rows))
    d = find_def(connector_defs(wiring), "council-tax-moves")
    assert isinstance(d, FileDropDef)
    target = ImportTarget(SOURCE, TYPE, d.row_mapping(), d.name)
    store = ConnectorStore(make_engine(hub_settings.effective_database_url))
    producer = make_producer(hub_settings, hub_settings.kafka_bootstrap)
    await producer.start()
    try:
        sender = AiokafkaSender(producer)

        def ctx(s: RecordSender) -> ImportContext:
            return ImportContext(
                EventPublisher(s, wiring.codec, wiring.names, keys=record_keys(wiring.settings)),
                store,
                wiring.registry,
                wiring.rules,
                batch,
            )

        with pytest.raises(BrokerError):
            await import_file(path, target, ctx(FailAfter(sender, 1100)))
        key = ImportKey(file_sha256(path.read_bytes()), SOURCE, TYPE)
        progress = store.import_progress(key)
        assert progress is not None and progress.status == "running"
        assert progress.rows_done == 1000  # five batches acked; the sixth was in flight

        summary = await import_file(path, target, ctx(sender))
        assert summary.resumed_from == 1000
        assert (summary.published, summary.published_now) == (rows, rows - 1000)
    finally:
        await producer.stop()
    ids = await read_ids(hub_settings)
    sha = file_sha256(path.read_bytes())
    expected = {file_row_event_id(sha, SOURCE, TYPE, n) for n in range(2, rows + 2)}
    assert set(ids) == expected  # every row published, under its stable id
    in_flight = {file_row_event_id(sha, SOURCE, TYPE, n) for n in range(1002, 1002 + batch)}
    assert set(duplicates(ids)) <= in_flight  # only the in-flight batch went twice
    assert len(ids) - rows <= batch
    done = store.import_progress(key)
    assert done is not None and done.status == "done" and done.published == rows


def test_hub_import_killed_with_sigkill_resumes_when_run_again(
    hub_settings: HubSettings, wiring: Wiring, tmp_path: Path
) -> None:
    rows = 30_000
    path = tmp_path / "big.csv"
    path.write_bytes(many_rows_csv(rows))
    settings = hub_settings.model_copy(update={"import_batch_size": 500})
    env = settings_env(settings)
    command = [sys.executable, "-m", "cli", "connectors", "import", str(path), "--source", SOURCE]
    store = ConnectorStore(make_engine(settings.effective_database_url))
    key = ImportKey(file_sha256(path.read_bytes()), SOURCE, TYPE)

    def rows_done() -> int:
        progress = store.import_progress(key)
        return progress.rows_done if progress else 0

    with open(tmp_path / "import.log", "wb") as log:
        proc = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 120
        while rows_done() < 2000:
            assert proc.poll() is None, (tmp_path / "import.log").read_text()[-2000:]
            assert time.monotonic() < deadline
            time.sleep(0.01)
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    killed_at = rows_done()
    assert killed_at < rows, "the import finished before it could be killed"
    again = subprocess.run(command, env=env, capture_output=True, text=True, timeout=170)
    assert again.returncode == 0, again.stdout + again.stderr
    assert f"Resumed after row {killed_at + 1}" in again.stdout
    ids = asyncio.run(read_ids(settings))
    sha = key.file_sha256
    assert set(ids) == {file_row_event_id(sha, SOURCE, TYPE, n) for n in range(2, rows + 2)}
    assert len(ids) - rows <= 500  # only the batch in flight at the kill went twice


async def test_an_xlsx_dropped_in_the_folder(hub_settings: HubSettings, wiring: Wiring) -> None:
    from io import BytesIO

    from openpyxl import Workbook

    from tests.connector_samples import HEADER, move_line

    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append(HEADER.split(","))
    for person in ("P-x1", "P-x2"):
        cells: list[object] = [c or None for c in move_line(person).split(",")]
        cells[1] = int(str(cells[1]))  # Excel keeps UPRNs as numbers
        sheet.append(cells)
    out = BytesIO()
    workbook.save(out)
    d = find_def(connector_defs(wiring), "council-tax-moves")
    assert isinstance(d, FileDropDef)
    folder = d.folder_in(hub_settings.data_dir)
    drop(folder, "moves.xlsx", out.getvalue())
    async with connected(hub_settings, hub_settings.kafka_bootstrap, [TYPE]) as hub:
        connector = build(d, hub)
        assert isinstance(connector, FileDropConnector)
        (summary,) = await connector.run_once()
    assert (summary.published, summary.rejected) == (2, 0)
    results = results_of(folder / "processed" / "moves.xlsx.results.csv")
    assert sorted(await read_ids(hub_settings)) == sorted(r["event_id"] for r in results.values())
