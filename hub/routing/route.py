"""Route one event: ask `decide` for every subscribed recipient, produce deliveries and audit entries."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from hub.events.envelope import Event
from hub.policy.decision import Allow, ConsentState, IdentityLinks, decide
from hub.pseudonym import subject_key
from hub.routing.messages import AuditEntry, AuditReason, Delivery, Outcome, delivery_id
from hub.routing.table import RoutingTable


@dataclass(frozen=True)
class RoutingResult:
    deliveries: tuple[Delivery, ...]
    withheld: tuple[AuditEntry, ...]


def route_event(
    event: Event,
    table: RoutingTable,
    consent: ConsentState,
    links: IdentityLinks,
    now: datetime,
    pseudonym_secret: str,
) -> RoutingResult:
    env = event.envelope
    key = subject_key(pseudonym_secret, env.subject)
    deliveries: list[Delivery] = []
    withheld: list[AuditEntry] = []
    for recipient in table.subscribers_of(env.type):
        did = delivery_id(env.id, recipient.id)
        candidates = table.agreements_for(env.source, recipient.id, env.type)
        decision = decide(env, event.data, recipient.id, candidates, consent, links, now)
        if isinstance(decision, Allow):
            deliveries.append(
                Delivery(
                    delivery_id=did,
                    event_id=env.id,
                    event_type=env.type,
                    source=env.source,
                    subject=env.subject,
                    subject_key=key,
                    recipient=recipient.id,
                    local_id=decision.local_id,
                    event_time=env.time,
                    agreement_id=decision.agreement.id,
                    agreement_version=table.versions[decision.agreement.id],
                    lawful_basis=decision.agreement.lawful_basis,
                    purpose=decision.agreement.purpose,
                    fields=decision.fields,
                    data=decision.data,
                    decided_at=now,
                )
            )
        else:
            first = decision.reasons[0]
            withheld.append(
                AuditEntry(
                    entry_id=AuditEntry.make_id(did, Outcome.WITHHELD),
                    delivery_id=did,
                    event_id=env.id,
                    event_type=env.type,
                    source=env.source,
                    recipient=recipient.id,
                    subject_key=key,
                    outcome=Outcome.WITHHELD,
                    reasons=tuple(
                        AuditReason(
                            code=r.code.value, message=r.message, agreement_id=r.agreement_id
                        )
                        for r in decision.reasons
                    ),
                    agreement_id=first.agreement_id,
                    event_time=env.time,
                    decided_at=now,
                )
            )
    return RoutingResult(tuple(deliveries), tuple(withheld))
