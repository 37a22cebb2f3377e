"""The embedded stack: broker (unless HUB_KAFKA_BOOTSTRAP is set), worker and API as child processes.

Children run in their own sessions so Ctrl-C reaches only this supervisor, which stops them in
order (API, worker, broker). They also die with it if it is killed (PR_SET_PDEATHSIG). While the
stack runs, `Stack.supervise` restarts a child (or the embedded broker) that died, with backoff.
"""

from __future__ import annotations

import asyncio
import errno
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from types import TracebackType

import httpx
import structlog

from hub.broker.admin import ensure_topics
from hub.broker.embedded import EmbeddedBroker, die_with_parent, free_port
from hub.db.engine import make_engine
from hub.errors import ConfigError, Problem, StackError
from hub.heartbeat import HeartbeatStore
from hub.secrets import embedded_settings, require_secrets, secret_problems
from hub.settings import HubSettings
from hub.timeutil import utcnow
from runtime.connectors import has_connectors
from runtime.wiring import open_stores, wire

log = structlog.get_logger("runtime.stack")


def settings_env(settings: HubSettings) -> dict[str, str]:
    """The environment that gives a child process exactly these settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
    for name in type(settings).model_fields:
        value = _plain(getattr(settings, name))
        if value is None:
            continue
        # complex values (lists, tuples, dicts) as JSON: how pydantic-settings reads them back
        env[f"HUB_{name.upper()}"] = (
            json.dumps(value) if isinstance(value, list | dict) else str(value)
        )
    return env


def _plain(value: object) -> object:
    """Secrets revealed, paths as text, tuples as lists: what an environment variable can hold."""
    if hasattr(value, "get_secret_value"):
        return value.get_secret_value()
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    return value


@dataclass
class _Restarts:
    """When a supervised part died recently, and when it is due to start again."""

    times: deque[float] = field(default_factory=deque)
    due_at: float | None = None  # set while a restart is pending

    def schedule(self, name: str, now: float, limit: int, window_s: float) -> float:
        """Record a death; the delay before the restart (1, 2, 4... s, at most 10 s). Too many
        deaths within the window is a StackError: something is wrong that a restart won't fix."""
        while self.times and now - self.times[0] > window_s:
            self.times.popleft()
        if len(self.times) >= limit:
            raise StackError(
                f"the {name} process died {len(self.times) + 1} times within {window_s:.0f}s; "
                "stopping the stack (see HUB_STACK_RESTART_LIMIT, HUB_STACK_RESTART_WINDOW_S)"
            )
        self.times.append(now)
        delay = float(min(10, 2 ** (len(self.times) - 1)))
        self.due_at = now + delay
        return delay


def _spawn(argv: list[str], env: dict[str, str], log_file: Path) -> subprocess.Popen[bytes]:
    out = open(log_file, "ab")  # noqa: SIM115
    proc = subprocess.Popen(
        argv,
        env=env,
        stdout=out,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
        preexec_fn=die_with_parent,
    )
    out.close()
    return proc


@dataclass
class _Child:
    name: str
    argv: list[str]
    env: dict[str, str]
    log_file: Path
    proc: subprocess.Popen[bytes]  # the last one started (dead while a restart is pending)
    restarts: _Restarts = field(default_factory=_Restarts)

    def respawn(self) -> None:
        self.proc = _spawn(self.argv, self.env, self.log_file)


def _print_nothing(message: str) -> None:
    pass


def check_api_port(settings: HubSettings) -> None:
    """Fail at once, before anything starts, when the API's port is taken (another `hub up`?)."""
    if not settings.api_port:
        return
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds it
        try:
            sock.bind((settings.api_host, settings.api_port))
        except socket.gaierror as exc:  # a host name that does not resolve
            raise StackError(_host_unusable(settings, exc.strerror or str(exc))) from None
        except OSError as exc:
            why = exc.strerror or str(exc)
            if exc.errno == errno.EADDRNOTAVAIL:  # an address of another machine
                raise StackError(_host_unusable(settings, why)) from None
            raise StackError(_port_taken(settings, why)) from None


def _host_unusable(settings: HubSettings, why: str) -> str:
    return (
        f"the API cannot listen on {settings.api_host} ({why}): HUB_API_HOST must be an address "
        "of this machine: 127.0.0.1 (this machine only) or 0.0.0.0 (every interface)."
    )


def _port_taken(settings: HubSettings, why: str = "address already in use") -> str:
    return (
        f"the API port {settings.api_port} on {settings.api_host} is not available ({why}): "
        "another `hub up` or program holds it. Stop it, or set HUB_API_PORT to a free port "
        "(0 picks any free port)."
    )


@dataclass
class Stack:
    settings: HubSettings
    ready_timeout: float = 90.0
    broker: EmbeddedBroker | None = None
    children: list[_Child] = field(default_factory=list)
    api_url: str = ""
    notify: Callable[[str], None] = _print_nothing  # what `hub up` prints for the operator
    broker_restarts: _Restarts = field(default_factory=_Restarts)

    @property
    def log_dir(self) -> Path:
        return self.settings.data_dir / "logs"

    def start(self) -> Stack:
        check_api_port(self.settings)  # fail fast: the port taken (another `hub up`?) ...
        wire(self.settings)  # ... or a bad configuration, before anything starts
        require_secrets(self.settings, "hub up")  # external Kafka: its own secrets, or nothing
        if self.settings.embedded_broker:
            # keys generated into (or read from) the data dir before any child starts; one set
            # in the environment is used as it is, so it must be usable
            self.settings = embedded_settings(self.settings)
            problems = secret_problems(self.settings)
            if problems:
                raise ConfigError(
                    "hub up refuses to start: a secret set in the environment is not usable",
                    problems,
                )
        self.log_dir.mkdir(parents=True, exist_ok=True)
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        return self

    def _start(self) -> None:
        settings = self.settings
        bootstrap = settings.kafka_bootstrap
        if not bootstrap:  # its keys are in the settings already (`start`)
            self.broker = EmbeddedBroker(log_file=self.log_dir / "broker.log")
            bootstrap = self.broker.start()
        port = settings.api_port or free_port(settings.api_host)
        settings = settings.model_copy(update={"kafka_bootstrap": bootstrap, "api_port": port})
        self.settings = settings
        self._create_topics()
        open_stores(
            settings, schema="create"
        ).engine.dispose()  # migrate once, before the children start
        self._start_children()
        self.api_url = f"http://{settings.api_host}:{port}"
        running_file(settings).write_text(
            json.dumps({"pid": os.getpid(), "bootstrap": bootstrap, "api_url": self.api_url})
        )
        self._wait_ready()

    def _create_topics(self) -> None:
        asyncio.run(ensure_topics(self.settings, wire(self.settings).topics()))

    def _start_children(self) -> None:
        connectors = ("connectors",) if has_connectors(self.settings) else ()
        parts = [
            *worker_parts(self.settings),
            ("api", "api", {}),
            *((c, c, {}) for c in connectors),
        ]
        for name, part, overrides in parts:
            env = settings_env(self.settings.model_copy(update=overrides))
            argv = [sys.executable, "-m", "runtime.process", part]
            log_file = self.log_dir / f"{name.removesuffix('s')}.log"  # connector.log, as before
            self.children.append(_Child(name, argv, env, log_file, _spawn(argv, env, log_file)))

    def _wait_ready(self) -> None:
        """Until the API is ready (/readyz) and, a check of its own since readiness does not
        depend on a worker, every worker's agents hold partitions (their heartbeats say so)."""
        deadline = time.monotonic() + self.ready_timeout
        last = "no answer"
        beats = HeartbeatStore(make_engine(self.settings.effective_database_url))
        fresh = timedelta(seconds=self.settings.worker_stale_after_s)
        # one client for every look: each new one reads the CA bundle (~45 ms of CPU)
        http = httpx.Client(timeout=5)
        try:
            while time.monotonic() < deadline:
                self.check_alive()
                try:
                    response = http.get(f"{self.api_url}/readyz")
                    last = response.text
                    if response.status_code == 200:
                        ready = beats.ready_workers(utcnow(), fresh)
                        last = _not_all_ready(ready, self.settings.workers)
                        if ready >= self.settings.workers:
                            log.info(
                                "stack_ready",
                                api=self.api_url,
                                bootstrap=self.settings.kafka_bootstrap,
                            )
                            return
                except httpx.HTTPError as exc:
                    last = repr(exc)
                time.sleep(0.2)
        finally:
            http.close()
            beats.engine.dispose()
        raise StackError(f"the stack was not ready within {self.ready_timeout:.0f}s ({last})")

    def check_alive(self) -> None:
        """Raise if any part has died (while starting, a death is a failure to start)."""
        if self.broker is not None and self.broker.exit_code is not None:
            raise StackError(f"the embedded broker exited with code {self.broker.exit_code}")
        for child in self.children:
            code = child.proc.poll()
            if code is not None:
                self._raise_if_port_taken(child)
                tail = _tail(child.log_file)
                raise StackError(
                    f"the {child.name} process exited with code {code}; its log ends:\n{tail}"
                )

    def supervise(self) -> None:
        """One look at every part, for `hub up` to call a few times a second: a part that died is
        restarted after a backoff (the broker on its old port, its topics created again), and
        said so; too many deaths in a short window stop the stack (StackError)."""
        now = time.monotonic()
        if self.broker is not None:
            self._supervise_broker(now)
        for child in self.children:
            if child.restarts.due_at is not None:  # dead, waiting for its restart
                if now >= child.restarts.due_at:
                    child.restarts.due_at = None
                    child.respawn()
                    self._say(f"Restarted the {child.name} process.", child=child.name)
                continue
            code = child.proc.poll()
            if code is None:
                continue
            self._raise_if_port_taken(child)
            delay = child.restarts.schedule(child.name, now, *self._limits)
            self._say(
                f"The {child.name} process exited with code {code}; restarting it in "
                f"{delay:.0f}s (its log: {child.log_file}).",
                child=child.name,
                exit_code=code,
                restart_in_s=delay,
            )

    def _supervise_broker(self, now: float) -> None:
        broker = self.broker
        assert broker is not None
        pending = self.broker_restarts.due_at
        if pending is None:
            code = broker.exit_code
            if code is None:
                return
            delay = self.broker_restarts.schedule("embedded broker", now, *self._limits)
            delay = (
                0.0 if len(self.broker_restarts.times) == 1 else delay
            )  # nothing runs without it
            self.broker_restarts.due_at = now + delay
            self._say(
                f"The embedded broker exited with code {code}; restarting it on port "
                f"{broker.port} (messages it held in memory are re-published from the ingest "
                "journal by the worker's reconciler).",
                child="broker",
                exit_code=code,
                restart_in_s=delay,
            )
            if delay:
                return
        elif now < pending:
            return
        self.broker_restarts.due_at = None
        broker.stop()  # reap the dead process
        broker.start(port=broker.port)
        self._create_topics()
        self._say("Restarted the embedded broker and created its topics.", child="broker")

    @property
    def _limits(self) -> tuple[int, float]:
        return self.settings.stack_restart_limit, self.settings.stack_restart_window_s

    def _raise_if_port_taken(self, child: _Child) -> None:
        """The API exiting because its port is taken is not retried: a restart cannot fix it."""
        if child.name == "api" and "address already in use" in _tail(child.log_file).lower():
            raise StackError(_port_taken(self.settings))

    def _say(self, message: str, **fields: object) -> None:
        log.warning("stack_child_event", message=message, **fields)
        self.notify(message)

    def stop(self, timeout: float = 20.0) -> None:
        running_file(self.settings).unlink(missing_ok=True)
        for child in reversed(self.children):  # connectors and API first, then the workers
            if child.proc.poll() is None:
                child.proc.send_signal(signal.SIGTERM)
                try:
                    child.proc.wait(timeout)
                except subprocess.TimeoutExpired:
                    child.proc.kill()
                    child.proc.wait()
        self.children.clear()
        if self.broker is not None:
            self.broker.stop()
            self.broker = None

    def __enter__(self) -> Stack:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def running_file(settings: HubSettings) -> Path:
    """Where a running `hub up` says which broker and API it started, for other `hub` commands."""
    return settings.data_dir / "running.json"


def running_bootstrap(settings: HubSettings) -> str:
    """HUB_KAFKA_BOOTSTRAP, or the broker of the `hub up` running on this data dir."""
    if settings.kafka_bootstrap:
        require_secrets(settings, "this command")
        return settings.kafka_bootstrap
    try:
        running = json.loads(running_file(settings).read_text())
        os.kill(int(running["pid"]), 0)
        return str(running["bootstrap"])
    except (OSError, ValueError, KeyError):
        raise ConfigError(
            "no broker to publish to",
            [
                Problem(
                    "HUB_KAFKA_BOOTSTRAP",
                    "required",
                    f"start the hub (`hub up`, data dir {settings.data_dir}) or set HUB_KAFKA_BOOTSTRAP",
                )
            ],
        ) from None


def worker_parts(settings: HubSettings) -> list[tuple[str, str, dict[str, object]]]:
    """The worker processes `hub up` starts: (name, part, settings of its own) for each of
    HUB_WORKERS. Worker 1 is "worker" (worker.log, as with one worker), worker n "worker-n";
    each serves its metrics on a port of its own (HUB_WORKER_METRICS_PORT + n - 1)."""
    base = settings.worker_metrics_port
    return [
        (
            "worker" if n == 1 else f"worker-{n}",
            "worker",
            {"worker_metrics_port": base + n - 1} if base else {},
        )
        for n in range(1, settings.workers + 1)
    ]


def _not_all_ready(ready: int, workers: int) -> str:
    if workers == 1:
        return "the worker's agents hold no partitions yet"
    return f"{ready} of {workers} workers' agents hold partitions"


def _tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"
