"""Helpers for the connector tests: read back every record on a topic, by exact end offsets."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

from aiokafka import AIOKafkaConsumer, TopicPartition

from hub.settings import HubSettings
from runtime.stack import settings_env
from tests.waiting import wait_for


async def topic_event_ids(bootstrap: str, topic: str) -> list[str]:
    """The `ce_id` of every record on `topic`, from the beginning to the current end."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        if not partitions:
            await consumer.topics()
            partitions = [
                TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()
            ]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        end = await consumer.end_offsets(partitions)
        ids: list[str] = []
        while [tp for tp in partitions if await consumer.position(tp) < end[tp]]:
            batches = await consumer.getmany(timeout_ms=500)
            for records in batches.values():
                for record in records:
                    ids += [v.decode() for k, v in record.headers if k == "ce_id"]
        return ids
    finally:
        await consumer.stop()


async def read_ids(settings: HubSettings, event_type: str = "address.changed") -> list[str]:
    return await topic_event_ids(settings.kafka_bootstrap, f"events.{event_type}")


def duplicates(ids: list[str]) -> dict[str, int]:
    return {i: n for i, n in Counter(ids).items() if n > 1}


def config_with_connectors(tmp_path: Path, source_config: Path, connectors_yaml: str) -> Path:
    """A copy of the sample configuration with its connectors.yaml replaced."""
    target = tmp_path / "config"
    shutil.copytree(source_config, target)
    (target / "connectors.yaml").write_text(connectors_yaml)
    return target


def start_connector(settings: HubSettings, name: str, log_file: Path) -> subprocess.Popen[bytes]:
    with open(log_file, "ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "cli", "run", "connectors", name],
            env=settings_env(settings),
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def wait_until(
    check: object,
    what: str,
    timeout: float = 120,
    proc: subprocess.Popen[bytes] | None = None,
    log_file: Path | None = None,
) -> None:
    def done() -> bool:
        if proc is not None and proc.poll() is not None:
            raise AssertionError(
                f"connector exited: {log_file.read_text()[-3000:] if log_file else ''}"
            )
        return bool(check())  # type: ignore[operator]

    wait_for(done, what, timeout, every=0.02)
