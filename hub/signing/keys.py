"""The record keys from the settings: HUB_RECORD_SIGNING_KEY signs, older keys still verify.

Never an empty or default key. The embedded hub (`hub up`, `hub demo`) generates one in its data
directory and hands it to its processes (hub/secrets.py); anywhere else a process without one
does not start.
"""

from __future__ import annotations

from hub.errors import ConfigError, Problem
from hub.settings import HubSettings
from hub.signing.records import MIN_KEY_BYTES, RecordKeys


def record_keys(settings: HubSettings) -> RecordKeys:
    """The keys this process signs and verifies internal records with; ConfigError if none."""
    configured = settings.record_signing_key
    first = configured.get_secret_value() if configured is not None else None
    problems: list[Problem] = []
    if not first:
        problems.append(
            Problem(
                "HUB_RECORD_SIGNING_KEY",
                "required",
                "set a random secret of at least 32 characters (e.g. `openssl rand -hex 32`); "
                "the hub signs its internal Kafka records with it",
            )
        )
    old = [k.get_secret_value() for k in settings.record_signing_old_keys]
    for i, value in enumerate([first or "", *old] if first else old):
        if len(value.encode()) < MIN_KEY_BYTES:
            name = "HUB_RECORD_SIGNING_KEY" if i == 0 and first else "HUB_RECORD_SIGNING_OLD_KEYS"
            problems.append(
                Problem(name, "min_length", f"a record signing key needs {MIN_KEY_BYTES}+ bytes")
            )
    if problems:
        raise ConfigError("no usable record signing key", problems)
    assert first is not None
    return RecordKeys.of(first, *old)
