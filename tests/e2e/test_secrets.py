"""No known secrets, as a user meets it: production processes refuse to start without their own
keys, the embedded default keeps generated ones, anchors are Ed25519-signed and forgeries fail."""

from __future__ import annotations

import json
import signal
import stat
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import insert, select, text

from hub.audit.chain import sign
from hub.audit.checkpoint import CHECKPOINTS, Checkpoint, CheckpointKind
from hub.audit.ledger import AUDIT
from hub.audit.store import AuditStore
from hub.db.engine import make_engine, migrate
from tests.conftest import TEST_SECRETS_ENV
from tests.e2e.conftest import run_hub, start_hub
from tests.integration.test_audit_chain import T0, entry

NO_BROKER = "127.0.0.1:9"  # the checks come before any connection


@pytest.mark.parametrize(
    "command", [("run", "worker"), ("run", "api"), ("init",), ("run", "connectors")]
)
def test_a_process_against_an_external_kafka_without_keys_names_each_missing_one(
    hub_env: dict[str, str], command: tuple[str, ...]
) -> None:
    result = run_hub(*command, env={**hub_env, "HUB_KAFKA_BOOTSTRAP": NO_BROKER}, timeout=60)
    assert result.returncode != 0
    message = " ".join(result.stderr.split())
    assert "refuses to start against an external Kafka without its own secrets" in message
    for name in ("HUB_PSEUDONYM_KEY", "HUB_RECORD_SIGNING_KEY", "HUB_AUDIT_SIGNING_KEY_FILE"):
        assert name in message
    assert "hub keys secret" in message and "Traceback" not in result.stderr


def test_published_values_and_short_keys_are_refused(hub_env: dict[str, str]) -> None:
    env = {
        **hub_env,
        **TEST_SECRETS_ENV,
        "HUB_KAFKA_BOOTSTRAP": NO_BROKER,
        "HUB_PSEUDONYM_KEY": "change-me-tell-it-once-demo-key",
        "HUB_RECORD_SIGNING_KEY": "0123456789",
    }
    result = run_hub("run", "worker", env=env, timeout=60)
    message = " ".join(result.stderr.split())
    assert result.returncode != 0
    assert "HUB_PSEUDONYM_KEY: this value is printed in the repository" in message
    assert "HUB_RECORD_SIGNING_KEY: 10 characters, at least 32 needed" in message


def test_hub_up_refuses_a_weak_secret_it_was_given_before_starting_anything(
    hub_env: dict[str, str],
) -> None:
    """Embedded: what is unset is generated, but what is set must be usable. It failed after
    starting the broker, saying "against an external Kafka" of the embedded one."""
    env = {**hub_env, "HUB_PSEUDONYM_KEY": "short", "HUB_AUDIT_SIGNING_KEY": "not a pem"}
    result = run_hub("up", env=env, timeout=60)
    message = " ".join(result.stderr.split())
    assert result.returncode != 0 and "is up" not in result.stdout
    assert "hub up refuses to start: a secret set in the environment is not usable" in message
    assert "HUB_PSEUDONYM_KEY: 5 characters, at least 32 needed" in message
    assert "HUB_AUDIT_SIGNING_KEY: not an unencrypted PEM private key" in message
    assert "external Kafka" not in message and "Traceback" not in result.stderr
    assert not (Path(hub_env["HUB_DATA_DIR"]) / "logs" / "broker.log").exists()


def test_the_api_refuses_the_demo_api_keys_in_production(hub_env: dict[str, str]) -> None:
    env = {**hub_env, **TEST_SECRETS_ENV, "HUB_KAFKA_BOOTSTRAP": NO_BROKER}
    del env["HUB_ALLOW_DEMO_KEYS"]
    assert run_hub("db", "upgrade", env=env).returncode == 0  # the API refuses no database
    result = run_hub("run", "api", env=env, timeout=60)
    message = " ".join(result.stderr.split())
    assert result.returncode != 0
    assert "still holds the published demo API keys" in message
    assert "systems.yaml: council-tax" in message and "demo-council-tax-key" in message


def _secret_files(data: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted((data / "secrets").iterdir())}


def _child_env(pid: int) -> dict[str, str]:
    raw = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    return dict(item.decode().split("=", 1) for item in raw if b"=" in item)


def _up_once(hub_env: dict[str, str]) -> dict[str, str]:
    """`hub up` until ready; the environment its children (worker, API) were given; Ctrl-C."""
    hub = start_hub(hub_env)
    try:
        children = {pid: _child_env(pid) for pid in hub.children}
    finally:
        hub.proc.send_signal(signal.SIGINT)
        hub.proc.communicate(timeout=60)
    assert hub.proc.returncode == 0
    envs = [e for e in children.values() if "HUB_PSEUDONYM_KEY" in e]
    assert len(envs) >= 2  # the worker and the API
    assert len({e["HUB_PSEUDONYM_KEY"] for e in envs}) == 1
    return envs[0]


def test_hub_up_generates_its_keys_once_keeps_them_private_and_gives_them_to_children(
    hub_env: dict[str, str],
) -> None:
    data = Path(hub_env["HUB_DATA_DIR"])
    first_env = _up_once(hub_env)
    first = _secret_files(data)
    assert set(first) == {
        "pseudonym_key",
        "record_signing_key",
        "audit-signing-key.pem",
        "audit-public-key.pem",
        "session_secret",  # the workbench session cookie key (the API generates it)
    }
    assert stat.S_IMODE((data / "secrets").stat().st_mode) == 0o700
    for name in first:
        assert stat.S_IMODE((data / "secrets" / name).stat().st_mode) == 0o600, name
    assert first_env["HUB_PSEUDONYM_KEY"] == first["pseudonym_key"].decode().strip()
    assert first_env["HUB_RECORD_SIGNING_KEY"] == first["record_signing_key"].decode().strip()
    assert len(first_env["HUB_PSEUDONYM_KEY"]) >= 32
    second_env = _up_once(hub_env)
    assert _secret_files(data) == first
    assert second_env["HUB_PSEUDONYM_KEY"] == first_env["HUB_PSEUDONYM_KEY"]
    assert second_env["HUB_AUDIT_SIGNING_KEY_FILE"] == str(
        data / "secrets" / "audit-signing-key.pem"
    )


def _audit_rows(hub_env: dict[str, str], n: int) -> str:
    url = f"sqlite:///{Path(hub_env['HUB_DATA_DIR']).resolve() / 'hub.db'}"
    engine = make_engine(url)
    migrate(engine)
    AuditStore(engine).write([entry(i) for i in range(1, n + 1)], T0)
    engine.dispose()
    return url


def test_an_anchor_forged_with_the_old_default_key_is_refused(hub_env: dict[str, str]) -> None:
    """An attacker deletes the first rows and records a purge anchor signed with the checkpoint
    key printed in the repository: `hub audit verify` must fail."""
    engine = make_engine(_audit_rows(hub_env, 10))
    with engine.begin() as conn:
        row5 = conn.execute(select(AUDIT.c.row_hash).where(AUDIT.c.seq == 5)).scalar_one()
        conn.execute(text("DELETE FROM audit_record WHERE seq <= 5"))
        statement = Checkpoint.statement(CheckpointKind.PURGE, 5, row5, 5, T0)
        conn.execute(
            insert(CHECKPOINTS).values(
                kind="purge", head_seq=5, head_hash=row5, row_count=5, created_at=T0,
                signature=sign("change-me-tell-it-once-checkpoint-key", statement),
            )
        )  # fmt: skip
    engine.dispose()
    result = run_hub("audit", "verify", env=hub_env)
    assert result.returncode == 1, result.stdout
    message = " ".join(result.stderr.split())
    assert "FAILED at row 5: the purge anchor at row 5 is not signed" in message
    assert "old shared HMAC key" in message


def test_a_dpo_verifies_checkpoints_and_anchors_with_the_public_key_alone(
    hub_env: dict[str, str], tmp_path: Path
) -> None:
    _audit_rows(hub_env, 10)
    made = run_hub("audit", "checkpoint", "--out", str(tmp_path / "cp.json"), env=hub_env)
    assert made.returncode == 0, made.stderr
    assert json.loads((tmp_path / "cp.json").read_text())["signature"].startswith("ed25519:")
    pub = run_hub("audit", "public-key", "--out", str(tmp_path / "hub.pub"), env=hub_env)
    assert pub.returncode == 0, pub.stderr
    assert (tmp_path / "hub.pub").read_text().startswith("-----BEGIN PUBLIC KEY-----")
    purged = run_hub("audit", "purge", "--before", "2026-11-25", "--yes", env=hub_env)
    assert purged.returncode == 0 and "signed anchor: row 10" in purged.stdout, purged.stderr
    # the private key is gone (a new one is generated): the public key given still verifies
    secrets = Path(hub_env["HUB_DATA_DIR"]) / "secrets"
    (secrets / "audit-signing-key.pem").unlink()
    (secrets / "audit-public-key.pem").unlink()
    args = ("--checkpoint", str(tmp_path / "cp.json"), "--public-key", str(tmp_path / "hub.pub"))
    ok = run_hub("audit", "verify", *args, env=hub_env)
    assert ok.returncode == 0, ok.stderr
    assert "OK: chain intact from the purge anchor at row 10" in ok.stdout
    # with another hub's key (the one just generated), the same files are refused
    other = run_hub("audit", "verify", "--checkpoint", str(tmp_path / "cp.json"), env=hub_env)
    assert other.returncode == 1 and "not by this public key" in " ".join(other.stderr.split())
    # a checkpoint file edited by hand is refused
    edited = json.loads((tmp_path / "cp.json").read_text())
    edited["row_count"] = 9
    (tmp_path / "cp.json").write_text(json.dumps(edited))
    bad = run_hub("audit", "verify", *args, env=hub_env)
    assert bad.returncode == 1 and "does not match its content" in " ".join(bad.stderr.split())


def test_a_purge_before_a_day_to_come_is_refused_and_the_trail_kept(
    hub_env: dict[str, str],
) -> None:
    """A mistyped year (2062 for 2026) purged every row with --yes: the whole trail, anchored."""
    _audit_rows(hub_env, 3)
    tomorrow = (date.today() + timedelta(days=1)).isoformat()
    refused = run_hub("audit", "purge", "--before", tomorrow, "--yes", env=hub_env)
    said = " ".join(refused.stderr.replace("│", " ").split())
    assert refused.returncode == 2 and f"{tomorrow} is in the future" in said, said
    kept = run_hub("audit", "verify", env=hub_env)
    assert kept.returncode == 0 and "3 rows" in kept.stdout, kept.stdout


def test_hub_keys_secret_prints_a_usable_secret() -> None:
    result = run_hub("keys", "secret")
    assert result.returncode == 0 and len(result.stdout.strip()) == 64


def test_hub_keys_signing_makes_a_private_pair_production_signs_with(
    hub_env: dict[str, str], tmp_path: Path
) -> None:
    made = run_hub("keys", "signing", "--out", str(tmp_path / "keys"), env=hub_env)
    assert made.returncode == 0, made.stderr
    private = tmp_path / "keys" / "audit-signing-key.pem"
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    assert f"HUB_AUDIT_SIGNING_KEY_FILE={private}" in made.stdout
    again = run_hub("keys", "signing", "--out", str(tmp_path / "keys"), env=hub_env)
    assert again.returncode == 1 and "exists already" in again.stderr
    env = {
        **hub_env,
        **TEST_SECRETS_ENV,
        "HUB_KAFKA_BOOTSTRAP": NO_BROKER,
        "HUB_AUDIT_SIGNING_KEY_FILE": str(private),
    }
    del env["HUB_AUDIT_SIGNING_KEY"]
    assert run_hub("db", "upgrade", env=env).returncode == 0  # a hub, with no audit rows yet
    cp = run_hub("audit", "checkpoint", "--out", str(tmp_path / "cp.json"), env=env)
    assert cp.returncode == 0, cp.stderr
    public = str(tmp_path / "keys" / "audit-public-key.pem")
    ok = run_hub(
        "audit",
        "verify",
        "--checkpoint",
        str(tmp_path / "cp.json"),
        "--public-key",
        public,
        env=env,
    )
    assert ok.returncode == 0, ok.stderr
