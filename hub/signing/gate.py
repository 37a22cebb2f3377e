"""Who may put a record on an events topic: the hub (signed), or a source on its own topic.

- `events.<type>`: written only by the hub (HTTP ingest, connectors, replays), every record
  signed; anything else on it is refused (`unsigned`, `bad_signature`, `unknown_key`).
- `sources.<system>`: a Kafka-native source's own topic, writable only by that system's
  principal (Kafka ACL); the source is the topic's, so a `ce_source` naming anyone else is
  refused (`source_mismatch`).
"""

from __future__ import annotations

from collections.abc import Mapping

from hub.errors import RecordRejected
from hub.signing.records import RecordHeaders, RecordKeys

SOURCE_MISMATCH = "source_mismatch"


def admit_event_record(
    topic: str,
    key: bytes | None,
    value: bytes | None,
    headers: RecordHeaders,
    keys: RecordKeys,
    bound: Mapping[str, str],
) -> RecordRejected | None:
    """None when the record may be routed (then validated like any event), else why not."""
    system = bound.get(topic)
    if system is not None:
        claimed = {(v or b"").decode(errors="replace") for k, v in headers if k == "ce_source"}
        wrong = sorted(claimed - {system})
        if wrong:
            return RecordRejected(
                f"ce_source {wrong[0]!r} on {topic}: a record on this topic is from "
                f"{system!r} (the topic names its source)",
                (SOURCE_MISMATCH,),
            )
        return None
    refusal = keys.check(topic, key, value, headers)
    if refusal is None:
        return None
    return RecordRejected(
        f"record on {topic} is not signed by the hub ({refusal.value}): only the hub writes "
        "events topics; a Kafka-native source publishes on its own sources.<system id> topic",
        (refusal.value,),
    )
