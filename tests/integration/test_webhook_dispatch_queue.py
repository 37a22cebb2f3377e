"""The recipient loop's in-memory queue and background recording, run for real (loopback HTTP,
SQLite outbox, a recording producer): per-person order, no row sent twice at once, every
attempt audited, nothing marked delivered before the receiver's 2xx."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Iterator

import pytest
from aiohttp import web

from agents import webhook_dispatcher
from hub.delivery.outbox import OutboxStatus, OutboxStore
from hub.settings import HubSettings
from hub.timeutil import utcnow
from tests.integration.test_webhook_attempts import (
    RecordingProducer,
    loop_for,
    outbox,  # noqa: F401 (fixture)
    serve,
)
from tests.integration.test_webhook_outbox import dlv
from tests.waiting import wait_for_async

PEOPLE = 12
UPDATES = 3  # per person, in this order (e0..e2 of each person)


@pytest.fixture
def fast(settings: HubSettings) -> Iterator[HubSettings]:
    yield settings.model_copy(update={"webhook_poll_interval_s": 0.02})


async def test_queued_rows_keep_per_person_order_and_are_never_sent_twice_at_once(
    fast: HubSettings,
    outbox: OutboxStore,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """36 updates of 12 people through a loop of 4 slots and a queue of 8 rows (so the queue
    empties and is refilled several times while attempts are still being recorded): each
    person's updates arrive in order, a person's next update is only sent once the previous
    one was answered 2xx, no webhook-id is in flight twice, and a failed first attempt is
    retried with the same webhook-id before that person's later updates go out."""
    monkeypatch.setattr(webhook_dispatcher, "DUE_BATCH_FACTOR", 2)
    deliveries = {
        (p, u): dlv(f"evt-{p}-{u}", f"P{p}") for u in range(UPDATES) for p in range(PEOPLE)
    }
    person_of = {d.delivery_id: d.subject for d in deliveries.values()}
    failing = deliveries[(3, 0)].delivery_id  # P3's first update: a 500 the first time
    arrivals: list[tuple[str, int]] = []  # (webhook-id, status answered), in answer order
    seen: list[tuple[str, str]] = []  # ("start" | "2xx" | "500", webhook-id), as they happen
    in_flight: Counter[str] = Counter()
    twice_at_once: list[str] = []

    async def receiver(request: web.Request) -> web.Response:
        msg_id = request.headers["webhook-id"]
        seen.append(("start", msg_id))
        in_flight[msg_id] += 1
        if in_flight[msg_id] > 1:
            twice_at_once.append(msg_id)
        await asyncio.sleep(0.005)  # several requests overlap
        in_flight[msg_id] -= 1
        status = 500 if msg_id == failing and not any(m == failing for m, _ in arrivals) else 204
        arrivals.append((msg_id, status))
        seen.append(("2xx" if status == 204 else "500", msg_id))
        return web.Response(status=status)

    runner, url = await serve(receiver)
    loop = loop_for(fast, outbox, url, concurrency=4)
    # the retry schedule (1 s, 2 s) without jitter: P3's retry is due a second later
    # (inserted in seq order: every person's update u before anyone's update u + 1)
    outbox.add([deliveries[(p, u)] for u in range(UPDATES) for p in range(PEOPLE)], utcnow())
    producer = RecordingProducer()
    task = asyncio.create_task(loop.run(producer))  # type: ignore[arg-type]
    try:
        await wait_for_async(
            lambda: (
                outbox.counts().get(("waste", OutboxStatus.DELIVERED.value), 0) == PEOPLE * UPDATES
            ),
            lambda: f"every update delivered: {outbox.counts()}",
            20,
        )
        await wait_for_async(
            lambda: len(producer.audit()) == PEOPLE * UPDATES + 1,
            lambda: f"every attempt audited: {len(producer.audit())}",
            20,
        )
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await runner.cleanup()

    assert twice_at_once == []
    # every update answered 2xx exactly once; the failed one was sent again with its id
    ok = Counter(m for m, s in arrivals if s == 204)
    assert set(ok) == set(person_of) and set(ok.values()) == {1}
    assert [m for m, s in arrivals if m == failing] == [failing, failing]
    # per person: the updates in order, each sent only after the previous one's 2xx
    for p in range(PEOPLE):
        ids = [deliveries[(p, u)].delivery_id for u in range(UPDATES)]
        mine = [(kind, m) for kind, m in seen if person_of[m] == f"P{p}"]
        expected = [step for m in ids for step in (("start", m), ("2xx", m))]
        if p == 3:
            expected = [("start", ids[0]), ("500", ids[0]), *expected]
        assert mine == expected, f"P{p}"
    # every attempt audited: one delivered per update, one attempt_failed for the 500
    outcomes = Counter((e.delivery_id, str(e.outcome)) for e in producer.audit())
    assert outcomes[(failing, "attempt_failed")] == 1
    assert all(outcomes[(d, "delivered")] == 1 for d in person_of)
    rows = outbox.rows("waste")
    assert all(r.status is OutboxStatus.DELIVERED for r in rows)
    assert next(r for r in rows if r.delivery_id == failing).attempts == 2


async def test_nothing_is_marked_delivered_before_the_audit_entry_is_acknowledged(
    fast: HubSettings,
    outbox: OutboxStore,  # noqa: F811
) -> None:
    """While the broker holds the audit entries' acknowledgements, the sent rows stay pending,
    are not sent again, and sending stops once a batch of attempts (4x the concurrency) waits
    to be recorded; once acknowledged, they are delivered and the rest goes out."""
    received: list[str] = []

    async def receiver(request: web.Request) -> web.Response:
        received.append(request.headers["webhook-id"])
        return web.Response(status=204)

    release = asyncio.Event()

    class SlowAcks(RecordingProducer):
        async def send(self, topic: str, value: bytes, **kw: object) -> asyncio.Future[None]:
            self.sent.append((topic, value))
            ack: asyncio.Future[None] = asyncio.get_running_loop().create_future()

            async def later() -> None:
                await release.wait()
                ack.set_result(None)

            asyncio.get_running_loop().create_task(later())
            return ack

    runner, url = await serve(receiver)
    loop = loop_for(fast, outbox, url, concurrency=2)
    outbox.add([dlv(f"e{i}", f"P{i}") for i in range(30)], utcnow())
    producer = SlowAcks()
    task = asyncio.create_task(loop.run(producer))  # type: ignore[arg-type]
    try:
        # 2 x 4 = 8 attempts waiting to be recorded stop the loop; the 2 in flight then finish
        await wait_for_async(lambda: len(received) >= 8, "eight attempts", 20)
        await asyncio.sleep(0.3)  # fifteen polls: nothing more may be sent meanwhile
        assert 8 <= len(received) <= 10
        assert {r.status for r in outbox.rows("waste")} == {OutboxStatus.PENDING}
        release.set()
        await wait_for_async(
            lambda: {r.status for r in outbox.rows("waste")} == {OutboxStatus.DELIVERED},
            lambda: f"every row delivered: {outbox.counts()}",
            20,
        )
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await runner.cleanup()
    assert len(received) == 30 and len(set(received)) == 30


async def test_two_workers_loops_on_one_outbox_send_each_update_once(
    fast: HubSettings,
    outbox: OutboxStore,  # noqa: F811
) -> None:
    """Every worker runs a loop for every webhook recipient over the same outbox: a row one
    loop took is not sent by the other as well (it would reach the receiver twice)."""
    received: Counter[str] = Counter()

    async def receiver(request: web.Request) -> web.Response:
        received[request.headers["webhook-id"]] += 1
        await asyncio.sleep(0.005)
        return web.Response(status=204)

    runner, url = await serve(receiver)
    loops = [loop_for(fast, outbox, url, concurrency=4) for _ in range(2)]
    outbox.add([dlv(f"e{i}", f"P{i}") for i in range(120)], utcnow())
    producer = RecordingProducer()
    tasks = [asyncio.create_task(loop.run(producer)) for loop in loops]  # type: ignore[arg-type]
    try:
        await wait_for_async(
            lambda: {r.status for r in outbox.rows("waste")} == {OutboxStatus.DELIVERED},
            lambda: f"every row delivered: {outbox.counts()}",
            20,
        )
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await runner.cleanup()
    assert len(received) == 120
    assert [m for m, n in received.items() if n > 1] == []
