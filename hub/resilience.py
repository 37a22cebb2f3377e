"""What a worker waits out and what stops it: error classification and retry backoff.

A worker's background tasks (agents, heartbeat, reconciler, webhook dispatcher) retry a
*transient* error for as long as it lasts: the database restarting or locked, the broker
restarting or unreachable, a consumer-group rebalance. Anything else is either a bug or a
misconfiguration (a wrong password, a missing table, a topic the principal may not read), which
waiting does not cure. The decision is one pure function, `is_transient`.
"""

from __future__ import annotations

import asyncio
import random
import sqlite3
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field

import structlog
from aiokafka import errors as kafka_errors
from sqlalchemy import exc as sa_exc

log = structlog.get_logger("hub.resilience")

# Kafka errors that no amount of waiting fixes: the client is refused or misconfigured.
_KAFKA_FATAL: tuple[type[BaseException], ...] = (
    kafka_errors.AuthenticationFailedError,
    kafka_errors.AuthenticationMethodNotSupported,
    kafka_errors.SaslAuthenticationFailed,
    kafka_errors.UnsupportedSaslMechanismError,
    kafka_errors.IllegalSaslStateError,
    kafka_errors.TopicAuthorizationFailedError,
    kafka_errors.GroupAuthorizationFailedError,
    kafka_errors.ClusterAuthorizationFailedError,
    kafka_errors.TransactionalIdAuthorizationFailed,
    kafka_errors.UnsupportedVersionError,
    kafka_errors.IncompatibleBrokerVersion,
    kafka_errors.UnsupportedCodecError,
    kafka_errors.InvalidTopicError,
    kafka_errors.InvalidGroupIdError,
    kafka_errors.InvalidSessionTimeoutError,
    kafka_errors.InvalidConfigurationError,
    kafka_errors.InvalidRequiredAcksError,
    kafka_errors.InvalidPartitionsError,
    kafka_errors.InvalidReplicationFactorError,
)

# SQLSTATE classes of a database refusing us for good: 28 authorization, 3D no such database,
# 42 syntax/undefined object (a schema older than the code: run the migrations).
_SQLSTATE_FATAL = ("28", "3D", "42")
# Connection-time refusals that carry no SQLSTATE (libpq reports them as text).
_CONNECT_FATAL_TEXT = (
    "password authentication failed",
    "no pg_hba.conf entry",
    "does not exist",
    "authentication failed",
    "ssl is not enabled",
    "certificate verify failed",
)
_SQLITE_TRANSIENT_TEXT = ("database is locked", "database table is locked", "database is busy")


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """The error and everything it was raised from (`__cause__`, `__context__`), once each."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def _sqlstate(exc: BaseException) -> str:
    state = getattr(exc, "sqlstate", None) or getattr(exc, "pgcode", None)
    return state if isinstance(state, str) else ""


def _is_fatal(exc: BaseException) -> bool:
    if isinstance(exc, _KAFKA_FATAL):
        return True
    if isinstance(exc, sa_exc.ProgrammingError | sa_exc.IntegrityError | sa_exc.DataError):
        return True
    if isinstance(exc, sa_exc.ArgumentError | sa_exc.NoSuchModuleError):
        return True
    state = _sqlstate(exc)
    if state and state.startswith(_SQLSTATE_FATAL):
        return True
    if isinstance(exc, sa_exc.OperationalError) or type(exc).__module__.startswith("psycopg"):
        text = str(exc).lower()
        return any(t in text for t in _CONNECT_FATAL_TEXT)
    return False


def _is_transient_one(exc: BaseException) -> bool:
    if isinstance(exc, kafka_errors.KafkaError):
        # Connection loss, timeouts, leadership moves, rebalances (CommitFailedError,
        # RebalanceInProgressError, IllegalGenerationError, UnknownMemberIdError), a partition
        # revoked by a rebalance (IllegalStateError), a topic not yet re-created after a broker
        # restart: all pass. The fatal ones are filtered out before this is asked.
        return True
    if isinstance(exc, sa_exc.DBAPIError) and exc.connection_invalidated:
        return True
    if isinstance(exc, sa_exc.DisconnectionError | sa_exc.TimeoutError):
        return True  # a pool that cannot hand out a working connection yet
    if isinstance(exc, sqlite3.OperationalError):
        text = str(exc).lower()
        return any(t in text for t in _SQLITE_TRANSIENT_TEXT)
    if isinstance(exc, sa_exc.OperationalError):
        if isinstance(exc.orig, sqlite3.OperationalError):
            return _is_transient_one(exc.orig)
        return True  # PostgreSQL: connection refused/lost, shutting down, deadlock, too busy
    if type(exc).__module__.startswith("psycopg") and type(exc).__name__ == "OperationalError":
        return True
    return isinstance(exc, ConnectionError | TimeoutError)  # OSError subclasses, asyncio timeouts


def is_transient(exc: BaseException) -> bool:
    """True when waiting and retrying can cure `exc`: a database or broker outage, a lock, a
    consumer-group rebalance. False for a misconfiguration or a bug."""
    chain = list(_chain(exc))
    if any(_is_fatal(e) for e in chain):
        return False
    return any(_is_transient_one(e) for e in chain)


def is_rebalance(exc: BaseException) -> bool:
    """The consumer group moved on while a batch was handled: its offsets must not be committed
    (the partitions' new owner re-processes them from the last committed offset)."""
    rebalance = (
        kafka_errors.CommitFailedError,
        kafka_errors.RebalanceInProgressError,
        kafka_errors.IllegalGenerationError,
        kafka_errors.UnknownMemberIdError,
        kafka_errors.IllegalStateError,
    )
    return any(isinstance(e, rebalance) for e in _chain(exc))


def error_kind(exc: BaseException) -> str:
    """A short, data-free name for an error to log and count: its class, never its message
    (a database error's message can quote the row it failed on)."""
    return type(exc).__name__


def error_text(exc: BaseException, limit: int = 200) -> str:
    """An error's first line, for a person to act on a fatal error. For a database error the
    driver's message, never SQLAlchemy's (which quotes the statement's parameters)."""
    if isinstance(exc, sa_exc.DBAPIError) and exc.orig is not None:
        exc = exc.orig
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0][:limit] if text else ''}"


@dataclass
class Backoff:
    """Capped exponential backoff with full jitter: attempt n waits a random time in
    [delay/2, delay], delay = min(cap, initial * 2**(n-1))."""

    initial_s: float
    cap_s: float
    rng: random.Random = field(default_factory=random.Random)
    attempt: int = 0

    def next_delay(self) -> float:
        self.attempt += 1
        delay = min(self.cap_s, self.initial_s * 2.0 ** min(self.attempt - 1, 30))
        return delay / 2 + self.rng.random() * delay / 2

    def reset(self) -> None:
        self.attempt = 0


@dataclass
class RetryCounts:
    """Retries per (task, error kind) in this process: what the worker waited out."""

    counts: Counter[tuple[str, str]] = field(default_factory=Counter)

    def add(self, task: str, exc: BaseException) -> int:
        key = (task, error_kind(exc))
        self.counts[key] += 1
        return self.counts[key]

    def total(self, task: str | None = None) -> int:
        return sum(n for (t, _), n in self.counts.items() if task is None or t == task)


RETRIES = RetryCounts()  # the process-wide tally the worker's tasks add to


async def keep_running(
    task: str,
    body: Callable[[], Awaitable[None]],
    initial_s: float,
    cap_s: float,
    stable_after_s: float = 60.0,
) -> None:
    """Run `body` until it returns; when it fails on a transient error, log, count, wait (capped
    exponential backoff with jitter) and run it again, for as long as it takes. Any other error
    propagates: the process stops and says why."""
    backoff = Backoff(initial_s, cap_s)
    while True:
        started = time.monotonic()
        try:
            await body()
            return
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            if not is_transient(exc):
                log.error("task_failed", task=task, error=error_text(exc))
                raise
            if time.monotonic() - started >= stable_after_s:
                backoff.reset()  # it ran fine for a while: this is a new outage
            delay = backoff.next_delay()
            log.warning(
                "task_retrying",
                task=task,
                error=error_kind(exc),
                attempt=backoff.attempt,
                retry_in_s=round(delay, 2),
                retries_total=RETRIES.add(task, exc),
            )
            await asyncio.sleep(delay)
