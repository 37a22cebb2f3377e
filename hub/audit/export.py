"""Audit rows as CSV (one header line, field names and references only)."""

from __future__ import annotations

from collections.abc import Iterable

from hub.audit.store import AuditRow
from hub.csv_safe import safe_csv

CSV_COLUMNS = (
    "seq",
    "recorded_at",
    "decided_at",
    "event_id",
    "event_type",
    "source",
    "recipient",
    "outcome",
    "mode",
    "fields",
    "agreement_id",
    "agreement_version",
    "lawful_basis",
    "purpose",
    "reason_codes",
    "local_id",
    "subject_key",
    "attempt",
    "http_status",
    "row_hash",
)


def rows_csv(rows: Iterable[AuditRow]) -> str:
    """The rows as CSV, safe to open in a spreadsheet (formula-leading cells escaped)."""
    return safe_csv(
        CSV_COLUMNS,
        (
            [
                r.seq,
                r.recorded_at.isoformat(),
                r.decided_at.isoformat(),
                r.event_id,
                r.event_type,
                r.source,
                r.recipient,
                r.outcome,
                r.mode,
                " ".join(r.fields),
                r.agreement_id or "",
                r.agreement_version or "",
                r.lawful_basis or "",
                r.purpose or "",
                " ".join(r.reason_codes),
                r.local_id or "",
                r.subject_key,
                "" if r.attempt is None else r.attempt,
                "" if r.http_status is None else r.http_status,
                r.row_hash,
            ]
            for r in rows
        ),
    )
