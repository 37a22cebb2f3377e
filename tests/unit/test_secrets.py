"""Secret settings: the table's checks, Ed25519 checkpoint signatures, the demo API keys."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pydantic import SecretStr

from hub.access.keys import demo_keys_in_use, refuse_demo_keys
from hub.audit.chain import sign
from hub.audit.checkpoint import Checkpoint, CheckpointKind, CheckpointStore
from hub.audit.signing import Signer, generate_private_pem, load_private
from hub.config.loader import load_config
from hub.errors import ConfigError
from hub.events.schemas import SchemaRegistry
from hub.secrets import SECRET_SETTINGS, require_secrets, secret_problems
from hub.settings import REPO_ROOT, HubSettings

T = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
EXTERNAL = {"kafka_bootstrap": "kafka-1:9092"}
GOOD = {
    "pseudonym_key": SecretStr("a" * 64),
    "record_signing_key": SecretStr("b" * 64),
    "audit_signing_key": SecretStr(generate_private_pem().decode()),
}


def store(signer: Signer) -> CheckpointStore:
    return CheckpointStore.signing(None, signer)  # type: ignore[arg-type]  # signing needs no db


def test_ed25519_checkpoint_round_trip_with_the_public_key_alone() -> None:
    signer = Signer(Ed25519PrivateKey.generate())
    cp = store(signer).make(CheckpointKind.PURGE, 5, "ab" * 32, 5, T)
    assert cp.signature.startswith(f"ed25519:{signer.verifier.key_id}:")
    verifier_only = CheckpointStore(None, signer.verifier)  # type: ignore[arg-type]
    assert verifier_only.signer is None
    assert verifier_only.signature_problem(cp) is None


@pytest.mark.parametrize(
    "change",
    [
        {"head_seq": 6},
        {"head_hash": "cd" * 32},
        {"row_count": 4},
        {"kind": CheckpointKind.PUBLISHED},
        {"created_at": datetime(2026, 12, 1, 9, 0, 1, tzinfo=UTC)},
    ],
)
def test_any_altered_field_breaks_the_signature(change: dict[str, object]) -> None:
    signer = Signer(Ed25519PrivateKey.generate())
    cp = store(signer).make(CheckpointKind.PURGE, 5, "ab" * 32, 5, T)
    problem = store(signer).signature_problem(cp.model_copy(update=change))
    assert problem is not None and "does not match" in problem


def test_a_tampered_signature_and_another_key_are_refused() -> None:
    signer, other = Signer(Ed25519PrivateKey.generate()), Signer(Ed25519PrivateKey.generate())
    cp = store(signer).make(CheckpointKind.PUBLISHED, 9, "ab" * 32, 9, T)
    last = cp.signature[-2]
    flipped = cp.signature[:-2] + ("A" if last != "A" else "B") + cp.signature[-1]
    assert store(signer).signature_problem(cp.model_copy(update={"signature": flipped}))
    problem = store(other).signature_problem(cp)
    assert problem is not None and f"signed by key {signer.verifier.key_id}" in problem
    # the forger's own key id in the signature does not help: the public key is the verifier's
    forged = store(other).make(CheckpointKind.PUBLISHED, 9, "ab" * 32, 9, T)
    assert store(signer).signature_problem(forged) is not None


def test_an_anchor_signed_with_the_old_published_hmac_key_is_refused() -> None:
    statement = Checkpoint.statement(CheckpointKind.PURGE, 5, "ab" * 32, 5, T)
    forged = Checkpoint(
        kind=CheckpointKind.PURGE,
        head_seq=5,
        head_hash="ab" * 32,
        row_count=5,
        created_at=T,
        signature=sign("change-me-tell-it-once-checkpoint-key", statement),
    )
    problem = store(Signer(Ed25519PrivateKey.generate())).signature_problem(forged)
    assert problem is not None and "old shared HMAC key" in problem


def test_a_private_key_that_is_not_ed25519_is_named() -> None:
    from hub.audit.signing import SigningKeyError

    with pytest.raises(SigningKeyError, match="HUB_AUDIT_SIGNING_KEY"):
        load_private(
            b"-----BEGIN PRIVATE KEY-----\nnope\n-----END PRIVATE KEY-----\n",
            "HUB_AUDIT_SIGNING_KEY",
        )


def test_every_missing_secret_is_named_against_an_external_kafka() -> None:
    with pytest.raises(ConfigError) as caught:
        require_secrets(HubSettings(**EXTERNAL), "the worker")  # type: ignore[arg-type]
    named = {p.location for p in caught.value.problems}
    assert named == {"HUB_PSEUDONYM_KEY", "HUB_RECORD_SIGNING_KEY", "HUB_AUDIT_SIGNING_KEY_FILE"}
    assert "hub keys secret" in str(caught.value)
    assert {s.env for s in SECRET_SETTINGS} <= named


def test_published_and_short_secrets_are_refused() -> None:
    settings = HubSettings(
        **EXTERNAL,  # type: ignore[arg-type]
        **{
            **GOOD,
            "pseudonym_key": SecretStr("change-me-tell-it-once-demo-key"),
            "record_signing_key": SecretStr("short"),
        },
    )
    rules = {p.location: p.rule for p in secret_problems(settings)}
    assert rules == {"HUB_PSEUDONYM_KEY": "published", "HUB_RECORD_SIGNING_KEY": "too_short"}


@pytest.mark.parametrize(
    ("given", "named"),
    [
        ({"audit_signing_key": SecretStr("not a pem")}, "HUB_AUDIT_SIGNING_KEY"),
        ({"audit_signing_key": None, "audit_signing_key_file": REPO_ROOT / "README.md"},
         "HUB_AUDIT_SIGNING_KEY_FILE"),
        ({"audit_public_key_file": REPO_ROOT / "README.md"}, "HUB_AUDIT_PUBLIC_KEY_FILE"),
        ({"audit_public_key_file": REPO_ROOT / "no-such.pem"}, "HUB_AUDIT_PUBLIC_KEY_FILE"),
    ],
)  # fmt: skip
def test_an_unusable_audit_key_is_named_by_the_setting_it_came_from(
    given: dict[str, object], named: str
) -> None:
    """Each setting its own (every one was reported as HUB_AUDIT_SIGNING_KEY_FILE), and in the
    hub's words, not the cryptography library's."""
    problems = secret_problems(HubSettings(**EXTERNAL, **{**GOOD, **given}))  # type: ignore[arg-type]
    assert [p.location for p in problems] == [named]
    assert "cryptography.io" not in problems[0].message
    assert not problems[0].message.startswith(named)  # said once, as the location


def test_explicit_good_secrets_pass_and_the_embedded_default_needs_none() -> None:
    require_secrets(HubSettings(**EXTERNAL, **GOOD), "the API")  # type: ignore[arg-type]
    require_secrets(HubSettings(), "hub up")  # embedded: generated into the data dir instead


def test_the_demo_api_keys_are_refused_outside_the_embedded_stack() -> None:
    config = load_config(
        REPO_ROOT / "config", SchemaRegistry.from_dir(REPO_ROOT / "schemas" / "avro")
    )
    assert {s.id for s in demo_keys_in_use(config, None)} >= {"council-tax", "waste", "parking"}
    with pytest.raises(ConfigError) as caught:
        refuse_demo_keys(config, None, allowed=False)
    message = str(caught.value)
    assert "systems.yaml: waste" in message and "hub keys rotate waste" in message
    refuse_demo_keys(config, None, allowed=True)
