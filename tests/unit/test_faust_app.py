"""The worker's faust app: lifecycle, timers and tasks, and no Kafka client of its own."""

from __future__ import annotations

from pathlib import Path

from faust.types import ConsumerT, ProducerT
from faust.types.tables import TableManagerT

from agents.app import make_faust_app
from hub.settings import HubSettings


def test_the_faust_app_opens_no_kafka_client_of_its_own(tmp_path: Path) -> None:
    """The batch agents consume and produce with their own aiokafka clients. A faust consumer
    would join a consumer group of its own before any task ran (about 3 s more for every worker
    start on the embedded broker) and then fetch and heartbeat for nothing."""
    app = make_faust_app(HubSettings(kafka_bootstrap="127.0.0.1:9092", data_dir=tmp_path))
    started = list(app.boot_strategy.server())
    kafka = [s for s in started if isinstance(s, ConsumerT | ProducerT | TableManagerT)]
    assert kafka == []
    assert started == [app.agents]  # faust's (empty) agent manager: the hub's agents are tasks
