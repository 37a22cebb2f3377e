"""Properties of `decide` over generated agreements, consent histories and links (hypothesis)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from hub.config.model import AfterDeath, Agreement, AgreementStatus, ConsentMode
from hub.events.envelope import Envelope
from hub.policy.decision import Allow, decide
from hub.policy.state import ConsentAction, ConsentFact, SubjectState

from .samples import address_data

SYSTEMS = ("council-tax", "registrar")
RECIPIENTS = ("waste", "parking", "electoral")
PURPOSES = ("Keep rounds right", "Permit zones")
FIELDS = (
    "new_address",
    "new_address.uprn",
    "new_address.postcode",
    "previous_address.uprn",
    "effective_date",
    "move_type",
)
START = datetime(2026, 1, 1, tzinfo=UTC)

moments = st.integers(min_value=0, max_value=900).map(lambda h: START + timedelta(hours=h))


@st.composite
def agreements(draw: st.DrawFn, index: int = 0) -> Agreement:
    valid_from = date(2026, 1, 1) + timedelta(days=draw(st.integers(0, 40)))
    until = draw(st.none() | st.integers(0, 60).map(lambda d: valid_from + timedelta(days=d)))
    shared = draw(st.lists(st.sampled_from(FIELDS), min_size=1, max_size=4, unique=True))
    match = draw(st.lists(st.sampled_from(FIELDS), max_size=2, unique=True))
    return Agreement(
        id=f"DSA-{index:03d}-{draw(st.integers(0, 9))}",
        title="generated",
        providers=tuple(draw(st.lists(st.sampled_from(SYSTEMS), min_size=1, unique=True))),
        recipients=tuple(draw(st.lists(st.sampled_from(RECIPIENTS), min_size=1, unique=True))),
        shares={draw(st.sampled_from(("address.changed", "death.notified"))): tuple(shared)},
        purpose=draw(st.sampled_from(PURPOSES)),
        lawful_basis="UK GDPR Art. 6(1)(e)",
        consent=draw(st.sampled_from(list(ConsentMode))),
        valid_from=valid_from,
        valid_until=until,
        status=draw(st.sampled_from(list(AgreementStatus))),
        data_owner="owner",
        review_by=date(2027, 1, 1),
        recipient_retention="6 years",
        notify_to_match={"address.changed": tuple(match)} if match else {},
        after_death=draw(st.sampled_from(list(AfterDeath))),
    )


def covering(a: Agreement, recipient: str, **terms: Any) -> Agreement:
    """`a`, made to cover council-tax -> recipient address.changed, active and in date."""
    fields = next(iter(a.shares.values()))
    return a.model_copy(
        update={
            "providers": ("council-tax",),
            "recipients": (recipient,),
            "shares": {"address.changed": fields},
            "status": AgreementStatus.ACTIVE,
            "valid_from": date(2026, 1, 1),
            "valid_until": None,
            **terms,
        }
    )


agreement_lists = st.integers(0, 5).flatmap(
    lambda n: st.tuples(*(agreements(i) for i in range(n))).map(list)
)


@st.composite
def subjects(draw: st.DrawFn) -> SubjectState:
    facts = draw(
        st.lists(
            st.builds(
                ConsentFact,
                action=st.sampled_from(list(ConsentAction)),
                purpose=st.sampled_from(PURPOSES),
                recipient=st.none() | st.sampled_from(RECIPIENTS),
                effective_at=moments,
                seq=st.integers(0, 50),
            ),
            max_size=5,
        )
    )
    links = draw(st.dictionaries(st.sampled_from(RECIPIENTS), st.just("L-1"), max_size=3))
    dead = draw(st.none() | st.just(date(2026, 1, 20)))
    return SubjectState(consent=tuple(facts), links=links, deceased_on=dead)


def event(source: str = "council-tax") -> Envelope:
    return Envelope(id="e-1", source=source, type="address.changed", subject="P-1", time=START)


def data() -> dict[str, Any]:
    return address_data()


@settings(max_examples=120, deadline=None)
@given(agreement_lists, subjects(), st.sampled_from(RECIPIENTS), moments)
def test_delivered_fields_are_within_the_agreement_and_the_data_nothing_else(
    found: list[Agreement], subject: SubjectState, recipient: str, now: datetime
) -> None:
    if found:
        found = [covering(found[0], recipient), *found[1:]]
    decision = decide(event(), data(), recipient, found, subject, now)
    if isinstance(decision, Allow):
        a = decision.agreement
        allowed = (
            set(a.notify_to_match.get("address.changed", ()))
            if decision.match_only
            else set(a.shares["address.changed"])
        )
        assert set(decision.fields) <= allowed
        assert recipient in a.recipients and "council-tax" in a.providers
        assert a.status is AgreementStatus.ACTIVE
        assert (decision.local_id is None) == decision.match_only


@settings(max_examples=80, deadline=None)
@given(agreement_lists, subjects(), st.sampled_from(RECIPIENTS), moments)
def test_no_covering_agreement_means_never_delivered(
    found: list[Agreement], subject: SubjectState, recipient: str, now: datetime
) -> None:
    uncovered = [
        a for a in found if recipient not in a.recipients or "address.changed" not in a.shares
    ]
    assert not decide(event(), data(), recipient, uncovered, subject, now).allowed


@settings(max_examples=120, deadline=None)
@given(agreement_lists, subjects(), st.sampled_from(RECIPIENTS), moments, moments)
def test_after_a_withdrawal_never_delivered_under_a_consent_required_agreement(
    found: list[Agreement],
    subject: SubjectState,
    recipient: str,
    withdrawn_at: datetime,
    now: datetime,
) -> None:
    """A withdrawal for every purpose, recorded last, in force from `withdrawn_at`."""
    latest = max((f.seq for f in subject.consent), default=0) + 1
    withdrawals = tuple(
        ConsentFact(ConsentAction.WITHDRAWN, p, None, withdrawn_at, latest) for p in PURPOSES
    )
    # nothing later than the withdrawal: it is the resident's last word
    earlier = tuple(f for f in subject.consent if f.effective_at <= withdrawn_at)
    after = SubjectState(earlier + withdrawals, subject.links, subject.deceased_on)
    required = [covering(a, recipient, consent=ConsentMode.REQUIRED) for a in found]
    decision = decide(event(), data(), recipient, required, after, max(now, withdrawn_at))
    assert not decision.allowed
    # and with statutory agreements alongside, only those can carry it
    mixed = [*required, *found]
    decision = decide(event(), data(), recipient, mixed, after, max(now, withdrawn_at))
    if isinstance(decision, Allow):
        assert decision.agreement.consent is not ConsentMode.REQUIRED


@settings(max_examples=80, deadline=None)
@given(agreement_lists, subjects(), st.sampled_from(RECIPIENTS), moments, st.randoms())
def test_identical_inputs_give_identical_decisions_whatever_the_agreement_order(
    found: list[Agreement], subject: SubjectState, recipient: str, now: datetime, rng: Any
) -> None:
    first = decide(event(), data(), recipient, found, subject, now)
    shuffled = list(found)
    rng.shuffle(shuffled)
    assert decide(event(), data(), recipient, shuffled, subject, now) == first
    assert decide(event(), data(), recipient, list(found), subject, now) == first
