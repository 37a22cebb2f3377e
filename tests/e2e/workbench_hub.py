"""One running hub signed in through the test OIDC provider, shared by a test module."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from hub.broker.embedded import free_port
from hub.settings import REPO_ROOT
from tests.conftest import WIDE_WINDOW_DAYS
from tests.e2e.conftest import RunningHub, start_hub
from tests.oidc_provider import OidcProvider

OVERDUE = "2026-01-31"  # before the suite's own date: IG must review it


@contextmanager
def oidc_hub(
    data_dir: Path, auto_user: str | None = None
) -> Iterator[tuple[RunningHub, OidcProvider]]:
    # the repository's configuration, with DSA-005 past its review date (a reminder to show)
    config = data_dir.parent / "config"
    shutil.copytree(REPO_ROOT / "config", config)
    dsa5 = config / "agreements" / "DSA-005-death-notification.yaml"
    text = dsa5.read_text()
    dsa5.write_text(re.sub(r"(?m)^review_by: .*$", f"review_by: {OVERDUE}", text))
    provider = OidcProvider(auto_user=auto_user).start()
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
    env.update(
        {
            "HUB_DATA_DIR": str(data_dir),
            "HUB_CONFIG_DIR": str(config),
            "HUB_API_PORT": str(free_port()),
            "HUB_EFFECTIVE_DATE_PAST_DAYS": str(WIDE_WINDOW_DAYS),
            **provider.hub_env(),
        }
    )
    hub = start_hub(env)
    try:
        yield hub, provider
    finally:
        if hub.proc.poll() is None:
            hub.proc.send_signal(signal.SIGINT)
            try:
                hub.proc.wait(30)
            except subprocess.TimeoutExpired:
                hub.proc.kill()
        provider.stop()
