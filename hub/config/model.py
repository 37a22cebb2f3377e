"""Systems, subscriptions and data sharing agreements, as IG writes them in YAML."""

from __future__ import annotations

import hashlib
import json
import re
from datetime import date
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
    model_validator,
)

from hub.delivery.ssrf import static_refusal

# A system's id (systems.yaml, the key table): it names topics (`sources.<id>`), so Kafka's
# characters, and 63 at most
SYSTEM_ID_PATTERN = r"^[a-z0-9][a-z0-9-]{0,62}$"
SystemId = Annotated[str, StringConstraints(pattern=SYSTEM_ID_PATTERN)]


def system_id_problem(text: str) -> str | None:
    """Why `text` cannot be a system's id, in words to act on (None: it can)."""
    if re.fullmatch(SYSTEM_ID_PATTERN, text):
        return None
    return (
        f"{text!r} is not a system id: lower-case letters, digits and '-', beginning with a "
        "letter or digit, at most 63 (e.g. waste, ig-alice)"
    )


EventType = Annotated[str, StringConstraints(pattern=r"^[a-z]+(\.[a-z]+)*$")]
FieldPath = Annotated[str, StringConstraints(pattern=r"^[a-z_][a-z0-9_]*(\.[a-z_][a-z0-9_]*)*$")]
AgreementId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")]


class _Config(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Role(StrEnum):
    SOURCE = "source"  # publishes events as itself
    RECIPIENT = "recipient"  # reads its own inbox
    IG = "ig"  # reads the audit, reports, data quality figures and rejected events
    ADMIN = "admin"  # manages systems and agreements


class InboxSink(_Config):
    """Deliveries wait in the recipient's pull inbox (the default)."""

    kind: Literal["inbox"] = "inbox"


class WebhookSink(_Config):
    """Deliveries are POSTed to the recipient's URL, signed per Standard Webhooks 1.0.

    The signing secrets are settings (HUB_WEBHOOK_SECRETS), never in the YAML."""

    kind: Literal["webhook"]
    url: Annotated[str, StringConstraints(pattern=r"^https?://[^\s/?#]+[^\s]*$", max_length=2000)]
    allow_private: bool = Field(
        default=False,
        description="Allow loopback/private/link-local addresses (SSRF guard opt-in)",
    )
    timeout_s: float = Field(default=10.0, gt=0, le=120)
    concurrency: int = Field(default=4, ge=1, le=64, description="Requests in flight at once")

    @model_validator(mode="after")
    def _public_unless_allowed(self) -> WebhookSink:
        why = None if self.allow_private else static_refusal(self.url)
        if why is not None:
            raise ValueError(
                f"the webhook URL can only reach a non-public address ({why}); webhooks go to "
                "public addresses only. For a test or development receiver on this machine or "
                "the local network, set allow_private: true for this recipient"
            )
        return self


class KafkaSink(_Config):
    """Deliveries are produced to the recipient's own Kafka topic (Avro, CloudEvents headers)."""

    kind: Literal["kafka"]
    topic: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9._-]{1,249}$")] | None = None


DeliverySink = Annotated[InboxSink | WebhookSink | KafkaSink, Field(discriminator="kind")]


class Authority(_Config):
    """Which facts about a person a source system may assert; the router enforces it.

    A fact without authority (a death from a system that may not notify one, a consent for an
    agreement the system may not record consent for, a link of another system's record) is
    rejected with a named reason and changes no state.
    """

    death: bool = Field(default=False, description="May notify a death (death.notified)")
    consent: Literal["all"] | tuple[AgreementId, ...] = Field(
        default=(),
        description=(
            "Agreements whose purpose it may record a consent granted or withdrawn for "
            "(consent.changed), or `all`"
        ),
    )
    objection: Literal["all"] | tuple[AgreementId, ...] = Field(
        default=(),
        description="Agreements whose purpose it may record an objection for, or `all`",
    )
    link: Literal["own", "any"] | tuple[SystemId, ...] = Field(
        default="own",
        description=(
            "Whose records it may link to hub persons (person.linked): `own`, `any` (an "
            "identity provider), or a list of systems besides its own"
        ),
    )


class System(_Config):
    """A council service system that publishes events, receives updates, or both."""

    id: SystemId
    name: str = Field(min_length=1)
    roles: frozenset[Role] = Field(min_length=1)
    api_key_sha256: str = Field(
        pattern=r"^[0-9a-f]{64}$", description="SHA-256 (hex) of its API key"
    )
    subscriptions: tuple[EventType, ...] = Field(
        default=(), description="Event types this recipient wants to hear about"
    )
    identity_provider: bool = Field(
        default=False,
        description="May link any system's records to hub persons (person.linked), not only its own",
    )
    delivery: DeliverySink = Field(
        default_factory=InboxSink, description="How this recipient receives its deliveries"
    )
    authority: Authority = Field(
        default_factory=Authority,
        description="Which facts about a person it may assert (death, consent, objection, link)",
    )

    @model_validator(mode="after")
    def _subscriptions_need_recipient(self) -> System:
        if self.subscriptions and Role.RECIPIENT not in self.roles:
            raise ValueError("only a system with the recipient role can have subscriptions")
        return self

    def may_link(self, system_id: str) -> bool:
        """Whether it may link `system_id`'s records (its own always; `identity_provider: true`
        is the same as `authority: {link: any}`)."""
        link = self.authority.link
        if system_id == self.id or self.identity_provider or link == "any":
            return True
        return link != "own" and system_id in link


class SystemsFile(_Config):
    systems: tuple[System, ...] = Field(min_length=1)


class AgreementStatus(StrEnum):
    DRAFT = "draft"
    ACTIVE = "active"
    SUSPENDED = "suspended"
    ENDED = "ended"


class ConsentMode(StrEnum):
    NONE = "none"  # statutory duty: no consent needed
    REQUIRED = "required"  # never deliver without consent on record
    OPT_OUT = "opt_out"  # deliver unless the resident objected


class AfterDeath(StrEnum):
    CONTINUE = "continue"  # flows go on (flagged deceased): e.g. the notification itself
    STOP = "stop"  # no more transfers under this agreement once the person has died


class Agreement(_Config):
    """A data sharing agreement: who may send what to whom, why, and under which lawful basis."""

    id: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")]
    title: str = Field(min_length=1)
    providers: tuple[SystemId, ...] = Field(min_length=1)
    recipients: tuple[SystemId, ...] = Field(min_length=1)
    shares: dict[EventType, tuple[FieldPath, ...]] = Field(
        min_length=1, description="For each event type, the exact fields that may be shared"
    )
    purpose: str = Field(min_length=1)
    lawful_basis: str = Field(min_length=1, description="UK GDPR Art. 6 basis")
    consent: ConsentMode = ConsentMode.NONE
    valid_from: date
    valid_until: date | None = None
    status: AgreementStatus = AgreementStatus.DRAFT
    data_owner: str = Field(min_length=1)
    review_by: date = Field(description="When IG must next review the agreement")
    recipient_retention: str = Field(
        min_length=1, description="How long the recipient has agreed to keep what it receives"
    )
    special_category: bool = Field(
        default=False, description="Whether the flow carries special category data (Art. 9)"
    )
    article9_condition: str | None = Field(
        default=None,
        min_length=1,
        description="UK GDPR Art. 9 condition, for special category data",
    )
    notify_to_match: dict[EventType, tuple[FieldPath, ...]] = Field(
        default_factory=dict,
        description=(
            "Per event type, the matching fields a recipient with no record of the person may "
            "receive (no local id) so it can find or create the record"
        ),
    )
    after_death: AfterDeath = Field(
        default=AfterDeath.CONTINUE, description="Whether flows stop once the person has died"
    )

    @model_validator(mode="after")
    def _special_category_needs_condition(self) -> Agreement:
        if self.special_category and self.article9_condition is None:
            raise ValueError("special category data needs an article9_condition (UK GDPR Art. 9)")
        return self

    @field_validator("shares")
    @classmethod
    def _every_flow_lists_fields(
        cls, shares: dict[str, tuple[str, ...]]
    ) -> dict[str, tuple[str, ...]]:
        empty = [event_type for event_type, fields in shares.items() if not fields]
        if empty:
            raise ValueError(f"no fields listed for {', '.join(empty)}")
        return shares

    @field_validator("valid_until")
    @classmethod
    def _until_after_from(cls, value: date | None, info: ValidationInfo) -> date | None:
        start = info.data.get("valid_from")
        if value is not None and start is not None and value < start:
            raise ValueError(f"valid_until is before valid_from ({start.isoformat()})")
        return value

    @property
    def version(self) -> str:
        """Content hash: any edit to the agreement gives a new version."""
        canonical = json.dumps(self.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()[:12]


class HubConfig(_Config):
    """Everything the router needs to decide: systems (with subscriptions) and agreements."""

    systems: tuple[System, ...]
    agreements: tuple[Agreement, ...]

    def system(self, system_id: str) -> System | None:
        return next((s for s in self.systems if s.id == system_id), None)

    @property
    def recipients(self) -> tuple[System, ...]:
        return tuple(s for s in self.systems if Role.RECIPIENT in s.roles)

    @property
    def sources(self) -> tuple[System, ...]:
        return tuple(s for s in self.systems if Role.SOURCE in s.roles)

    def subscribers(self, event_type: str) -> tuple[System, ...]:
        return tuple(s for s in self.recipients if event_type in s.subscriptions)

    def system_by_key_hash(self, key_hash: str) -> System | None:
        return next((s for s in self.systems if s.api_key_sha256 == key_hash), None)
