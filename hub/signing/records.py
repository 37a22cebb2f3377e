"""HMAC-SHA256 over one Kafka record: topic, key, value and headers, exactly as bytes.

The hub signs every record it writes for itself (events it accepted, deliveries, audit entries,
rejections, dead letters) and every consumer verifies before acting. The signature travels in the
`hub_sig` header (hex), the key id in `hub_sig_kid`, so keys can be rotated: sign with the first
key, accept any of the keys listed. A record copied to another topic, a value or header edited,
or a record produced by any other Kafka client does not verify.

What is signed (length-prefixed, so no two different records share a signing input):
domain tag, topic, key (or "no key"), value, then every header but the two signature headers,
in order (name and value).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from hub.errors import HubError

SIG_HEADER = "hub_sig"
KID_HEADER = "hub_sig_kid"
SIGNATURE_HEADERS = frozenset({SIG_HEADER, KID_HEADER})
MIN_KEY_BYTES = 16

_DOMAIN = b"tell-it-once/record/v1"
_NO_KEY = b"\xff" * 8  # a length no real part has: "no key" differs from an empty key
_DOMAIN_PART = len(_DOMAIN).to_bytes(8, "big") + _DOMAIN

RecordHeaders = Sequence[tuple[str, bytes | None]]


class Refusal(StrEnum):
    """Why a record is not the hub's own."""

    UNSIGNED = "unsigned"
    UNKNOWN_KEY = "unknown_key"
    BAD_SIGNATURE = "bad_signature"
    AMBIGUOUS = "ambiguous_signature"  # more than one signature header


class SigningKeyError(HubError):
    code = "signing_key_invalid"


def signing_input(topic: str, key: bytes | None, value: bytes, headers: RecordHeaders) -> bytes:
    """The exact bytes the signature covers (each part length-prefixed, 8 bytes big-endian)."""
    topic_b = topic.encode()
    parts = [_DOMAIN_PART, len(topic_b).to_bytes(8, "big"), topic_b]
    if key is None:
        parts.append(_NO_KEY)
    else:
        parts += (len(key).to_bytes(8, "big"), key)
    parts += (len(value).to_bytes(8, "big"), value)
    for name, data in headers:
        if name in SIGNATURE_HEADERS:
            continue
        name_b = name.encode()
        parts += (len(name_b).to_bytes(8, "big"), name_b)
        if data is None:
            parts.append(_NO_KEY)
        else:
            parts += (len(data).to_bytes(8, "big"), data)
    return b"".join(parts)


def key_id(secret: bytes) -> str:
    """A short public name of a key (not a secret: a one-way hash of it)."""
    return hashlib.sha256(b"tell-it-once/record-key-id\x00" + secret).hexdigest()[:16]


def sign(
    secret: bytes, topic: str, key: bytes | None, value: bytes, headers: RecordHeaders
) -> bytes:
    """The signature (hex, as header bytes) of a record with this secret."""
    if len(secret) < MIN_KEY_BYTES:
        raise SigningKeyError(f"a record signing key must be at least {MIN_KEY_BYTES} bytes")
    digest = hmac.digest(secret, signing_input(topic, key, value, headers), "sha256")
    return digest.hex().encode()


def unsigned(headers: RecordHeaders) -> list[tuple[str, bytes]]:
    """The headers without any signature (before re-signing, or to keep an original's headers)."""
    return [(k, v or b"") for k, v in headers if k not in SIGNATURE_HEADERS]


@dataclass(frozen=True)
class RecordKeys:
    """The hub's record keys: the first signs; all of them verify (rotation)."""

    secrets: tuple[bytes, ...]
    # keyed HMAC states, copied per record (no re-keying on the hot path)
    _by_id: dict[str, hmac.HMAC] = field(init=False, repr=False, compare=False)
    _kid: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.secrets:
            raise SigningKeyError("no record signing key (HUB_RECORD_SIGNING_KEY)")
        for s in self.secrets:
            if len(s) < MIN_KEY_BYTES:
                raise SigningKeyError(
                    f"a record signing key must be at least {MIN_KEY_BYTES} bytes"
                )
        states = {key_id(s): hmac.new(s, digestmod=hashlib.sha256) for s in reversed(self.secrets)}
        object.__setattr__(self, "_by_id", states)
        object.__setattr__(self, "_kid", key_id(self.secrets[0]))

    def _mac(self, kid: str, data: bytes) -> bytes:
        mac = self._by_id[kid].copy()
        mac.update(data)
        return mac.hexdigest().encode()

    @classmethod
    def of(cls, *secrets: str | bytes) -> RecordKeys:
        return cls(tuple(s.encode() if isinstance(s, str) else s for s in secrets))

    @property
    def kid(self) -> str:
        return self._kid

    def sign_headers(
        self, topic: str, key: bytes | None, value: bytes, headers: RecordHeaders = ()
    ) -> list[tuple[str, bytes]]:
        """The headers to send: the given ones (any old signature dropped) plus the signature."""
        plain = unsigned(headers)
        sig = self._mac(self._kid, signing_input(topic, key, value, plain))
        return [*plain, (SIG_HEADER, sig), (KID_HEADER, self._kid.encode())]

    def check(
        self, topic: str, key: bytes | None, value: bytes | None, headers: RecordHeaders
    ) -> Refusal | None:
        """None when the record is the hub's own, else why not."""
        sigs = [v for k, v in headers if k == SIG_HEADER]
        kids = [v for k, v in headers if k == KID_HEADER]
        if not sigs:
            return Refusal.UNSIGNED
        if len(sigs) > 1 or len(kids) > 1:
            return Refusal.AMBIGUOUS
        kid = (kids[0] or b"").decode(errors="replace") if kids else ""
        if kid not in self._by_id:
            return Refusal.UNKNOWN_KEY
        expected = self._mac(kid, signing_input(topic, key, value or b"", headers))
        if not hmac.compare_digest(expected, sigs[0] or b""):
            return Refusal.BAD_SIGNATURE
        return None

    def verify(
        self, topic: str, key: bytes | None, value: bytes | None, headers: RecordHeaders
    ) -> bool:
        return self.check(topic, key, value, headers) is None


def verify(
    keys: RecordKeys, topic: str, key: bytes | None, value: bytes | None, headers: RecordHeaders
) -> bool:
    """Was this record signed by the hub (with any of its keys) exactly as it is?"""
    return keys.verify(topic, key, value, headers)
