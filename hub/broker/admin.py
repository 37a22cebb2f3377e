"""Kafka admin work over the plain Kafka protocol: reachability and explicit topic creation."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import structlog
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError

from hub.broker.security import diagnose, kafka_client_kwargs
from hub.broker.topics import TopicSpec
from hub.errors import BrokerError
from hub.settings import HubSettings

log = structlog.get_logger(__name__)

TOPIC_ALREADY_EXISTS = 36


def make_admin(
    settings: HubSettings,
    bootstrap: str | None = None,
    timeout: float = 30.0,
    client_id: str = "tell-it-once-hub.admin",
) -> AIOKafkaAdminClient:
    """The one way to build an admin client: the settings' bootstrap (unless given) and security."""
    return AIOKafkaAdminClient(
        bootstrap_servers=bootstrap or settings.require_bootstrap("the Kafka admin client"),
        request_timeout_ms=int(timeout * 1000),
        client_id=client_id,
        **kafka_client_kwargs(settings),
    )


async def unreachable(settings: HubSettings, bootstrap: str, exc: BaseException) -> BrokerError:
    """A BrokerError that says why Kafka at `bootstrap` cannot be used (TLS, SASL, address)."""
    try:
        reason = await diagnose(settings, bootstrap)
    except Exception as diag_exc:  # the diagnosis must never hide the original failure
        reason = f"{exc!r} (diagnosis failed: {diag_exc!r})"
    if reason == "connected":
        reason = repr(exc)
    return BrokerError(f"Kafka at {bootstrap} is not reachable: {reason}")


async def ensure_topics(
    settings: HubSettings,
    specs: Sequence[TopicSpec],
    bootstrap: str | None = None,
    timeout: float = 30.0,
) -> None:
    """Create every topic that does not exist yet, with its configured partition count."""
    bootstrap = bootstrap or settings.require_bootstrap("creating topics")
    admin = make_admin(settings, bootstrap, timeout)
    try:
        await asyncio.wait_for(admin.start(), timeout)
        existing = set(await admin.list_topics())
        missing = [s for s in specs if s.name not in existing]
        if missing:
            response = await admin.create_topics(
                [NewTopic(s.name, s.partitions, s.replication) for s in missing]
            )
            for name, code, message in response.topic_errors:
                if code not in (0, TOPIC_ALREADY_EXISTS):
                    raise BrokerError(f"could not create topic {name}: {message} (error {code})")
        log.info("topics_ready", created=[s.name for s in missing], total=len(specs))
    except (KafkaError, OSError, TimeoutError) as exc:
        raise await unreachable(settings, bootstrap, exc) from exc
    finally:
        await admin.close()


async def broker_reachable(
    settings: HubSettings, bootstrap: str | None = None, timeout: float = 3.0
) -> bool:
    admin = make_admin(settings, bootstrap, timeout)
    try:
        await asyncio.wait_for(admin.start(), timeout)
        await asyncio.wait_for(admin.list_topics(), timeout)
        return True
    except (KafkaError, OSError, TimeoutError):
        return False
    finally:
        await admin.close()
