"""Settings naming what the configuration lacks (hub.config.settings_fit): warnings, pure."""

from __future__ import annotations

from pathlib import Path

from pydantic import SecretStr

from hub.config.loader import load_config
from hub.config.settings_fit import settings_warnings
from hub.events.schemas import SchemaRegistry
from hub.settings import HubSettings
from tests.unit.test_sink_config import set_waste_delivery

SECRET = [SecretStr("whsec_dGVzdHRlc3R0ZXN0dGVzdHRlc3R0ZXN0")]


def test_a_name_the_configuration_lacks_is_named_with_what_it_could_be(
    config_copy: Path, registry: SchemaRegistry
) -> None:
    set_waste_delivery(
        config_copy, "\n    delivery:\n      kind: webhook\n      url: https://waste.example/h"
    )
    config = load_config(config_copy, registry)
    settings = HubSettings(
        webhook_secrets={"wastee": SECRET},
        match_thresholds={"*": (0.999, 0.5), "address.moved": (0.99, 0.5)},
        match_reference_system="customer-indx",
    )
    said = {
        (p.location, p.rule): p.message
        for p in settings_warnings(settings, config, registry.event_types)
    }
    assert said == {
        ("HUB_WEBHOOK_SECRETS", "unknown_recipient"): "'wastee' is not a webhook recipient in "
        "the configuration, so its secret signs nothing: use one of waste",
        ("HUB_WEBHOOK_SECRETS", "missing"): "no secret for the webhook recipient 'waste': its "
        'deliveries cannot be signed; add {"waste": ["whsec_..."]} (`hub keys secret` makes '
        "the random part)",
        ("HUB_MATCH_THRESHOLDS", "unknown_event_type"): "'address.moved' is not an event type, "
        "so its thresholds never apply: use `*` (every other type) or one of address.changed, "
        "consent.changed, contact.changed, correction, death.notified, name.changed, "
        "person.linked, retraction",
        ("HUB_MATCH_REFERENCE_SYSTEM", "unknown_system"): "'customer-indx' is not a system in "
        "the configuration, so bulk matching has no reference extract: use one of "
        "adult-social-care, council-tax, customer-index, electoral, information-governance, "
        "libraries, parking, registrar, waste",
    }


def test_settings_that_fit_and_the_defaults_say_nothing(
    config_copy: Path, registry: SchemaRegistry
) -> None:
    config = load_config(config_copy, registry)
    assert settings_warnings(HubSettings(), config, registry.event_types) == []
    set_waste_delivery(
        config_copy, "\n    delivery:\n      kind: webhook\n      url: https://waste.example/h"
    )
    config = load_config(config_copy, registry)
    fitting = HubSettings(webhook_secrets={"waste": SECRET}, match_reference_system="waste")
    assert settings_warnings(fitting, config, registry.event_types) == []
    # a default reference system the configuration lacks (a test's, a benchmark's) is not said
    assert "match_reference_system" not in HubSettings().model_fields_set
