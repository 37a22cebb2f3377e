"""The embedded stack: broker (unless HUB_KAFKA_BOOTSTRAP is set), worker and API as child processes.

Children run in their own sessions so Ctrl-C reaches only this supervisor, which stops them in
order (API, worker, broker). They also die with it if it is killed (PR_SET_PDEATHSIG).
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
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
from hub.secrets import embedded_settings, require_secrets
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
class _Child:
    name: str
    proc: subprocess.Popen[bytes]
    log_file: Path


@dataclass
class Stack:
    settings: HubSettings
    ready_timeout: float = 90.0
    broker: EmbeddedBroker | None = None
    children: list[_Child] = field(default_factory=list)
    api_url: str = ""

    @property
    def log_dir(self) -> Path:
        return self.settings.data_dir / "logs"

    def start(self) -> Stack:
        wire(self.settings)  # fail fast on bad configuration, before anything starts
        require_secrets(
            self.settings, "hub up"
        )  # external Kafka: its own secrets, or nothing starts
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
        if not bootstrap:
            # keys generated into (or read from) the data dir before any child starts
            settings = embedded_settings(settings)
            self.broker = EmbeddedBroker(log_file=self.log_dir / "broker.log")
            bootstrap = self.broker.start()
        port = settings.api_port or free_port(settings.api_host)
        settings = settings.model_copy(update={"kafka_bootstrap": bootstrap, "api_port": port})
        self.settings = settings
        asyncio.run(ensure_topics(settings, wire(settings).topics()))
        open_stores(settings).engine.dispose()  # migrate once, before the children start
        env = settings_env(settings)
        connectors = ("connector run-all",) if has_connectors(settings) else ()
        for name in ("worker", "api", *connectors):
            log_file = self.log_dir / f"{name.split()[0]}.log"
            out = open(log_file, "ab")  # noqa: SIM115
            proc = subprocess.Popen(
                [sys.executable, "-m", "runtime.cli", *name.split()],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                preexec_fn=die_with_parent,
            )
            out.close()
            self.children.append(_Child(name, proc, log_file))
        self.api_url = f"http://{settings.api_host}:{port}"
        running_file(settings).write_text(
            json.dumps({"pid": os.getpid(), "bootstrap": bootstrap, "api_url": self.api_url})
        )
        self._wait_ready()

    def _wait_ready(self) -> None:
        """Until the API is ready (/readyz) and, a check of its own since readiness does not
        depend on a worker, the worker's agents hold partitions (its heartbeat says so)."""
        deadline = time.monotonic() + self.ready_timeout
        last = "no answer"
        beats = HeartbeatStore(make_engine(self.settings.effective_database_url))
        fresh = timedelta(seconds=self.settings.worker_stale_after_s)
        try:
            while time.monotonic() < deadline:
                self.check_alive()
                try:
                    response = httpx.get(f"{self.api_url}/readyz", timeout=5)
                    last = response.text
                    if response.status_code == 200:
                        last = "the worker's agents hold no partitions yet"
                        if beats.ready_workers(utcnow(), fresh) > 0:
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
            beats.engine.dispose()
        raise StackError(f"the stack was not ready within {self.ready_timeout:.0f}s ({last})")

    def check_alive(self) -> None:
        for child in self.children:
            code = child.proc.poll()
            if code is not None:
                tail = _tail(child.log_file)
                raise StackError(
                    f"the {child.name} process exited with code {code}; its log ends:\n{tail}"
                )

    def stop(self, timeout: float = 20.0) -> None:
        running_file(self.settings).unlink(missing_ok=True)
        for child in reversed(self.children):  # API first, then the worker
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


def _tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"
