"""The connector process re-reads the configuration directory with the same watcher as the
worker and the API (issue 13): a changed connector runs with its new definition without a
restart; a broken edit is refused and the connectors go on as they were."""

from __future__ import annotations

import asyncio
import os
import shutil
from pathlib import Path

from hub.connectors.store import ConnectorStore
from hub.db.engine import make_engine
from hub.settings import REPO_ROOT, HubSettings
from runtime.connectors import run_connectors
from tests.connector_samples import HEADER, move_line
from tests.waiting import wait_for_async


def drop(folder: Path, name: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes(HEADER.encode() + b"\n" + move_line(f"P-{path.stem}").encode() + b"\n")
    os.utime(path, (1_700_000_000, 1_700_000_000))  # long settled


async def imported(settings: HubSettings, name: str, timeout: float = 30.0) -> None:
    engine = make_engine(settings.effective_database_url)
    try:
        await wait_for_async(
            lambda: any(
                i.file_name == name and i.status == "done" for i in ConnectorStore(engine).imports()
            ),
            f"{name} imported",
            timeout,
            every=0.1,
        )
    finally:
        engine.dispose()


async def test_a_changed_connector_runs_with_its_new_definition(
    hub_settings: HubSettings, wiring: object, tmp_path: Path
) -> None:
    config = tmp_path / "config"
    shutil.copytree(REPO_ROOT / "config", config)
    settings = hub_settings.model_copy(
        update={"config_dir": config, "config_reload_interval_s": 0.1}
    )
    connectors = config / "connectors.yaml"
    stop = asyncio.Event()
    task = asyncio.create_task(run_connectors(settings, settings.kafka_bootstrap, None, stop))
    try:
        drop(settings.data_dir / "drop/council-tax", "first.csv")
        await imported(settings, "first.csv")

        connectors.write_text(
            connectors.read_text().replace("folder: drop/council-tax", "folder: drop/ctax-2")
        )
        await asyncio.sleep(0.5)  # the next checks (every 0.1 s) pick the edit up
        drop(settings.data_dir / "drop/ctax-2", "second.csv")
        await imported(settings, "second.csv")

        # a broken edit: refused whole, the connector keeps its definition in force
        connectors.write_text(connectors.read_text().replace("kind: file_drop", "kind: filedrop"))
        await asyncio.sleep(0.5)
        assert not task.done()
        drop(settings.data_dir / "drop/ctax-2", "third.csv")
        await imported(settings, "third.csv")
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)
