"""Kafka admin work over the plain Kafka protocol: reachability and explicit topic creation."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import structlog
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError

from hub.broker.topics import TopicSpec
from hub.errors import BrokerError

log = structlog.get_logger(__name__)

TOPIC_ALREADY_EXISTS = 36


async def ensure_topics(bootstrap: str, specs: Sequence[TopicSpec], timeout: float = 30.0) -> None:
    """Create every topic that does not exist yet, with its configured partition count."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=int(timeout * 1000))
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
        raise BrokerError(f"Kafka at {bootstrap} is not reachable: {exc!r}") from exc
    finally:
        await admin.close()


async def broker_reachable(bootstrap: str, timeout: float = 3.0) -> bool:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=int(timeout * 1000))
    try:
        await asyncio.wait_for(admin.start(), timeout)
        await asyncio.wait_for(admin.list_topics(), timeout)
        return True
    except (KafkaError, OSError, TimeoutError):
        return False
    finally:
        await admin.close()
