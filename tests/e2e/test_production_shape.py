"""The shape a council deploys: the API and three workers on PostgreSQL, a broker that wants TLS
and SASL, a paging reader per recipient, one worker SIGKILLed mid-way and the database stopped
for 20 s. Every entitled delivery is seen exactly once by its reader, nothing is acknowledged
unseen, no surviving worker exits, and the audit chain verifies."""

from __future__ import annotations

import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from bench.pg_server import PgServer
from hub.broker.embedded import free_port
from hub.db.engine import make_engine
from hub.db.tables import InboxItem
from hub.settings import HubSettings
from runtime.stack import settings_env
from tests.conftest import SAMPLE_CONFIG, TEST_SECRETS, WIDE_WINDOW_DAYS, SecureBroker
from tests.e2e.conftest import LOOPBACK, hub_cmd
from tests.people import links_recorded, post_links
from tests.waiting import wait_for

READ_BY = ("waste", "parking")  # linked: each gets every move about its people
PEOPLE = [f"P-{700000 + i}" for i in range(40)]
EVENTS = 600  # a kill at a third, an outage at two thirds: hundreds in flight through each


def move(i: int) -> dict[str, object]:
    return {
        "id": f"move-{i:05d}",
        "type": "address.changed",
        "subject": PEOPLE[i % len(PEOPLE)],
        "data": {
            "previous_address": {
                "uprn": "100023336956",
                "lines": ["2 Mill Lane"],
                "postcode": "EX1 2AB",
            },
            "new_address": {
                "uprn": "100023412345",
                "lines": [f"{i} Orchard Close"],
                "postcode": "EX4 7QT",
            },
            "effective_date": "2026-11-20",
        },
    }


@dataclass
class Reader:
    """A receiving system reading its inbox as the docs say: page by the cursor it was given,
    acknowledge up to the cursor of what it has read."""

    url: str
    recipient: str
    seen: dict[str, set[int]] = field(default_factory=dict)  # delivery id: cursors it came at
    events: set[str] = field(default_factory=set)
    errors: int = 0  # 5xx and connection errors while the database is away
    errors_other: int = 0  # anything else (a 4xx): the reader was told it did wrong
    stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        headers = {"Authorization": f"Bearer demo-{self.recipient}-key"}
        cursor = 0
        with httpx.Client(base_url=self.url, headers=headers, timeout=10) as client:
            while not self.stop.is_set():
                try:
                    page = client.get(
                        "/v1/inbox", params={"after": cursor, "limit": 200, "wait": 1}
                    )
                    if page.status_code != 200:
                        self.errors += 1
                        self.errors_other += page.status_code < 500
                        time.sleep(0.5)
                        continue
                    body = page.json()
                    for item in body["items"]:
                        self.seen.setdefault(item["delivery_id"], set()).add(item["cursor"])
                        self.events.add(item["event_id"])
                    if body["items"]:
                        acked = client.post("/v1/inbox/ack", json={"up_to": body["next_cursor"]})
                        if acked.status_code != 200:
                            self.errors += 1
                            self.errors_other += acked.status_code < 500
                            time.sleep(0.5)
                            continue  # read the page again (the same cursors): then ack it
                    cursor = body["next_cursor"]
                except httpx.HTTPError:
                    self.errors += 1
                    time.sleep(0.5)


class Stack:
    """Each process with its own Kafka principal, as the deployment docs grant them."""

    def __init__(self, settings: HubSettings, kafka: SecureBroker, logs: Path) -> None:
        self.env = {**settings_env(settings), **kafka.env("hub")}
        self.kafka = kafka
        self.url = f"http://127.0.0.1:{settings.api_port}"
        self.logs = logs
        self.procs: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, name: str, *args: str, user: str) -> subprocess.Popen[bytes]:
        with open(self.logs / f"{name}.log", "ab") as out:
            proc = subprocess.Popen(
                hub_cmd(*args),
                env={**self.env, **self.kafka.env(user)},
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        self.procs[name] = proc
        return proc

    def log(self, name: str) -> str:
        return (self.logs / f"{name}.log").read_text()[-4000:]

    def stop_all(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.terminate()
        for proc in self.procs.values():
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()


def post_until_accepted(client: httpx.Client, body: dict[str, object]) -> None:
    """A source system retries until the hub says 202 (503 while its database is away), or
    200 `duplicate`: an earlier try was accepted after all (its answer was lost)."""
    deadline = time.monotonic() + 120
    while True:
        try:
            response = client.post("/v1/events", json=body)
            if response.status_code in (200, 202):
                return
            assert response.status_code in (500, 502, 503), response.text
        except httpx.HTTPError:
            pass
        assert time.monotonic() < deadline, f"{body['id']} never accepted"
        time.sleep(0.2)


def run_the_shape(
    settings: HubSettings,
    kafka: SecureBroker,
    logs: Path,
    workers: int,
    outage: PgServer | None,
) -> None:
    """API + `workers` workers over TLS+SASL; links, then EVENTS moves with a worker SIGKILLed
    a third of the way in and (given `outage`) the database stopped for 20 s at two thirds."""
    stack = Stack(settings, kafka, logs)
    init = subprocess.run(hub_cmd("init"), env=stack.env, capture_output=True, text=True)
    assert init.returncode == 0, init.stderr
    engine = make_engine(settings.effective_database_url)
    try:
        stack.start("api", "run", "api", user="hub-api")
        procs = [
            stack.start(f"worker-{n}", "run", "worker", user="hub-worker") for n in range(workers)
        ]
        wait_for(lambda: _ready(stack.url), "the API to be ready", 60)
        for person in PEOPLE:
            post_links(stack.url, person, READ_BY)
        wait_for(lambda: links_recorded(engine) >= len(PEOPLE) * 2, "the links to be recorded", 120)

        readers = [Reader(stack.url, r) for r in READ_BY]
        threads = [threading.Thread(target=r.run, daemon=True) for r in readers]
        for t in threads:
            t.start()

        killed = procs[-1]
        sent = 0
        lock = threading.Lock()

        def send(i: int) -> None:
            nonlocal sent
            with httpx.Client(
                base_url=stack.url,
                headers={"Authorization": "Bearer demo-council-tax-key"},
                timeout=10,
            ) as client:
                post_until_accepted(client, move(i))
            with lock:
                sent += 1

        def chaos() -> None:
            wait_for(lambda: sent >= EVENTS // 3, "a third sent", 300)
            killed.kill()
            print(f"{time.strftime('%X')} killed a worker at {sent} accepted")
            if outage is None:
                return
            wait_for(lambda: sent >= 2 * EVENTS // 3, "two thirds sent", 300)
            outage.stop()
            print(f"{time.strftime('%X')} PostgreSQL stopped at {sent} accepted")
            time.sleep(20)
            outage.start()
            print(f"{time.strftime('%X')} PostgreSQL started again")

        chaos_thread = threading.Thread(target=chaos, daemon=True)
        chaos_thread.start()
        with ThreadPoolExecutor(4) as pool:
            list(pool.map(send, range(EVENTS)))
        chaos_thread.join(120)
        assert not chaos_thread.is_alive()
        print(
            f"{time.strftime('%X')} all {EVENTS} accepted; readers at",
            [len(r.events) for r in readers],
        )
        expected = {f"move-{i:05d}" for i in range(EVENTS)}

        def all_seen() -> bool:
            for name, proc in stack.procs.items():
                assert proc is killed or proc.poll() is None, f"{name} exited:\n{stack.log(name)}"
            return all(r.events >= expected for r in readers)

        wait_for(all_seen, "every reader to see every move", 240)
        time.sleep(2)  # anything seen twice would show now
        for r in readers:
            r.stop.set()
        for t in threads:
            t.join(15)

        items = InboxItem.__table__  # type: ignore[attr-defined]
        with engine.connect() as conn:
            rows = conn.execute(
                select(items.c.recipient, items.c.delivery_id, items.c.acked_at)
            ).all()
        for r in readers:
            twice = [d for d, cursors in r.seen.items() if len(cursors) > 1]
            assert twice == [], f"{r.recipient} was handed deliveries twice"
            assert r.events == expected
            stored = {d for rec, d, _ in rows if rec == r.recipient}
            acked = {d for rec, d, at in rows if rec == r.recipient and at is not None}
            assert stored == set(r.seen), f"{r.recipient}: stored but never seen"
            assert acked <= set(r.seen), f"{r.recipient}: acknowledged unseen"
            assert r.errors_other == 0, f"{r.recipient}: unexpected answers {r.errors_other}"
        verify = subprocess.run(
            hub_cmd("audit", "verify"), env=stack.env, capture_output=True, text=True
        )
        assert verify.returncode == 0, verify.stdout + verify.stderr
    finally:
        engine.dispose()
        stack.stop_all()


def shape_settings(kafka: SecureBroker, database_url: str, tmp_path: Path) -> HubSettings:
    return HubSettings(
        **TEST_SECRETS,  # type: ignore[arg-type]
        kafka_bootstrap=kafka.bootstrap,
        database_url=database_url,
        data_dir=tmp_path / "data",
        config_dir=SAMPLE_CONFIG,
        api_port=free_port(),
        effective_date_past_days=WIDE_WINDOW_DAYS,
        reconcile_grace_s=20,
        reconcile_interval_s=5,
    )


@pytest.mark.postgres
def test_three_workers_on_postgresql_survive_a_kill_and_an_outage_and_readers_miss_nothing(
    own_postgres: PgServer, secure_broker: SecureBroker, tmp_path: Path
) -> None:
    settings = shape_settings(secure_broker, own_postgres.url, tmp_path)
    run_the_shape(settings, secure_broker, tmp_path, 3, own_postgres)


def test_two_workers_on_sqlite_survive_a_kill_and_readers_miss_nothing(
    secure_broker: SecureBroker, tmp_path: Path
) -> None:
    settings = shape_settings(secure_broker, f"sqlite:///{tmp_path / 'hub.db'}", tmp_path)
    run_the_shape(settings, secure_broker, tmp_path, 2, None)


def _ready(url: str) -> bool:
    try:
        return LOOPBACK.get(f"{url}/readyz").status_code == 200
    except httpx.HTTPError:
        return False
