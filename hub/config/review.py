"""Which agreements need IG's attention today: past review-by, expiring soon, expired, not active."""

from __future__ import annotations

from datetime import date, timedelta
from enum import StrEnum

from hub.config.model import Agreement, AgreementStatus

EXPIRING_WITHIN = timedelta(days=30)


class ReviewFlag(StrEnum):
    PAST_REVIEW = "past_review_by"
    EXPIRING_SOON = "expiring_within_30_days"
    EXPIRED = "expired"
    NOT_YET_VALID = "not_yet_valid"
    NOT_ACTIVE = "not_active"


def review_flags(agreement: Agreement, today: date) -> tuple[ReviewFlag, ...]:
    """Every reason IG should look at this agreement today (empty: nothing to do)."""
    flags: list[ReviewFlag] = []
    if agreement.status is not AgreementStatus.ACTIVE:
        flags.append(ReviewFlag.NOT_ACTIVE)
    if today < agreement.valid_from:
        flags.append(ReviewFlag.NOT_YET_VALID)
    until = agreement.valid_until
    if until is not None and today > until:
        flags.append(ReviewFlag.EXPIRED)
    elif until is not None and until - today <= EXPIRING_WITHIN:
        flags.append(ReviewFlag.EXPIRING_SOON)
    if today > agreement.review_by:
        flags.append(ReviewFlag.PAST_REVIEW)
    return tuple(flags)
