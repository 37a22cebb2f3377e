"""What a worker waits out (transient) and what stops it (fatal), and how long it waits."""

from __future__ import annotations

import random
import socket
import sqlite3
from pathlib import Path

import psycopg
import pytest
from aiokafka import errors as kafka_errors
from sqlalchemy import exc as sa_exc

from hub.errors import ConfigError, StackError
from hub.resilience import (
    Backoff,
    RetryCounts,
    error_kind,
    error_text,
    is_rebalance,
    is_transient,
)
from hub.settings import HubSettings
from runtime.stack import _Restarts, check_api_port


def wrapped(
    orig: BaseException, cls: type[sa_exc.DBAPIError] = sa_exc.OperationalError
) -> BaseException:
    """As SQLAlchemy raises a driver error: the statement and its parameters around it."""
    return cls("INSERT INTO inbox_item VALUES (?)", ("P-100234",), orig)


@pytest.mark.parametrize(
    "exc",
    [
        wrapped(psycopg.OperationalError("connection failed: Connection refused")),
        wrapped(
            psycopg.errors.AdminShutdown("terminating connection due to administrator command")
        ),
        wrapped(sqlite3.OperationalError("database is locked")),
        sqlite3.OperationalError("database is locked"),
        sa_exc.TimeoutError("QueuePool limit of size 5 overflow 5 reached"),
        kafka_errors.KafkaConnectionError("Unable to bootstrap from 127.0.0.1:9092"),
        kafka_errors.RequestTimedOutError(),
        kafka_errors.KafkaTimeoutError(),
        kafka_errors.CommitFailedError("group rebalanced"),
        kafka_errors.RebalanceInProgressError(),
        kafka_errors.IllegalGenerationError(),
        kafka_errors.NotLeaderForPartitionError(),
        kafka_errors.UnknownTopicOrPartitionError(),
        ConnectionRefusedError(111, "Connection refused"),
        TimeoutError(),
    ],
    ids=lambda e: error_kind(e),
)
def test_outages_locks_and_rebalances_are_transient(exc: BaseException) -> None:
    assert is_transient(exc)


def test_a_connection_invalidated_mid_statement_is_transient() -> None:
    lost = sa_exc.DBAPIError("SELECT 1", None, Exception("server closed the connection"))
    lost.connection_invalidated = True
    assert is_transient(lost)


def test_a_transient_error_raised_from_another_is_still_transient() -> None:
    try:
        try:
            raise kafka_errors.RebalanceInProgressError()
        except kafka_errors.RebalanceInProgressError as inner:
            raise kafka_errors.CommitFailedError("rebalanced") from inner
    except kafka_errors.CommitFailedError as exc:
        assert is_transient(exc) and is_rebalance(exc)


@pytest.mark.parametrize(
    "exc",
    [
        wrapped(psycopg.errors.InvalidPassword("password authentication failed for user hub")),
        wrapped(
            psycopg.OperationalError('connection failed: FATAL: database "hub" does not exist')
        ),
        wrapped(
            psycopg.errors.UndefinedTable('relation "inbox_item" does not exist'),
            sa_exc.ProgrammingError,
        ),
        wrapped(sqlite3.OperationalError("no such table: inbox_item")),
        wrapped(sqlite3.IntegrityError("NOT NULL constraint failed"), sa_exc.IntegrityError),
        kafka_errors.TopicAuthorizationFailedError(),
        kafka_errors.GroupAuthorizationFailedError(),
        kafka_errors.SaslAuthenticationFailed(),
        kafka_errors.UnsupportedVersionError(),
        ConfigError("bad config", []),
        ValueError("a bug"),
        KeyError("x"),
    ],
    ids=lambda e: error_kind(e),
)
def test_misconfigurations_and_bugs_are_not_transient(exc: BaseException) -> None:
    assert not is_transient(exc)


def test_a_fatal_cause_wins_over_a_transient_wrapper() -> None:
    try:
        try:
            raise kafka_errors.SaslAuthenticationFailed()
        except kafka_errors.SaslAuthenticationFailed as inner:
            raise kafka_errors.KafkaConnectionError("bootstrap failed") from inner
    except kafka_errors.KafkaConnectionError as exc:
        assert not is_transient(exc)


def test_only_group_changes_count_as_rebalances() -> None:
    assert is_rebalance(kafka_errors.CommitFailedError())
    assert is_rebalance(kafka_errors.IllegalStateError("Partition is not assigned"))
    assert not is_rebalance(kafka_errors.KafkaConnectionError())


def test_logged_errors_carry_no_statement_parameters() -> None:
    exc = wrapped(psycopg.errors.UniqueViolation("duplicate key\nDETAIL: Key (subject)=(P-100234)"))
    assert "P-100234" not in error_text(exc) and "P-100234" not in error_kind(exc)
    assert error_text(exc) == "UniqueViolation: duplicate key"


def test_backoff_doubles_with_jitter_up_to_the_cap_and_resets() -> None:
    backoff = Backoff(0.5, 4.0, random.Random(7))
    delays = [backoff.next_delay() for _ in range(8)]
    ceilings = [0.5, 1.0, 2.0, 4.0, 4.0, 4.0, 4.0, 4.0]
    assert all(c / 2 <= d <= c for d, c in zip(delays, ceilings, strict=True))
    assert len(set(delays)) == len(delays)  # jittered: retrying workers do not stampede
    backoff.reset()
    assert backoff.next_delay() <= 0.5


def test_retries_are_counted_per_task_and_error_kind() -> None:
    counts = RetryCounts()
    counts.add("router", kafka_errors.CommitFailedError())
    counts.add("router", kafka_errors.CommitFailedError())
    assert counts.add("heartbeat", sqlite3.OperationalError("database is locked")) == 1
    assert counts.counts[("router", "CommitFailedError")] == 2
    assert counts.total("router") == 2 and counts.total() == 3


def test_restarts_back_off_and_stop_after_the_limit_within_the_window() -> None:
    r = _Restarts()
    assert [r.schedule("worker", t, 3, 60.0) for t in (0.0, 1.0, 3.0)] == [1.0, 2.0, 4.0]
    with pytest.raises(StackError, match="worker process died 4 times within 60s"):
        r.schedule("worker", 10.0, 3, 60.0)
    later = _Restarts()
    for t in (0.0, 1.0, 3.0):
        later.schedule("api", t, 3, 60.0)
    assert later.schedule("api", 100.0, 3, 60.0) == 1.0  # the old deaths left the window


def test_a_taken_api_port_fails_at_once_naming_port_and_setting(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        settings = HubSettings(data_dir=tmp_path, api_port=port)
        with pytest.raises(StackError) as caught:
            check_api_port(settings)
        assert str(port) in str(caught.value) and "HUB_API_PORT" in str(caught.value)
    check_api_port(settings)  # free again
