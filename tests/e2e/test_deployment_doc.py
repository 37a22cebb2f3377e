"""docs/deployment.md's *Keys and secrets* and *Migrations* commands work as written: their `sh`
blocks, in order, in one shell, against an external-Kafka setting and a fresh database."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from hub.settings import REPO_ROOT

DOC = (REPO_ROOT / "docs" / "deployment.md").read_text()


def section(title: str) -> str:
    start = DOC.index(f"\n## {title}\n")
    end = DOC.find("\n## ", start + 1)
    return DOC[start : end if end != -1 else len(DOC)]


def sh_blocks(text: str) -> list[str]:
    return re.findall(r"```sh\n(.*?)```", text, flags=re.S)


def test_keys_and_migrations_sections_run_as_written(tmp_path: Path) -> None:
    keys, migrations = sh_blocks(section("Keys and secrets")), sh_blocks(section("Migrations"))
    assert len(keys) == 2 and len(migrations) == 2
    # plain alembic runs from a checkout of the repository; everything else in a work folder
    # a checkpoint is of an existing hub's database (the API and worker create it): make one
    script = "set -euo pipefail\n" + "\n".join([keys[0], "hub db upgrade", keys[1], migrations[0]])
    script += f"\ncd {REPO_ROOT}\n" + migrations[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
    env.update(
        {
            "PATH": f"{Path(sys.executable).parent}:{env['PATH']}",  # `hub`, `alembic`
            "HUB_KAFKA_BOOTSTRAP": "127.0.0.1:9",  # production mode: secrets must be given
            "HUB_DATABASE_URL": f"sqlite:///{tmp_path / 'db' / 'hub.db'}",
        }
    )
    work = tmp_path / "work"
    work.mkdir()
    result = subprocess.run(
        ["bash", "-c", script], cwd=work, env=env, capture_output=True, text=True, timeout=600
    )
    out = " ".join(result.stdout.split())
    assert result.returncode == 0, result.stdout + result.stderr
    assert (work / ".env").stat().st_mode & 0o077 == 0
    assert (work / "hub-audit-public.pem").read_text().startswith("-----BEGIN PUBLIC KEY-----")
    assert "OK: chain intact" in out and "matches checkpoint checkpoint.json" in out
    assert "is up to date" in out  # hub db current
    assert "head, current" in out  # hub db history
    assert out.count("(head)") >= 2  # hub db current, alembic current
