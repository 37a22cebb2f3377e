"""Why a transfer was withheld: an enumerated code and a sentence a person can read."""

from __future__ import annotations

from enum import StrEnum


class ReasonCode(StrEnum):
    NOT_SUBSCRIBED = "not_subscribed"
    NO_AGREEMENT = "no_agreement"
    AGREEMENT_NOT_ACTIVE = "agreement_not_active"
    AGREEMENT_NOT_YET_VALID = "agreement_not_yet_valid"
    AGREEMENT_EXPIRED = "agreement_expired"
    NO_CONSENT = "no_consent"
    CONSENT_WITHDRAWN = "consent_withdrawn"
    OBJECTION = "objection"
    SUBJECT_DECEASED = "subject_deceased"
    NO_LOCAL_RECORD = "no_local_record"
    SUBJECT_UNRESOLVED = "subject_unresolved"
    ORIGINAL_NOT_RECEIVED = "original_not_received"
