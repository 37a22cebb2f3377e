"""What a worker's heartbeat reports: ready once every agent has joined, idle agents included."""

from __future__ import annotations

from aiokafka import TopicPartition

from agents.batching import BatchAgent, GroupMembership
from hub.heartbeat import AgentAssignment, reported_partitions
from hub.settings import HubSettings


def test_a_worker_whose_audit_writer_is_idle_reports_what_its_other_agents_hold() -> None:
    # two workers: the one-partition audit topic went to the other one
    agents = [AgentAssignment(True, 18), AgentAssignment(True, 10), AgentAssignment(True, 0)]
    assert reported_partitions(agents) == 28


def test_a_worker_with_an_agent_still_joining_reports_nothing() -> None:
    agents = [AgentAssignment(True, 18), AgentAssignment(False, 0), AgentAssignment(True, 1)]
    assert reported_partitions(agents) == 0
    assert reported_partitions([]) == 0


def test_a_worker_whose_agents_joined_and_hold_nothing_is_not_ready() -> None:
    # more workers than partitions: alive, but it holds nothing to work on
    assert reported_partitions([AgentAssignment(True, 0), AgentAssignment(True, 0)]) == 0


def test_membership_follows_each_rebalance_even_an_empty_assignment() -> None:
    membership = GroupMembership("audit-writer")
    assert not membership.joined
    membership.on_partitions_revoked(set())  # before the first join
    assert not membership.joined
    membership.on_partitions_assigned(set())  # joined, given nothing
    assert membership.joined
    membership.on_partitions_revoked(set())  # a rebalance starts
    assert not membership.joined
    membership.on_partitions_assigned({TopicPartition("audit", 0)})
    assert membership.joined


def test_an_agent_that_is_not_running_has_not_joined() -> None:
    agent = BatchAgent("router", ["x"], None, HubSettings())  # type: ignore[arg-type]
    assert agent.assignment() == AgentAssignment(joined=False, partitions=0)
