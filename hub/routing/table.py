"""The routing table: the configuration indexed once for the router's hot path."""

from __future__ import annotations

from dataclasses import dataclass

from hub.config.model import Agreement, HubConfig, System


@dataclass(frozen=True)
class RoutingTable:
    """Subscribers per event type, agreements per flow, agreement versions: all computed once."""

    subscribers: dict[str, tuple[System, ...]]
    flows: dict[tuple[str, str, str], tuple[Agreement, ...]]
    versions: dict[str, str]

    @classmethod
    def build(cls, config: HubConfig) -> RoutingTable:
        subscribers: dict[str, list[System]] = {}
        for system in config.recipients:
            for event_type in system.subscriptions:
                subscribers.setdefault(event_type, []).append(system)
        flows: dict[tuple[str, str, str], list[Agreement]] = {}
        for a in sorted(config.agreements, key=lambda a: a.id):
            for provider in a.providers:
                for recipient in a.recipients:
                    for event_type in a.shares:
                        flows.setdefault((provider, recipient, event_type), []).append(a)
        return cls(
            subscribers={t: tuple(v) for t, v in subscribers.items()},
            flows={k: tuple(v) for k, v in flows.items()},
            versions={a.id: a.version for a in config.agreements},
        )

    def subscribers_of(self, event_type: str) -> tuple[System, ...]:
        return self.subscribers.get(event_type, ())

    def subscribers_ids(self, event_type: str) -> frozenset[str]:
        return frozenset(s.id for s in self.subscribers.get(event_type, ()))

    def agreements_for(self, source: str, recipient: str, event_type: str) -> tuple[Agreement, ...]:
        """Agreements naming this exact flow (provider, recipient, event type), in id order."""
        return self.flows.get((source, recipient, event_type), ())
