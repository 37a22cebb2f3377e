"""SIGKILL the worker in the middle of a 2,000-event stream, restart it, and count: every event
reaches every entitled recipient (webhook and inbox) at least once, exactly once after
de-duplication by webhook-id, and per person in order."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from hub.db.engine import make_engine
from hub.events.publisher import EventPublisher
from hub.inbox.store import InboxStore
from hub.routing.messages import delivery_id
from hub.settings import HubSettings
from tests.conftest import JOURNEY_TIMEOUT_S
from tests.integration.conftest import WorkerProcess
from tests.integration.webhook_receiver import Endpoint, Receiver, make_secret
from tests.integration.webhook_setup import move, webhook_config, webhook_settings
from tests.people import link_events
from tests.waiting import wait_for

# a worker killed and restarted: every wait has its own deadline; this only guards a hang
pytestmark = pytest.mark.timeout(JOURNEY_TIMEOUT_S)

PEOPLE = 200
MOVES_EACH = 10  # 2,000 events


def all_received(endpoint: Endpoint, expected: set[str]) -> Callable[[], bool]:
    return lambda: expected <= endpoint.accepted_ids()


async def test_sigkill_mid_stream_loses_nothing(
    hub_settings: HubSettings, publisher: EventPublisher, tmp_path: Path
) -> None:
    waste = Endpoint("waste", make_secret("waste"))
    parking = Endpoint("parking", make_secret("parking"))
    with Receiver([waste, parking]) as rx:
        config = webhook_config(
            tmp_path / "config", {"waste": rx.url("waste"), "parking": rx.url("parking")}
        )
        settings = await webhook_settings(
            hub_settings, config, {"waste": waste.secret, "parking": parking.secret}
        )
        log = tmp_path / "worker.log"
        worker = WorkerProcess(settings, log)
        worker.start()
        subjects = [f"P-{i:04d}" for i in range(PEOPLE)]
        links = [e for s in subjects for e in link_events(s, ("waste", "parking", "electoral"))]
        await publisher.publish_many(links)
        events = [move(f"evt-k-{s}-{n}", s, n) for n in range(MOVES_EACH) for s in subjects]
        await publisher.publish_many(events[:1000])
        wait_for(lambda: len(waste.accepted_ids()) >= 300, lambda: log.read_text()[-2000:], 120)
        assert worker.proc is not None
        worker.proc.kill()  # SIGKILL: no shutdown, offsets and in-flight requests as they are
        worker.proc.wait()
        await publisher.publish_many(events[1000:])
        before = len(waste.accepted_ids())
        assert before < len(events)  # killed mid-stream

        worker = WorkerProcess(settings, log)
        worker.start()
        try:
            for endpoint in (waste, parking):
                expected = {
                    delivery_id(e.envelope.id, endpoint.name, source=e.envelope.source)
                    for e in events
                }
                wait_for(
                    all_received(endpoint, expected),
                    lambda: log.read_text()[-2000:],
                    240,
                )
                assert endpoint.accepted_ids() == expected  # nothing unexpected
                assert endpoint.invalid_signatures == 0
                # per person, the first receipt of each update came in the order they happened
                first_seen: dict[str, list[int]] = {}
                seen: set[str] = set()
                for r in endpoint.accepted():
                    if r.webhook_id in seen:
                        continue
                    seen.add(r.webhook_id)
                    n = int(r.body["event_id"].rsplit("-", 1)[1])
                    first_seen.setdefault(r.body["subject"], []).append(n)
                assert all(v == sorted(v) for v in first_seen.values())
            inbox = InboxStore(make_engine(settings.effective_database_url))
            wait_for(
                lambda: inbox.pending("electoral") >= len(events),
                lambda: f"electoral inbox {inbox.pending('electoral')}",
                120,
            )
            assert inbox.pending("electoral") == len(events)  # unique by delivery id
            print(
                f"waste: {len(waste.accepted())} receipts for {len(events)} deliveries, "
                f"parking: {len(parking.accepted())}"
            )
        finally:
            assert worker.stop() == 0
