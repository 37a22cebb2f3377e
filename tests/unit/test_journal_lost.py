"""hub.journal.lost: an unrouted event still in its topic ahead of the router is not lost."""

from __future__ import annotations

from hub.journal.lost import Placed, Positions, placed_partitions, waiting_in_topic

T = "events.address.changed"
AT = Positions(committed={(T, 0): 100}, starts={(T, 0): 10}, ends={(T, 0): 200})


def unrouted(offset: int | None, partition: int | None = 0, status: str = "accepted") -> Placed:
    return Placed(status, T, partition, offset)


def test_a_backlog_at_or_after_the_committed_offset_is_waiting() -> None:
    assert waiting_in_topic(unrouted(100), AT)
    assert waiting_in_topic(unrouted(199), AT)


def test_behind_the_committed_offset_and_unrouted_is_lost() -> None:
    assert not waiting_in_topic(unrouted(99), AT)


def test_gone_from_the_broker_is_lost() -> None:
    assert not waiting_in_topic(unrouted(200), AT)  # at the log end: never written there now
    assert not waiting_in_topic(unrouted(5), AT)  # before the log start: deleted by retention
    assert not waiting_in_topic(unrouted(150, partition=3), AT)  # partition no longer exists
    # a broker restarted with memory storage: the log starts again from 0
    restarted = Positions(committed={}, starts={(T, 0): 0}, ends={(T, 0): 12})
    assert not waiting_in_topic(unrouted(150), restarted)


def test_a_group_without_a_commit_reads_from_the_start_so_everything_in_the_log_waits() -> None:
    fresh = Positions(committed={(T, 0): -1}, starts={(T, 0): 0}, ends={(T, 0): 50})
    assert waiting_in_topic(unrouted(0), fresh)
    assert waiting_in_topic(unrouted(49), fresh)


def test_routed_or_unplaced_entries_are_never_waiting() -> None:
    assert not waiting_in_topic(unrouted(150, status="routed"), AT)  # its outputs are missing
    assert not waiting_in_topic(unrouted(None), AT)  # journaled before placements were kept
    assert not waiting_in_topic(unrouted(150, partition=None), AT)


def test_only_unrouted_placed_entries_need_positions() -> None:
    entries = [unrouted(1), unrouted(2, partition=1), unrouted(3, status="routed"), unrouted(None)]
    assert placed_partitions(entries) == [(T, 0), (T, 1)]
