"""Pseudonymous subject keys: the audit store never holds who the person is, only this key."""

from __future__ import annotations

import hashlib
import hmac
import re
from functools import lru_cache

# A subject key as the audit store and the access log hold it; the access log writes
# NO_PERSON for a read by a local id that no hub person was linked to.
NO_PERSON = "(no linked person)"
SUBJECT_KEY_PATTERN = rf"^([0-9a-f]{{32}}|{re.escape(NO_PERSON)})$"


@lru_cache(maxsize=8)
def _keyed(secret: str) -> hmac.HMAC:
    """The HMAC keyed with `secret`, copied for each subject (`HMAC.copy`, as the standard
    library suggests for messages that share a start: the key's set-up is done once per
    secret, not once per event)."""
    return hmac.new(secret.encode(), digestmod=hashlib.sha256)


def subject_key(secret: str, subject: str) -> str:
    """HMAC-SHA256 of the subject under the hub's secret, hex, 32 characters."""
    keyed = _keyed(secret).copy()
    keyed.update(subject.encode())
    return keyed.hexdigest()[:32]
