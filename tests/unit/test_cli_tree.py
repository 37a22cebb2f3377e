"""The `hub` command tree: every command and option explains itself, the top-level help fits one
screen, and the names used before the tree still work (with a note) for one release."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import typer
from typer import _click
from typer.core import TyperGroup
from typer.testing import CliRunner

from cli.main import ALIASES, app, new_words

ROOT = typer.main.get_command(app)


def walk(
    command: _click.Command, path: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], _click.Command]]:
    yield path, command
    if isinstance(command, TyperGroup):
        for name, child in command.commands.items():
            yield from walk(child, (*path, name))


def test_the_tree_has_the_groups_people_look_for() -> None:
    assert list(ROOT.commands) == [  # type: ignore[attr-defined]
        "up", "demo", "init", "health", "run", "config", "agreements", "audit", "keys",
        "match", "retention", "connectors", "events", "deliveries", "db", "kafka", "bench",
    ]  # fmt: skip
    paths = {" ".join(p) for p, _ in walk(ROOT)}
    assert {"keys new", "keys list", "keys rotate", "keys revoke"} <= paths
    assert {
        f"bench {b}" for b in ("codec", "policy", "flow", "audit", "import", "webhooks", "match")
    } <= paths


def test_every_command_argument_and_option_has_help() -> None:
    missing = []
    for path, command in walk(ROOT):
        if not (command.help or command.short_help):
            missing.append(f"hub {' '.join(path)}")
        for param in command.params:
            if not getattr(param, "help", None):
                missing.append(f"hub {' '.join(path)} {param.name}")
    assert missing == []


def test_hub_help_fits_one_screen_and_renders_types_plainly() -> None:
    result = CliRunner().invoke(app, ["--help"], env={"COLUMNS": "100", "TERMINAL_WIDTH": "100"})
    assert result.exit_code == 0
    lines = result.output.rstrip().splitlines()
    assert len(lines) <= 40, result.output
    assert max(len(line) for line in lines) <= 100
    health = CliRunner().invoke(app, ["health", "--help"], env={"COLUMNS": "100"}).output
    assert "<bool>" not in health and "--worker" in health  # a flag takes no value
    replay = CliRunner().invoke(app, ["events", "replay", "--help"], env={"COLUMNS": "100"}).output
    assert "{ID}" not in replay and " ID " in replay


def test_version() -> None:
    result = CliRunner().invoke(app, ["--version"])
    assert result.exit_code == 0 and result.output.startswith("hub ")


def test_completion_is_offered() -> None:
    assert "--install-completion" in CliRunner().invoke(app, ["--help"]).output


@pytest.mark.parametrize("old", sorted(ALIASES), ids=" ".join)
def test_each_old_name_leads_to_a_command_of_the_tree(old: tuple[str, ...]) -> None:
    args, note = new_words([*old, "--flag"])
    assert note is not None and args[-1] == "--flag"
    command: _click.Command = ROOT
    for word in args[:-1]:
        assert isinstance(command, TyperGroup), args
        command = command.commands[word]
    assert not isinstance(command, TyperGroup)


def test_bench_with_options_is_the_flow_benchmark_and_bare_bench_the_group() -> None:
    assert new_words(["bench", "--events", "10"])[0] == ["bench", "flow", "--events", "10"]
    assert new_words(["bench"]) == (["bench"], None)
    assert new_words(["bench", "codec"]) == (["bench", "codec"], None)
    assert new_words(["audit", "list"]) == (["audit", "list"], None)


def test_an_old_name_runs_the_new_command_and_says_so_on_stderr(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("cli.common.console_logging", lambda level, settings: None)
    result = CliRunner().invoke(app, ["keys", "new", "waste"])
    assert result.exit_code == 0 and "api_key_sha256:" in result.output
    old = CliRunner().invoke(app, ["schemas", "check"])
    assert old.exit_code == 0, old.output
    assert "schema versions" in old.stdout
    assert "`hub schemas check` is now `hub config schemas`" in old.stderr
    hidden = CliRunner().invoke(app, ["--help"]).output
    assert (
        "│ schemas " not in hidden and "│ bench-codec " not in hidden and "│ import " not in hidden
    )
