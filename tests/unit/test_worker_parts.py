"""`hub up` with HUB_WORKERS=n: which worker processes it starts, their logs and metrics ports."""

from __future__ import annotations

import pytest

from hub.errors import ConfigError
from hub.settings import HubSettings, load_settings
from runtime.stack import worker_parts


@pytest.fixture(autouse=True)
def _clean_hub_env(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for name in list(os.environ):
        if name.startswith("HUB_"):
            monkeypatch.delenv(name)


def test_one_worker_by_default_named_as_before() -> None:
    assert load_settings().workers == 1
    assert worker_parts(HubSettings()) == [("worker", "worker", {})]


def test_each_worker_has_its_own_name_and_metrics_port() -> None:
    parts = worker_parts(HubSettings(workers=3, worker_metrics_port=9400))
    assert parts == [
        ("worker", "worker", {"worker_metrics_port": 9400}),
        ("worker-2", "worker", {"worker_metrics_port": 9401}),
        ("worker-3", "worker", {"worker_metrics_port": 9402}),
    ]


def test_metrics_off_stays_off_for_every_worker() -> None:
    assert [o for _, _, o in worker_parts(HubSettings(workers=2))] == [{}, {}]


def test_a_metrics_port_the_last_worker_cannot_have_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HUB_WORKERS", "3")
    monkeypatch.setenv("HUB_WORKER_METRICS_PORT", "65534")
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert caught.value.problems[0].location == "HUB_WORKER_METRICS_PORT"
    assert "65536" in caught.value.problems[0].message


@pytest.mark.parametrize("value", ["0", "17", "two"])
def test_a_worker_count_out_of_range_names_the_variable(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("HUB_WORKERS", value)
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert caught.value.problems[0].location == "HUB_WORKERS"
