"""Pseudonymous subject keys: the audit store never holds who the person is, only this key."""

from __future__ import annotations

import hashlib
import hmac


def subject_key(secret: str, subject: str) -> str:
    """HMAC-SHA256 of the subject under the hub's secret, hex, 32 characters."""
    return hmac.new(secret.encode(), subject.encode(), hashlib.sha256).hexdigest()[:32]
