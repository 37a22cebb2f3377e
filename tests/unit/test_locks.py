"""The lock files pin what pyproject.toml asks for, and agree with each other, so `make demo`
(runtime lock) and `make test` (dev lock) install the same versions in either order."""

from __future__ import annotations

import re
import tomllib

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from hub.settings import REPO_ROOT


def pins(name: str) -> dict[str, str]:
    text = (REPO_ROOT / name).read_text()
    found = re.findall(r"^([A-Za-z0-9_.\-]+)==(\S+)", text, flags=re.M)
    return {canonicalize_name(package): version for package, version in found}


def declared(extra: str | None) -> list[Requirement]:
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
    specs = project["dependencies"] + (project["optional-dependencies"][extra] if extra else [])
    return [Requirement(spec) for spec in specs]


def test_the_runtime_lock_pins_the_dev_locks_versions() -> None:
    runtime, dev = pins("requirements.lock"), pins("requirements-dev.lock")
    assert runtime, "requirements.lock pins nothing"
    differing = {p: (v, dev.get(p)) for p, v in runtime.items() if dev.get(p) != v}
    assert not differing, f"runtime pin != dev pin (run `make lock`): {differing}"


def test_every_declared_dependency_is_pinned_within_its_range() -> None:
    for lock, extra in (("requirements.lock", None), ("requirements-dev.lock", "dev")):
        locked = pins(lock)
        for requirement in declared(extra):
            name = canonicalize_name(requirement.name)
            assert name in locked, f"{requirement.name} is not in {lock}: run `make lock`"
            assert requirement.specifier.contains(locked[name], prereleases=True), (
                f"{lock} pins {name}=={locked[name]}, outside {requirement}: run `make lock`"
            )


def test_the_runtime_lock_holds_no_dev_tool() -> None:
    runtime = pins("requirements.lock")
    for tool in ("pytest", "playwright", "mypy", "ruff", "pip-tools", "hypothesis"):
        assert tool not in runtime, f"{tool} would be installed by `make demo`"
