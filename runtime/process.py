"""One part of the hub in this process: `python -m runtime.process worker|api|connectors`.

`hub up` (runtime/stack.py) starts its children this way, and `hub run ...` runs the same
functions in the foreground; the composition root never goes through the CLI to start itself.
The children's stdout and stderr go to their log files: JSON log lines only (stderr is not a
terminal there), never terminal colours.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from hub.errors import HubError
from hub.logs import configure_logging
from hub.settings import HubSettings, load_settings

PARTS = ("worker", "api", "connectors")


def run_part(
    part: str, settings: HubSettings, names: Sequence[str] = (), once: bool = False
) -> None:
    """Run `part` until SIGTERM or Ctrl-C (connectors `once`: one round, then return)."""
    if part == "worker":
        from runtime.worker import run_worker

        run_worker(settings)
    elif part == "api":
        from runtime.api import run_api

        run_api(settings)
    elif part == "connectors":
        import asyncio

        from runtime.connectors import run_connectors, run_forever
        from runtime.stack import running_bootstrap

        bootstrap = running_bootstrap(settings)
        chosen = list(names) or None
        if once:
            asyncio.run(run_connectors(settings, bootstrap, chosen, once=True))
        else:
            run_forever(settings, bootstrap, chosen)
    else:
        raise ValueError(f"no part {part!r}: one of {', '.join(PARTS)}")


def main(argv: Sequence[str]) -> None:
    from hub.secrets import embedded_settings

    settings = load_settings()
    configure_logging(settings.log_level)
    if settings.embedded_broker:
        settings = embedded_settings(settings)
    try:
        run_part(argv[0], settings, argv[1:])
    except HubError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main(sys.argv[1:])
