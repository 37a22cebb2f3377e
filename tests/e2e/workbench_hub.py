"""One running hub signed in through the test OIDC provider, shared by a test module."""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from hub.broker.embedded import free_port
from tests.conftest import WIDE_WINDOW_DAYS
from tests.e2e.conftest import RunningHub, start_hub
from tests.oidc_provider import OidcProvider


@contextmanager
def oidc_hub(
    data_dir: Path, auto_user: str | None = None
) -> Iterator[tuple[RunningHub, OidcProvider]]:
    provider = OidcProvider(auto_user=auto_user).start()
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
    env.update(
        {
            "HUB_DATA_DIR": str(data_dir),
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
