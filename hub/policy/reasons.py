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


# One plain-English sentence per code, for counts and tables where a row's own message (which
# names the agreement or system) is not at hand.
SENTENCES: dict[str, str] = {
    ReasonCode.NOT_SUBSCRIBED: "The service has not subscribed to this kind of change.",
    ReasonCode.NO_AGREEMENT: "No data sharing agreement covers this flow.",
    ReasonCode.AGREEMENT_NOT_ACTIVE: "The agreement is not active (draft, suspended or ended).",
    ReasonCode.AGREEMENT_NOT_YET_VALID: "The agreement had not started yet.",
    ReasonCode.AGREEMENT_EXPIRED: "The agreement had expired.",
    ReasonCode.NO_CONSENT: "The agreement needs the resident's consent, and none is recorded.",
    ReasonCode.CONSENT_WITHDRAWN: "The resident withdrew their consent.",
    ReasonCode.OBJECTION: "The resident objected to this use of their data.",
    ReasonCode.SUBJECT_DECEASED: "The person has died and the agreement stops flows after death.",
    ReasonCode.NO_LOCAL_RECORD: "The service holds no record of this person.",
    ReasonCode.SUBJECT_UNRESOLVED: "The hub could not tell which person the event is about.",
    ReasonCode.ORIGINAL_NOT_RECEIVED: "The service never received the original this corrects.",
}


def sentence(code: str) -> str:
    """The plain-English sentence for a reason code (the code itself, readable, if unknown)."""
    return SENTENCES.get(code) or code.replace("_", " ").capitalize() + "."
