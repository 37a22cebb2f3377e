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
        raise RetryError(f"there is no review item {seq} (see `hub deliveries held`)")
    if item.status != "open":
        raise RetryError(f"review item {seq} is {item.status}, not open")
    # Marked before it is published: the router may route it (and, still unlinked, queue it
    # again as open) before the producer has even stopped; marking afterwards would hide it.
    if not store.mark(seq, "retried", utcnow(), only_if="open"):
        raise RetryError(f"review item {seq} is no longer open (see `hub deliveries held`)")
    try:
        # the router checked it before queueing it: re-published signed by the hub
        headers = record_keys(settings).sign_headers(item.topic, item.key, item.value, item.headers)
        producer = make_producer(settings, bootstrap)
        await producer.start()
        try:
            await (await producer.send(item.topic, item.value, key=item.key, headers=headers))
        finally:
            await producer.stop()
    except BaseException:
        store.mark(seq, "open", None, only_if="retried")  # not published: still waiting
        raise
    return item.event_id
