"""A batch agent retries a failed batch and gives up only after its last attempt."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

import agents.batching as batching
from agents.batching import BatchAgent, OutRecord
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
    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.calls = 0

    async def __call__(self, records: Sequence[Any]) -> list[OutRecord]:
        self.calls += 1
        if self.calls <= self.failures:
            raise ConnectionError("database restarting")
        return [OutRecord("audit", None, b"row")]


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


async def test_after_the_last_attempt_the_error_propagates() -> None:
    handler, producer = _Flaky(failures=10), _Producer()
    agent = BatchAgent("t", ["x"], handler, HubSettings())
    with pytest.raises(ConnectionError):
        await agent._handle(
            producer, [type("R", (), {"topic": "x", "partition": 0, "offset": 5})()]
        )  # type: ignore[list-item]
    assert handler.calls == 4 and producer.sent == []
