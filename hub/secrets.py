"""The hub's secret settings: one table, generated for the embedded stack, required in production.

- Embedded default (`hub up`, `hub demo`: HUB_KAFKA_BOOTSTRAP empty): every secret not set is
  generated on first run into `<data dir>/secrets/` (directory 0700, files 0600) and read back
  on later runs, so pseudonyms and signatures stay stable.
- Against an external Kafka (HUB_KAFKA_BOOTSTRAP set): a process refuses to start unless every
  secret is set explicitly, long enough, and not a value printed in the repository.

A new secret setting is one more `SecretSetting` line in SECRET_SETTINGS.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from pydantic import SecretStr

from hub.audit.signing import (
    Signer,
    SigningKeyError,
    Verifier,
    generate_private_pem,
    load_private,
    load_public,
    public_pem,
)
from hub.errors import ConfigError, Problem
from hub.settings import HubSettings


def random_secret() -> str:
    """256 random bits as 64 hex digits: what `hub keys secret` prints."""
    return secrets.token_hex(32)


@dataclass(frozen=True)
class SecretSetting:
    """One shared secret (an HMAC key): its HubSettings field, how to make one, its least length."""

    field: str
    min_length: int = 32
    generate: Callable[[], str] = random_secret
    how: str = "make one with `hub keys secret` (or `openssl rand -hex 32`)"

    @property
    def env(self) -> str:
        return "HUB_" + self.field.upper()


SECRET_SETTINGS: tuple[SecretSetting, ...] = (
    SecretSetting("pseudonym_key"),
    SecretSetting("record_signing_key"),
)

# Values printed in this repository (README, compose file, earlier defaults): never accepted.
PUBLISHED = frozenset(
    {"change-me-tell-it-once-demo-key", "change-me-tell-it-once-checkpoint-key", "whsec_demo"}
)

SIGNING_KEY_FILE = "audit-signing-key.pem"
PUBLIC_KEY_FILE = "audit-public-key.pem"


def _text(value: SecretStr | None) -> str:
    return value.get_secret_value() if value is not None else ""


def secret_problems(settings: HubSettings) -> list[Problem]:
    """Every secret setting that is missing, published or too short, by its variable name."""
    problems = []
    for spec in SECRET_SETTINGS:
        text = _text(getattr(settings, spec.field))
        if not text:
            problems.append(Problem(spec.env, "required", f"not set: {spec.how}"))
        elif text in PUBLISHED or text.lower().startswith("change-me"):
            problems.append(
                Problem(
                    spec.env, "published", f"this value is printed in the repository: {spec.how}"
                )
            )
        elif len(text) < spec.min_length:
            problems.append(
                Problem(
                    spec.env,
                    "too_short",
                    f"{len(text)} characters, at least {spec.min_length} needed: {spec.how}",
                )
            )
    if (
        settings.audit_signing_key is None
        and settings.audit_signing_key_file is None
        and settings.audit_public_key_file is None
    ):
        problems.append(
            Problem(
                "HUB_AUDIT_SIGNING_KEY_FILE",
                "required",
                "not set: make an Ed25519 key pair with `hub keys signing --out DIR` and set "
                "HUB_AUDIT_SIGNING_KEY_FILE (or HUB_AUDIT_SIGNING_KEY to the PEM text; "
                "processes that only verify may set HUB_AUDIT_PUBLIC_KEY_FILE instead)",
            )
        )
    else:
        try:
            audit_verifier(settings)
        except ConfigError as exc:  # a file that cannot be read: its problems name their setting
            problems.extend(exc.problems)
        except SigningKeyError as exc:
            setting = _audit_key_setting(settings)
            problems.append(Problem(setting, "invalid", str(exc).removeprefix(f"{setting}: ")))
    return problems


def _audit_key_setting(settings: HubSettings) -> str:
    """The setting the audit key was read from: the one `audit_verifier` reads first."""
    if settings.audit_public_key_file is not None:
        return "HUB_AUDIT_PUBLIC_KEY_FILE"
    if settings.audit_signing_key is not None:
        return "HUB_AUDIT_SIGNING_KEY"
    return "HUB_AUDIT_SIGNING_KEY_FILE"


def require_secrets(settings: HubSettings, needed_by: str) -> None:
    """Against an external Kafka, a ConfigError naming every secret missing, published or weak."""
    if settings.embedded_broker:
        return  # embedded: `hub up` generates them (its children get them through the environment)
    problems = secret_problems(settings)
    if problems:
        raise ConfigError(
            f"{needed_by} refuses to start against an external Kafka without its own secrets",
            problems,
        )


def _write_once(path: Path, content: bytes) -> None:
    """Create `path` (mode 0600) atomically with `content`, unless it exists already."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(content)
            out.flush()
            os.fsync(out.fileno())
        with contextlib.suppress(FileExistsError):  # another process made it first: theirs
            os.link(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _kept(path: Path, make: Callable[[], bytes]) -> bytes:
    if not path.exists():
        _write_once(path, make())
    if path.stat().st_mode & 0o077:
        path.chmod(0o600)
    return path.read_bytes()


def _generated(spec: SecretSetting) -> bytes:
    return spec.generate().encode()


def secrets_dir(settings: HubSettings) -> Path:
    return settings.data_dir / "secrets"


def _made_secrets_dir(settings: HubSettings) -> Path:
    """The data directory's `secrets/` (0700), made if missing; a data directory that cannot be
    made or written is a ConfigError naming HUB_DATA_DIR, not an OSError's traceback."""
    folder = secrets_dir(settings)
    try:
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        folder.chmod(0o700)
    except OSError as exc:
        raise ConfigError(
            "cannot use the data directory",
            [
                Problem(
                    "HUB_DATA_DIR",
                    "unwritable",
                    f"{settings.data_dir.resolve()}: {exc.strerror}: set HUB_DATA_DIR to a "
                    "directory this user can create and write",
                )
            ],
        ) from exc
    return folder


def embedded_settings(settings: HubSettings) -> HubSettings:
    """The embedded default's settings: secrets not set explicitly are read from the data
    directory, generated there on first run (directory 0700, files 0600); demo API keys allowed."""
    folder = _made_secrets_dir(settings)
    update: dict[str, object] = {"allow_demo_keys": True}
    for spec in SECRET_SETTINGS:
        if not _text(getattr(settings, spec.field)):
            value = _kept(folder / spec.field, partial(_generated, spec))
            update[spec.field] = SecretStr(value.decode().strip())
    if settings.audit_signing_key is None and settings.audit_signing_key_file is None:
        private = folder / SIGNING_KEY_FILE
        pem = _kept(private, generate_private_pem)
        update["audit_signing_key_file"] = private
        if settings.audit_public_key_file is None:
            public = folder / PUBLIC_KEY_FILE
            _kept(public, lambda: public_pem(load_private(pem, str(private)).public_key()))
            update["audit_public_key_file"] = public
    return settings.model_copy(update=update)


def _read(path: Path, setting: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise ConfigError(
            f"cannot read {setting}", [Problem(setting, "unreadable", f"{path}: {exc.strerror}")]
        ) from exc


def audit_signer(settings: HubSettings) -> Signer:
    """The private key that signs checkpoints and purge anchors (HUB_AUDIT_SIGNING_KEY[_FILE])."""
    if settings.audit_signing_key is not None:
        pem = settings.audit_signing_key.get_secret_value().encode()
        return Signer(load_private(pem, "HUB_AUDIT_SIGNING_KEY"))
    if settings.audit_signing_key_file is not None:
        path = settings.audit_signing_key_file
        return Signer(load_private(_read(path, "HUB_AUDIT_SIGNING_KEY_FILE"), str(path)))
    raise ConfigError(
        "signing a checkpoint needs the hub's audit signing key",
        [
            Problem(
                "HUB_AUDIT_SIGNING_KEY_FILE",
                "required",
                "set it to the Ed25519 private key file (`hub keys signing --out DIR` makes one)",
            )
        ],
    )


def audit_verifier(settings: HubSettings, public_key_file: Path | None = None) -> Verifier:
    """The public key checkpoints are verified with: the file given, HUB_AUDIT_PUBLIC_KEY_FILE,
    or the public half of the signing key."""
    path = public_key_file or settings.audit_public_key_file
    if path is not None:
        return Verifier(load_public(_read(path, "HUB_AUDIT_PUBLIC_KEY_FILE"), str(path)))
    return audit_signer(settings).verifier


SESSION_SECRET_FILE = "session_secret"


def session_secret(settings: HubSettings) -> str:
    """The key signing the IG workbench's session cookie: HUB_SESSION_SECRET, or one generated
    on first use into <data dir>/secrets/ (file 0600) and shared by the API processes of this
    host; API processes on several hosts need HUB_SESSION_SECRET set to the same value."""
    given = _text(settings.session_secret)
    if given:
        if len(given) < 32 or given in PUBLISHED or given.lower().startswith("change-me"):
            raise ConfigError(
                "the workbench session secret is too weak",
                [
                    Problem(
                        "HUB_SESSION_SECRET",
                        "weak",
                        "use at least 32 random characters: `hub keys secret` makes one",
                    )
                ],
            )
        return given
    folder = _made_secrets_dir(settings)
    return _kept(folder / SESSION_SECRET_FILE, random_secret().encode).decode().strip()
