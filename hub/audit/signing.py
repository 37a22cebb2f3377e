"""Ed25519 signatures of checkpoints and purge anchors: signed with the hub's private key,
verified with the public key alone (a DPO needs nothing secret to check them).

A signature is written `ed25519:<key id>:<base64url signature>`; the key id is the first 16
hex digits of the SHA-256 of the raw public key, so a verifier can say which key signed.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from hub.errors import HubError

PREFIX = "ed25519"


class SigningKeyError(HubError):
    code = "bad_signing_key"


def generate_private_pem() -> bytes:
    """A new Ed25519 private key, PKCS#8 PEM (unencrypted: protect the file, mode 0600)."""
    return Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def public_pem(public: Ed25519PublicKey) -> bytes:
    return public.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def key_id(public: Ed25519PublicKey) -> str:
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def load_private(pem: bytes, where: str) -> Ed25519PrivateKey:
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError) as exc:
        raise SigningKeyError(
            f"{where}: not an unencrypted PEM private key: make an Ed25519 key pair with "
            "`hub keys signing --out DIR`"
        ) from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise SigningKeyError(f"{where}: not an Ed25519 key (make one with `hub keys signing`)")
    return key


def load_public(pem: bytes, where: str) -> Ed25519PublicKey:
    try:
        key = serialization.load_pem_public_key(pem)
    except (ValueError, TypeError) as exc:
        raise SigningKeyError(
            f"{where}: not a PEM public key: give the public.pem `hub keys signing` wrote, or "
            "what `hub audit public-key` prints"
        ) from exc
    if not isinstance(key, Ed25519PublicKey):
        raise SigningKeyError(f"{where}: not an Ed25519 public key")
    return key


@dataclass(frozen=True)
class Verifier:
    """Checks signatures with a public key only."""

    public: Ed25519PublicKey

    @property
    def key_id(self) -> str:
        return key_id(self.public)

    def verify(self, statement: str, signature: str) -> bool:
        algorithm, _, rest = signature.partition(":")
        signer_id, _, encoded = rest.partition(":")
        if algorithm != PREFIX or signer_id != self.key_id:
            return False
        try:
            raw = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
            self.public.verify(raw, statement.encode())
        except (InvalidSignature, binascii.Error, ValueError):
            return False
        return True

    def public_pem(self) -> bytes:
        return public_pem(self.public)


@dataclass(frozen=True)
class Signer:
    """Signs statements with the private key; its verifier holds only the public half."""

    private: Ed25519PrivateKey

    @property
    def verifier(self) -> Verifier:
        return Verifier(self.private.public_key())

    def sign(self, statement: str) -> str:
        raw = self.private.sign(statement.encode())
        encoded = base64.urlsafe_b64encode(raw).decode().rstrip("=")
        return f"{PREFIX}:{self.verifier.key_id}:{encoded}"


def is_legacy_hmac(signature: str) -> bool:
    """A signature from before Ed25519: 64 hex digits of HMAC-SHA256 under a shared secret."""
    return not signature.startswith(PREFIX + ":")
