"""A batch agent retries a failed batch and gives up only after its last attempt."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import pytest
from aiokafka import TopicPartition
from aiokafka.errors import CommitFailedError

import agents.batching as batching
from agents.batching import BatchAgent, OutRecord
from hub.broker.consumer import should_rest
from hub.settings import HubSettings


class _Producer:
    """Collects what was sent; `send` returns an already-acknowledged future like aiokafka's."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes]] = []

    async def send(
        self, topic: str, value: bytes, key: bytes | None = None, headers: Any = None
    ) -> Any:
        import asyncio

        self.sent.append((topic, value))
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        fut.set_result(None)
        return fut


class _Flaky:
    def __init__(self, failures: int, error: Exception | None = None) -> None:
        self.failures = failures
        self.error = error or ConnectionError("database restarting")
        self.calls = 0

    async def __call__(self, records: Sequence[Any]) -> list[OutRecord]:
        self.calls += 1
        if self.calls <= self.failures:
            raise self.error
        return [OutRecord("audit", None, b"row")]


QUICK = HubSettings(retry_backoff_initial_s=0.001, retry_backoff_max_s=0.002)


RECORD = type("Record", (), {"topic": "x", "partition": 0, "offset": 5})()


@pytest.fixture(autouse=True)
def _no_waiting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(batching, "RETRY_DELAYS_S", (0.0, 0.0, 0.0))


async def test_a_failed_batch_is_retried_until_it_succeeds() -> None:
    handler, producer = _Flaky(failures=2), _Producer()
    agent = BatchAgent("t", ["x"], handler, HubSettings())
    sent = await agent._handle(producer, [RECORD])  # type: ignore[arg-type, list-item]
    assert sent == 1 and handler.calls == 3
    assert producer.sent == [("audit", b"row")]  # output only from the successful attempt


async def test_a_transient_error_is_retried_for_as_long_as_it_lasts() -> None:
    handler, producer = _Flaky(failures=25), _Producer()  # far beyond RETRY_DELAYS_S
    agent = BatchAgent("t", ["x"], handler, QUICK)
    sent = await agent._handle(producer, [RECORD])  # type: ignore[arg-type, list-item]
    assert sent == 1 and handler.calls == 26


async def test_after_the_last_attempt_an_error_that_is_not_transient_propagates() -> None:
    handler, producer = _Flaky(failures=10, error=ValueError("a bug")), _Producer()
    agent = BatchAgent("t", ["x"], handler, HubSettings())
    with pytest.raises(ValueError):
        await agent._handle(
            producer, [type("R", (), {"topic": "x", "partition": 0, "offset": 5})()]
        )  # type: ignore[list-item]
    assert handler.calls == 4 and producer.sent == []


class _RebalancingConsumer:
    """Two batches from partition 0; committing the first fails as after a group rebalance."""

    def __init__(self) -> None:
        tp = TopicPartition("x", 0)
        self.tp = tp
        self.batches = [
            {tp: [_record(0), _record(1)]},
            {tp: [_record(2)]},
        ]
        self.commits: list[dict[TopicPartition, int]] = []
        self.stopped = False

    async def start(self) -> None:
        pass

    async def stop(self) -> None:
        self.stopped = True

    def assignment(self) -> set[TopicPartition]:
        return {self.tp}

    async def getmany(self, timeout_ms: int, max_records: int) -> Any:
        if self.batches:
            return self.batches.pop(0)
        raise asyncio.CancelledError  # the test is over: stop the loop as shutdown would

    async def commit(self, offsets: dict[TopicPartition, int] | None = None) -> None:
        if not self.commits and offsets is not None and offsets.get(self.tp) == 2:
            self.commits.append({})
            raise CommitFailedError("the group has rebalanced")
        self.commits.append(dict(offsets or {}))


def _record(offset: int) -> Any:
    return type("R", (), {"topic": "x", "partition": 0, "offset": offset})()


async def test_a_commit_refused_after_a_rebalance_skips_the_batch_and_goes_on(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    consumer = _RebalancingConsumer()
    monkeypatch.setattr(batching, "make_consumer", lambda *a: consumer)
    handler, producer = _Flaky(failures=0), _Producer()
    agent = BatchAgent("t", ["x"], handler, QUICK)
    with pytest.raises(asyncio.CancelledError):
        await agent.run(producer)  # type: ignore[arg-type]
    # The refused commit is not retried (the partition may be another member's now); the next
    # batch is handled and committed; nothing was committed past what was handled.
    assert handler.calls == 2
    assert consumer.commits == [{}, {consumer.tp: 3}]
    assert consumer.stopped


def test_an_agent_rests_only_after_its_quiet_spell_and_never_when_resting_is_off() -> None:
    assert not should_rest(1.9, 2.0)
    assert should_rest(2.0, 2.0)
    assert should_rest(60.0, 2.0)
    assert not should_rest(3600.0, 0.0)  # HUB_CONSUMER_REST_AFTER_S=0: never
