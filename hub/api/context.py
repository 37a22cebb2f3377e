"""What request handlers need, put on `app.state.hub` by the composition root."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request

from hub.audit.search_names import SearchNames
from hub.audit.store import AuditStore
from hub.config.model import HubConfig
from hub.config.watch import ConfigWatcher
from hub.events.publisher import EventPublisher
from hub.events.rules import RuleConfig
from hub.events.schemas import SchemaRegistry
from hub.heartbeat import HeartbeatStore
from hub.inbox.store import InboxStore
from hub.quality.counters import QualityCounters
from hub.rejected.store import RejectedStore
from hub.routing.claims import ClaimStore
from hub.settings import HubSettings


@dataclass(frozen=True)
class ApiContext:
    settings: HubSettings
    bootstrap: str
    watcher: ConfigWatcher  # the configuration in force, re-read like the worker's
    registry: SchemaRegistry
    rules: RuleConfig
    publisher: EventPublisher
    inbox: InboxStore
    audit: AuditStore
    heartbeat: HeartbeatStore
    quality: QualityCounters
    rejected: RejectedStore
    claims: ClaimStore | None = None  # (source, event id) -> content of record: dup or conflict

    @property
    def config(self) -> HubConfig:
        """Systems and agreements in force now (a valid edit applies without a restart)."""
        return self.watcher.current()

    def source_ids(self) -> list[str]:
        """The source systems in the configuration in force."""
        return [s.id for s in self.config.sources]

    def quality_has_source(self, source: str) -> bool:
        """Whether the data quality counts or the rejected events name `source`."""
        return self.quality.has_source(source) or self.rejected.has_source(source)

    def search_names(self) -> SearchNames:
        """What a transfer search may name now: the configuration in force and the schemas."""
        return SearchNames.of(self.config, self.registry.event_types)


def api_context(request: Request) -> ApiContext:
    ctx = request.app.state.hub
    assert isinstance(ctx, ApiContext)
    return ctx
