"""Retrying a queued review item: the original record re-published as it was, same event id."""

from __future__ import annotations

from hub.broker.producer import make_producer
from hub.errors import HubError
from hub.review.store import ReviewStore
from hub.settings import HubSettings
from hub.signing.keys import record_keys
from hub.timeutil import utcnow


class RetryError(HubError):
    code = "retry_refused"


async def retry(settings: HubSettings, bootstrap: str, store: ReviewStore, seq: int) -> str:
    item = store.get(seq)
    if item is None:
        raise RetryError(f"there is no review item {seq} (see `hub review list`)")
    if item.status != "open":
        raise RetryError(f"review item {seq} is {item.status}, not open")
    producer = make_producer(settings, bootstrap)
    await producer.start()
    try:
        # the router checked it before queueing it: re-published signed by the hub
        headers = record_keys(settings).sign_headers(item.topic, item.key, item.value, item.headers)
        await (await producer.send(item.topic, item.value, key=item.key, headers=headers))
    finally:
        await producer.stop()
    store.mark(seq, "retried", utcnow())
    return item.event_id
