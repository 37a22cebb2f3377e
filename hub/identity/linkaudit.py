"""Links in the hash-chained audit trail: every link (automatic, bulk, a person's accept), every
reject or not-sure, and every unlink becomes an audit row beside its identity_link_log row.

The row holds references only: the pseudonymous subject key, the system and its local id, the
event that prompted it, the match probability, the model version, the names of the agreeing
fields and who decided. Never the person's names, date of birth or address. Pure.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from hub.audit.chain import as_utc
from hub.pseudonym import subject_key

EVENT_TYPE = "identity.link"
SOURCE = "hub.identity"
OUTCOMES = {
    "linked": "linked",
    "unlinked": "unlinked",
    "rejected": "link_rejected",
    "not_sure": "link_not_sure",
}
_METHODS = {
    "auto": "linked automatically",
    "bulk": "linked by bulk matching",
    "clerical": "linked by a person's decision",
    "person.linked": "linked by a customer index (person.linked)",
}


@dataclass(frozen=True)
class LinkFact:
    action: str  # linked | unlinked | rejected | not_sure
    method: str  # auto | bulk | clerical | person.linked
    subject: str
    system: str
    local_id: str
    probability: float | None
    model_version: str | None
    agreeing: tuple[str, ...]
    decided_by: str | None
    event_id: str


def _evidence(f: LinkFact) -> str:
    parts = []
    if f.probability is not None:
        parts.append(f"match probability {f.probability!r}")
    if f.model_version:
        parts.append(f"model {f.model_version}")
    if f.agreeing:
        parts.append(f"agreeing fields: {', '.join(f.agreeing)}")
    return f" ({'; '.join(parts)})" if parts else ""


def reason(f: LinkFact) -> tuple[str, str]:
    """(code, sentence) for the audit row."""
    evidence = _evidence(f)
    by = f" by {f.decided_by}" if f.decided_by else ""
    if f.action == "linked":
        return f"link_{f.method.replace('.', '_')}", (
            f"{_METHODS.get(f.method, f.method)}{by}{evidence}"
        )
    if f.action == "unlinked":
        return "link_undone", f"link ({f.method}) undone{by}{evidence}"
    if f.action == "rejected":
        return "link_rejected", f"candidate pair rejected{by}{evidence}"
    return "link_not_sure", f"candidate pair marked not sure{by}{evidence}"


def audit_rows(secret: str, facts: Sequence[LinkFact], at: datetime) -> list[dict[str, Any]]:
    """The audit rows (unchained: ledger.append_locked gives them seq and hashes)."""
    moment = as_utc(at)
    rows = []
    for f in facts:
        code, sentence = reason(f)
        rows.append(
            {
                "entry_id": f"identity:{f.action}:{uuid.uuid4().hex}",
                "recorded_at": moment,
                "delivery_id": "",
                "event_id": f.event_id[:128],
                "event_type": EVENT_TYPE,
                "source": SOURCE,
                "recipient": f.system,
                "subject_key": subject_key(secret, f.subject),
                "outcome": OUTCOMES[f.action],
                "reason_codes": code,
                "reasons": json.dumps(
                    [{"code": code, "message": sentence, "agreement_id": None}],
                    separators=(",", ":"),
                ),
                "agreement_id": None,
                "agreement_version": None,
                "lawful_basis": None,
                "fields": json.dumps(list(f.agreeing)),
                "event_time": moment,
                "decided_at": moment,
                "mode": "live",
                "local_id": f.local_id,
                "purpose": None,
                "subject_flags": "[]",
                "attempt": None,
                "http_status": None,
                "latency_ms": None,
            }
        )
    return rows
