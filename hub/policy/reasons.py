"""Why a transfer was withheld: an enumerated code and a sentence a person can read."""

from __future__ import annotations

from enum import StrEnum


class ReasonCode(StrEnum):
    NO_AGREEMENT = "no_agreement"
    AGREEMENT_NOT_ACTIVE = "agreement_not_active"
    AGREEMENT_NOT_YET_VALID = "agreement_not_yet_valid"
    AGREEMENT_EXPIRED = "agreement_expired"
    NO_CONSENT = "no_consent"
    OBJECTION = "objection"
