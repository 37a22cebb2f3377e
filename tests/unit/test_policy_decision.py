"""The router's pure, default-deny decision."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime
from typing import Any

import pytest

from hub.config.model import Agreement, AgreementStatus, ConsentMode
from hub.events.envelope import Envelope
from hub.policy.decision import Allow, Withhold, decide
from hub.policy.reasons import ReasonCode
from hub.policy.state import ConsentAction, ConsentFact, SubjectState

from .samples import (
    EFFECTIVE,
    NEW_LINES,
    NEW_POSTCODE,
    NEW_UPRN,
    NOW,
    OLD_LINES,
    OLD_POSTCODE,
    OLD_UPRN,
    SUBJECT,
    address_data,
)

PURPOSE = "Keep waste collection rounds at the right property"


def agreement(**overrides: Any) -> Agreement:
    fields: dict[str, Any] = {
        "id": "DSA-T1",
        "title": "Test agreement",
        "providers": ("council-tax",),
        "recipients": ("waste",),
        "shares": {"address.changed": ("new_address", "effective_date")},
        "purpose": PURPOSE,
        "lawful_basis": "UK GDPR Art. 6(1)(e) public task",
        "consent": ConsentMode.NONE,
        "valid_from": date(2026, 1, 1),
        "valid_until": date(2028, 12, 31),
        "status": AgreementStatus.ACTIVE,
        "data_owner": "Head of Revenues",
        "review_by": date(2027, 6, 30),
        "recipient_retention": "6 years",
    }
    fields.update(overrides)
    return Agreement(**fields)


def envelope(source: str = "council-tax", type_: str = "address.changed") -> Envelope:
    return Envelope(
        id="evt-0001",
        source=source,
        type=type_,
        subject=SUBJECT,
        time=datetime(2026, 3, 14, 9, 30, tzinfo=UTC),
    )


LINKED = SubjectState(links={"waste": "WST-000417", "parking": "PRK-9"})
BEFORE = datetime(2026, 5, 1, tzinfo=UTC)


def said(*facts: tuple[ConsentAction, str], at: datetime = BEFORE) -> SubjectState:
    """The linked person, having said these things (action, purpose) at `at`, in order."""
    return SubjectState(
        consent=tuple(
            ConsentFact(action, purpose, None, at, seq)
            for seq, (action, purpose) in enumerate(facts)
        ),
        links=LINKED.links,
    )


def run(
    agreements: list[Agreement],
    *,
    env: Envelope | None = None,
    recipient: str = "waste",
    subject: SubjectState = LINKED,
    now: datetime = NOW,
    data: dict[str, Any] | None = None,
) -> Allow | Withhold:
    return decide(
        env or envelope(),
        address_data() if data is None else data,
        recipient,
        agreements,
        subject,
        now,
    )


def codes(decision: Allow | Withhold) -> list[ReasonCode]:
    assert isinstance(decision, Withhold), decision
    assert decision.allowed is False
    return [r.code for r in decision.reasons]


def test_a_covering_active_agreement_allows() -> None:
    decision = run([agreement()])
    assert isinstance(decision, Allow)
    assert decision.allowed is True
    assert decision.agreement.id == "DSA-T1"


def test_default_deny_without_any_agreement() -> None:
    decision = run([])
    assert codes(decision) == [ReasonCode.NO_AGREEMENT]
    assert isinstance(decision, Withhold)
    assert decision.reasons[0].agreement_id is None
    assert "council-tax" in decision.reasons[0].message
    assert "waste" in decision.reasons[0].message


def test_provider_must_match_the_event_source() -> None:
    decision = run([agreement(providers=("registrar",))])
    assert codes(decision) == [ReasonCode.NO_AGREEMENT]


def test_recipient_must_be_listed() -> None:
    decision = run([agreement(recipients=("libraries", "parking"))])
    assert codes(decision) == [ReasonCode.NO_AGREEMENT]


def test_event_type_must_be_shared() -> None:
    decision = run([agreement(shares={"death.notified": ("date_of_death",)})])
    assert codes(decision) == [ReasonCode.NO_AGREEMENT]


def test_agreement_for_another_event_type_does_not_cover_this_one() -> None:
    decision = run(
        [agreement()],
        env=envelope(type_="death.notified"),
        data={"date_of_death": date(2026, 2, 1), "verified_by": "registrar"},
    )
    assert codes(decision) == [ReasonCode.NO_AGREEMENT]


@pytest.mark.parametrize(
    "status", [AgreementStatus.DRAFT, AgreementStatus.SUSPENDED, AgreementStatus.ENDED]
)
def test_agreement_that_is_not_active_withholds(status: AgreementStatus) -> None:
    decision = run([agreement(status=status)])
    assert codes(decision) == [ReasonCode.AGREEMENT_NOT_ACTIVE]
    assert isinstance(decision, Withhold)
    assert decision.reasons[0].agreement_id == "DSA-T1"
    assert status.value in decision.reasons[0].message


def test_before_valid_from_is_not_yet_valid() -> None:
    decision = run([agreement(valid_from=date(2026, 6, 2))])
    assert codes(decision) == [ReasonCode.AGREEMENT_NOT_YET_VALID]


def test_valid_from_day_itself_is_valid() -> None:
    assert isinstance(run([agreement(valid_from=date(2026, 6, 1))]), Allow)


def test_after_valid_until_is_expired() -> None:
    decision = run([agreement(valid_until=date(2026, 5, 31))])
    assert codes(decision) == [ReasonCode.AGREEMENT_EXPIRED]
    assert isinstance(decision, Withhold)
    assert "2026-05-31" in decision.reasons[0].message


def test_valid_until_day_itself_is_valid() -> None:
    assert isinstance(run([agreement(valid_until=date(2026, 6, 1))]), Allow)


def test_open_ended_agreement_stays_valid() -> None:
    later = datetime(2040, 1, 1, tzinfo=UTC)
    assert isinstance(run([agreement(valid_until=None)], now=later), Allow)


def test_consent_required_without_a_grant_withholds() -> None:
    decision = run([agreement(consent=ConsentMode.REQUIRED)])
    assert codes(decision) == [ReasonCode.NO_CONSENT]


def test_consent_required_with_a_grant_allows() -> None:
    subject = said((ConsentAction.GRANTED, PURPOSE))
    decision = run([agreement(consent=ConsentMode.REQUIRED)], subject=subject)
    assert isinstance(decision, Allow)


def test_consent_must_match_the_purpose() -> None:
    subject = said((ConsentAction.GRANTED, "a different purpose"))
    decision = run([agreement(consent=ConsentMode.REQUIRED)], subject=subject)
    assert codes(decision) == [ReasonCode.NO_CONSENT]


def test_purpose_matches_ignoring_case_and_spacing() -> None:
    subject = said((ConsentAction.GRANTED, "  keep waste  collection ROUNDS at the right property"))
    assert isinstance(run([agreement(consent=ConsentMode.REQUIRED)], subject=subject), Allow)


def test_a_withdrawal_after_a_grant_withholds_with_its_own_reason() -> None:
    subject = said((ConsentAction.GRANTED, PURPOSE), (ConsentAction.WITHDRAWN, PURPOSE))
    decision = run([agreement(consent=ConsentMode.REQUIRED)], subject=subject)
    assert codes(decision) == [ReasonCode.CONSENT_WITHDRAWN]


def test_a_withdrawal_effective_later_is_not_in_force_yet() -> None:
    later = datetime(2026, 7, 1, tzinfo=UTC)
    subject = SubjectState(
        consent=(
            ConsentFact(ConsentAction.GRANTED, PURPOSE, None, BEFORE, 1),
            ConsentFact(ConsentAction.WITHDRAWN, PURPOSE, None, later, 2),
        ),
        links=LINKED.links,
    )
    assert isinstance(run([agreement(consent=ConsentMode.REQUIRED)], subject=subject), Allow)
    after = run([agreement(consent=ConsentMode.REQUIRED)], subject=subject, now=later)
    assert codes(after) == [ReasonCode.CONSENT_WITHDRAWN]


def test_a_withdrawal_for_one_recipient_leaves_the_others() -> None:
    subject = SubjectState(
        consent=(
            ConsentFact(ConsentAction.GRANTED, PURPOSE, None, BEFORE, 1),
            ConsentFact(ConsentAction.WITHDRAWN, PURPOSE, "parking", BEFORE, 2),
        ),
        links=LINKED.links,
    )
    both = agreement(consent=ConsentMode.REQUIRED, recipients=("waste", "parking"))
    assert isinstance(run([both], subject=subject), Allow)
    assert codes(run([both], subject=subject, recipient="parking")) == [
        ReasonCode.CONSENT_WITHDRAWN
    ]


def test_opt_out_allows_without_an_objection() -> None:
    assert isinstance(run([agreement(consent=ConsentMode.OPT_OUT)]), Allow)


def test_opt_out_with_an_objection_withholds() -> None:
    subject = said((ConsentAction.OBJECTION, PURPOSE))
    decision = run([agreement(consent=ConsentMode.OPT_OUT)], subject=subject)
    assert codes(decision) == [ReasonCode.OBJECTION]


def test_an_objection_lifted_by_a_later_grant_allows_again() -> None:
    subject = said((ConsentAction.OBJECTION, PURPOSE), (ConsentAction.GRANTED, PURPOSE))
    assert isinstance(run([agreement(consent=ConsentMode.OPT_OUT)], subject=subject), Allow)


def test_statutory_sharing_ignores_an_objection() -> None:
    subject = said((ConsentAction.OBJECTION, PURPOSE))
    assert isinstance(run([agreement(consent=ConsentMode.NONE)], subject=subject), Allow)


def test_first_valid_agreement_in_id_order_wins() -> None:
    b = agreement(id="DSA-B", shares={"address.changed": ("effective_date",)})
    a = agreement(id="DSA-A", shares={"address.changed": ("new_address.postcode",)})
    decision = run([b, a])
    assert isinstance(decision, Allow)
    assert decision.agreement.id == "DSA-A"
    assert decision.data == {"new_address": {"postcode": NEW_POSTCODE}}


def test_an_invalid_agreement_is_skipped_for_a_later_valid_one() -> None:
    expired = agreement(id="DSA-A", valid_until=date(2026, 1, 31))
    valid = agreement(id="DSA-B", shares={"address.changed": ("effective_date",)})
    decision = run([valid, expired])
    assert isinstance(decision, Allow)
    assert decision.agreement.id == "DSA-B"
    assert decision.data == {"effective_date": EFFECTIVE}


def test_every_candidate_reason_is_reported_in_id_order() -> None:
    candidates = [
        agreement(id="DSA-C", consent=ConsentMode.REQUIRED),
        agreement(id="DSA-A", valid_until=date(2026, 1, 31)),
        agreement(id="DSA-B", status=AgreementStatus.DRAFT),
        agreement(id="DSA-X", recipients=("parking",)),  # not a candidate at all
    ]
    decision = run(candidates)
    assert isinstance(decision, Withhold)
    assert [(r.agreement_id, r.code) for r in decision.reasons] == [
        ("DSA-A", ReasonCode.AGREEMENT_EXPIRED),
        ("DSA-B", ReasonCode.AGREEMENT_NOT_ACTIVE),
        ("DSA-C", ReasonCode.NO_CONSENT),
    ]


def test_minimised_data_holds_only_the_allowed_fields() -> None:
    decision = run([agreement()])
    assert isinstance(decision, Allow)
    assert decision.data == {
        "new_address": {"uprn": NEW_UPRN, "lines": NEW_LINES, "postcode": NEW_POSTCODE},
        "effective_date": EFFECTIVE,
    }
    assert "previous_address" not in decision.data
    text = repr(decision.data)
    for value in (OLD_UPRN, OLD_POSTCODE, *OLD_LINES):
        assert value not in text
    assert decision.fields == ("effective_date", "new_address")


def test_leaf_level_sharing_drops_sibling_fields() -> None:
    allowed = ("new_address.uprn", "new_address.postcode", "effective_date")
    decision = run([agreement(shares={"address.changed": allowed})])
    assert isinstance(decision, Allow)
    assert decision.data == {
        "new_address": {"uprn": NEW_UPRN, "postcode": NEW_POSTCODE},
        "effective_date": EFFECTIVE,
    }
    assert decision.fields == ("effective_date", "new_address.postcode", "new_address.uprn")
    assert all(line not in repr(decision.data) for line in NEW_LINES)


def test_fields_lists_only_what_was_actually_present() -> None:
    data = address_data()
    del data["effective_date"]
    decision = run([agreement()], data=data)
    assert isinstance(decision, Allow)
    assert decision.fields == ("new_address",)
    assert set(decision.data) == {"new_address"}


def test_local_id_comes_from_the_identity_links_for_this_recipient() -> None:
    decision = run([agreement()])
    assert isinstance(decision, Allow)
    assert decision.local_id == "WST-000417"
    assert decision.match_only is False


def test_a_recipient_with_no_record_gets_nothing() -> None:
    subject = SubjectState(links={"parking": "PRK-9"})
    decision = run([agreement()], subject=subject)
    assert codes(decision) == [ReasonCode.NO_LOCAL_RECORD]


def test_notify_to_match_sends_only_the_matching_fields_and_no_local_id() -> None:
    subject = SubjectState(links={"parking": "PRK-9"})
    matching = agreement(notify_to_match={"address.changed": ("new_address.postcode",)})
    decision = run([matching], subject=subject)
    assert isinstance(decision, Allow)
    assert decision.match_only is True
    assert decision.local_id is None
    assert decision.data == {"new_address": {"postcode": NEW_POSTCODE}}
    assert decision.fields == ("new_address.postcode",)


def test_after_death_flows_are_flagged_or_stopped_as_the_agreement_says() -> None:
    deceased = SubjectState(links=LINKED.links, deceased_on=date(2026, 5, 30))
    flagged = run([agreement()], subject=deceased)
    assert isinstance(flagged, Allow)
    assert flagged.flags == ("deceased",)
    stopped = run([agreement(after_death="stop")], subject=deceased)
    assert codes(stopped) == [ReasonCode.SUBJECT_DECEASED]


def test_decision_is_deterministic_and_independent_of_agreement_order() -> None:
    agreements = [
        agreement(id="DSA-C", consent=ConsentMode.REQUIRED),
        agreement(id="DSA-A", valid_until=date(2026, 1, 31)),
        agreement(id="DSA-B", status=AgreementStatus.SUSPENDED),
        agreement(id="DSA-D", shares={"address.changed": ("new_address.uprn",)}),
    ]
    first = run(agreements)
    rng = random.Random(7)
    for _ in range(5):
        shuffled = list(agreements)
        rng.shuffle(shuffled)
        assert run(shuffled) == first
    assert isinstance(first, Allow)
    assert first.agreement.id == "DSA-D"


def test_decide_does_not_modify_its_input() -> None:
    data = address_data()
    run([agreement()], data=data)
    assert data == address_data()


def test_agreement_dates_are_uk_dates_not_utc_dates() -> None:
    """At 00:30 BST on 1 July the UTC date is still 30 June: an agreement from 1 July applies."""
    from datetime import date as _date

    from hub.config.model import Agreement
    from hub.events.envelope import Envelope
    from hub.policy.decision import Allow, decide

    agreement = Agreement(
        id="A-1",
        title="t",
        providers=("council-tax",),
        recipients=("waste",),
        shares={"death.notified": ("date_of_death",)},
        purpose="p",
        lawful_basis="Art. 6(1)(e)",
        valid_from=_date(2026, 7, 1),
        status="active",
        data_owner="o",
        review_by=date(2027, 6, 30),
        recipient_retention="6 years",
    )
    now = datetime(2026, 6, 30, 23, 30, tzinfo=UTC)  # 00:30 on 1 July in London
    envelope = Envelope(
        id="e", source="council-tax", type="death.notified", subject="P-1", time=now
    )
    decision = decide(envelope, {"date_of_death": "x"}, "waste", [agreement], LINKED, now)
    assert isinstance(decision, Allow)
