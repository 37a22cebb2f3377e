"""Is a journaled event lost, or still waiting in its topic? (pure: no broker, no database)

After an outage the router has a backlog: accepted events still in their topic, behind the
router group's committed offset. They are not lost, and re-publishing them would route each of
them twice. An event is waiting when the broker's ack told us where it was written (topic,
partition, offset) and that offset is still in the log (at or after the partition's log start,
below its log end) and at or after the router group's committed offset (or the group has not
committed on that partition yet: it starts from the earliest record).

Anything else is lost and goes back on its topic: the router passed it without routing it, or
the broker no longer holds it (memory storage after a restart: the log end falls below the
offset). If a restarted broker has since filled the same offsets with other records, the entry
counts as waiting until the router's committed offset passes it, then as lost: re-published late,
never dropped.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

Partition = tuple[str, int]  # (topic, partition)


@dataclass(frozen=True)
class Positions:
    """Per partition: the router group's committed offset (absent or negative: none yet), and
    the log's first and end offsets (absent: the partition does not exist)."""

    committed: Mapping[Partition, int] = field(default_factory=dict)
    starts: Mapping[Partition, int] = field(default_factory=dict)
    ends: Mapping[Partition, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Placed:
    """Where one journaled event was written, if the journal knows."""

    status: str
    topic: str
    partition: int | None
    offset: int | None


def placed_partitions(entries: Iterable[Placed]) -> list[Partition]:
    """The partitions whose positions decide about these entries (unrouted and placed)."""
    return sorted(
        {
            (e.topic, e.partition)
            for e in entries
            if e.status == "accepted" and e.partition is not None and e.offset is not None
        }
    )


def waiting_in_topic(entry: Placed, positions: Positions) -> bool:
    """True when the event is unrouted but still in its topic ahead of the router: not lost."""
    if entry.status != "accepted" or entry.partition is None or entry.offset is None:
        return False  # routed (its outputs are what is missing), or placement unknown
    tp = (entry.topic, entry.partition)
    end = positions.ends.get(tp)
    if end is None or entry.offset >= end:
        return False  # the broker does not hold it (any more)
    if entry.offset < positions.starts.get(tp, 0):
        return False  # deleted from the log by retention before the router read it
    committed = positions.committed.get(tp, -1)
    return committed < 0 or entry.offset >= committed
