"""The record keys from the settings: HUB_RECORD_SIGNING_KEY signs, older keys still verify.

Never an empty or default key. A process with no key configured uses the key its embedded hub
generated in the data directory (`hub up`, `hub demo`: the broker-less laptop run creates it on
first use); anywhere else (HUB_KAFKA_BOOTSTRAP set and no key file) it is a startup error.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from hub.errors import ConfigError, Problem
from hub.settings import HubSettings
from hub.signing.records import MIN_KEY_BYTES, RecordKeys

KEY_FILE = "record-signing.key"


def key_file(settings: HubSettings) -> Path:
    return settings.data_dir / KEY_FILE


def _embedded_key(settings: HubSettings) -> str | None:
    """The embedded hub's generated key: read it, or (broker-less run only) create it."""
    path = key_file(settings)
    if path.exists():
        return path.read_text().strip()
    if not settings.embedded_broker:
        return None
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process of this hub created it first
        return path.read_text().strip()
    with os.fdopen(fd, "w") as out:
        out.write(secrets.token_urlsafe(32) + "\n")
    return path.read_text().strip()


def record_keys(settings: HubSettings) -> RecordKeys:
    """The keys this process signs and verifies internal records with; ConfigError if none."""
    configured = settings.record_signing_key
    first = configured.get_secret_value() if configured is not None else _embedded_key(settings)
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
