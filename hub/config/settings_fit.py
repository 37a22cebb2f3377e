"""Settings that name what the configuration defines (recipients, systems, event types), checked
against it: a name no configuration has is taken without complaint by the settings alone, and
then never applies (a webhook secret for `wastee`, thresholds for `address.moved`).

They are warnings for `hub config check`, not reasons to refuse a start: a recipient retired
from the YAML while its secret is still set must not stop the hub.
"""

from __future__ import annotations

from collections.abc import Collection

from hub.config.model import HubConfig, WebhookSink
from hub.errors import Problem
from hub.settings import HubSettings


def _names(names: Collection[str]) -> str:
    return ", ".join(sorted(names))


def settings_warnings(
    settings: HubSettings, config: HubConfig, event_types: Collection[str]
) -> list[Problem]:
    """Each setting naming a recipient, system or event type the configuration lacks, and each
    webhook recipient without a signing secret. Pure."""
    webhooks = {s.id for s in config.recipients if isinstance(s.delivery, WebhookSink)}
    out = [
        Problem(
            "HUB_WEBHOOK_SECRETS",
            "unknown_recipient",
            f"{name!r} is not a webhook recipient in the configuration, so its secret signs "
            "nothing: "
            + (f"use one of {_names(webhooks)}" if webhooks else "no recipient takes webhooks"),
        )
        for name in sorted(set(settings.webhook_secrets) - webhooks)
    ]
    out += [
        Problem(
            "HUB_WEBHOOK_SECRETS",
            "missing",
            f"no secret for the webhook recipient {name!r}: its deliveries cannot be signed; "
            'add {"' + name + '": ["whsec_..."]} (`hub keys secret` makes the random part)',
        )
        for name in sorted(webhooks - set(settings.webhook_secrets))
    ]
    out += [
        Problem(
            "HUB_MATCH_THRESHOLDS",
            "unknown_event_type",
            f"{name!r} is not an event type, so its thresholds never apply: use `*` (every "
            f"other type) or one of {_names(event_types)}",
        )
        for name in sorted(set(settings.match_thresholds) - {"*", *event_types})
    ]
    systems = {s.id for s in config.systems}
    reference = settings.match_reference_system
    if (
        settings.match_enabled
        and "match_reference_system" in settings.model_fields_set
        and reference not in systems
    ):
        out.append(
            Problem(
                "HUB_MATCH_REFERENCE_SYSTEM",
                "unknown_system",
                f"{reference!r} is not a system in the configuration, so bulk matching has no "
                f"reference extract: use one of {_names(systems)}",
            )
        )
    return out
