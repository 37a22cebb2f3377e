"""The pseudonymous subject key: HMAC-SHA256 of the subject, hex, 32 characters, stable."""

from __future__ import annotations

import hashlib
import hmac

from hub.pseudonym import subject_key


def test_the_key_is_the_hmac_sha256_of_the_subject_truncated_to_32_hex_characters() -> None:
    secret, subject = "s" * 40, "P-100042"
    expected = hmac.new(secret.encode(), subject.encode(), hashlib.sha256).hexdigest()[:32]
    assert subject_key(secret, subject) == expected


def test_keys_already_in_the_audit_trail_stay_the_same() -> None:
    """A change of how the key is computed must not change one key: the trail is searched by it."""
    assert subject_key("bench-pseudonym-key", "P-1") == "3521bfff447e62975096ae3f9667e807"


def test_another_secret_or_subject_gives_another_key() -> None:
    assert subject_key("a" * 40, "P-1") != subject_key("b" * 40, "P-1")
    assert subject_key("a" * 40, "P-1") != subject_key("a" * 40, "P-2")
