"""Audit entries for webhook attempts and their final outcome (ids unique per attempt)."""

from __future__ import annotations

from datetime import datetime

from hub.routing.messages import (
    AuditEntry,
    AuditReason,
    Delivery,
    Mode,
    Outcome,
    delivered_entry,
)


def attempt_entry_id(delivery_id: str, attempt: int) -> str:
    return f"{delivery_id}:attempt:{attempt}"


def attempt_entry(
    delivery: Delivery,
    at: datetime,
    attempt: int,
    http_status: int | None,
    latency_ms: float,
    error: str,
) -> AuditEntry:
    """One attempt that did not succeed (it will be retried, or the delivery is dead)."""
    return delivered_entry(delivery, at).model_copy(
        update={
            "entry_id": attempt_entry_id(delivery.delivery_id, attempt),
            "outcome": Outcome.ATTEMPT_FAILED,
            "reasons": (AuditReason(code=error or "failed", message=_message(error, http_status)),),
            "attempt": attempt,
            "http_status": http_status,
            "latency_ms": latency_ms,
        }
    )


def success_entry(
    delivery: Delivery, at: datetime, attempt: int, http_status: int, latency_ms: float
) -> AuditEntry:
    """The final `delivered` outcome, carrying the attempt that succeeded (a replay sends again
    what was delivered before, so its entry id names the attempt)."""
    entry = delivered_entry(delivery, at)
    entry_id = (
        f"{entry.entry_id}:replay:{attempt}" if delivery.mode is Mode.REPLAY else entry.entry_id
    )
    return entry.model_copy(
        update={
            "entry_id": entry_id,
            "attempt": attempt,
            "http_status": http_status,
            "latency_ms": latency_ms,
        }
    )


def failed_entry(
    delivery: Delivery, at: datetime, attempt: int, http_status: int | None, redriven: bool
) -> AuditEntry:
    """The final `failed` outcome: the retry budget is spent and the delivery is a dead letter."""
    entry_id = AuditEntry.make_id(delivery.delivery_id, Outcome.FAILED)
    return delivered_entry(delivery, at).model_copy(
        update={
            "entry_id": f"{entry_id}:{attempt}" if redriven else entry_id,
            "outcome": Outcome.FAILED,
            "reasons": (
                AuditReason(
                    code="retry_budget_spent",
                    message=f"no 2xx after {attempt} attempts; moved to the dead letters",
                ),
            ),
            "attempt": attempt,
            "http_status": http_status,
        }
    )


def _message(error: str, http_status: int | None) -> str:
    if http_status is not None:
        return f"the endpoint answered HTTP {http_status}"
    return {
        "timeout": "the endpoint did not answer in time",
        "target_refused": "the webhook URL resolves to a refused address (SSRF guard)",
        "no_secret": "no signing secret is configured for this recipient (HUB_WEBHOOK_SECRETS)",
    }.get(error, f"the request failed ({error})")
