"""What a process loads to start: a library a command or part does not use is not imported
(the suite starts hundreds of these processes; each such import is CPU every start)."""

from __future__ import annotations

import subprocess
import sys

import pytest


def loaded_after(code: str, module: str) -> bool:
    probe = f"{code}\nimport sys\nprint({module!r} in sys.modules, file=sys.stderr)"
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=False
    )
    return done.stderr.strip().splitlines()[-1] == "True"


def test_hub_help_loads_no_database_library() -> None:
    """`hub --help` (and any command that touches no database) starts without SQLAlchemy."""
    code = "from cli.main import main\ntry:\n    main(['--help'])\nexcept SystemExit:\n    pass"
    assert not loaded_after(code, "sqlalchemy")


@pytest.mark.parametrize("module", ["runtime.api", "hub.api.oidc"])
def test_the_api_loads_the_oidc_client_only_when_signing_in_with_oidc(module: str) -> None:
    """authlib (0.13 s to import) is for an identity provider; the laptop default has none."""
    assert not loaded_after(f"import {module}", "authlib")
