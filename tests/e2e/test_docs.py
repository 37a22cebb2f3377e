"""Every command and code block of the README, CONTRIBUTING.md and docs/*.md works as written.

Each fenced block is one of:
- `sh`, run by one runner below: the scenario's `curl` blocks (in order, on one hub, outputs
  checked), `hub`/`curl` blocks (on one shared hub), the `hub agreements explain` heredoc (same hub),
  deployment.md's *Keys and secrets* and *Migrations* (tests/e2e/test_deployment_doc.py), or
  any other block, run from the repository root without a hub;
- `text` holding `$ command` lines: a transcript, whose commands are run (on the shared hub)
  and whose other lines must appear in their output; other `text` blocks are output or
  diagrams;
- `yaml`, `json`, `python`: parsed (an agreement validated, a sample's agreement version
  compared with the shipped agreement's, Python compiled and its imports run).

A block that cannot run here carries `<!-- docs-test: not run (why) -->` on the line before
it, and is listed in NOT_RUN; the two must agree.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from pydantic import TypeAdapter

from hub.broker.embedded import free_port
from hub.config.loader import load_config
from hub.config.model import DeliverySink
from hub.events.schemas import SchemaRegistry
from hub.settings import REPO_ROOT, HubSettings
from tests.conftest import WIDE_WINDOW_DAYS
from tests.e2e.conftest import RunningHub, start_hub

DOCS = [
    "README.md",
    "CONTRIBUTING.md",
    *sorted(f"docs/{p.name}" for p in (REPO_ROOT / "docs").glob("*.md")),
]
KINDS = {"sh", "text", "yaml", "json", "python"}
NOT_RUN_MARK = re.compile(r"^<!-- docs-test: not run \((.+)\) -->$")

# (document, first line of the block): why it is not run here. Each has the marker in the doc.
NOT_RUN = {
    (
        "README.md",
        "make demo   # creates .venv, installs the runtime, starts the embedded stack, plays the scenario, stops",
    ): "make test is this suite; `hub demo` is run by tests/e2e/test_cli.py",
    (
        "CONTRIBUTING.md",
        "make lint   # ruff check, ruff format --check, mypy (strict), import-linter",
    ): "minutes of mypy",
    (
        "CONTRIBUTING.md",
        '.venv/bin/alembic revision --rev-id 0012 -m "what the change is for"',
    ): "writes into the repository",
    ("CONTRIBUTING.md", "make lock"): "resolves against PyPI, rewrites the locks",
    ("docs/deployment.md", ".venv/bin/hub up          # or: make up"): "runs until Ctrl-C",
    ("docs/deployment.md", "hub keys env > .env && chmod 600 .env"): "Docker",
    ("docs/deployment.md", "docker compose up -d --scale hub-worker=3"): "Docker",
    (
        "docs/deployment.md",
        "export HUB_KAFKA_BOOTSTRAP=broker1:9092,broker2:9092",
    ): "a Kafka cluster",
    (
        "docs/deployment.md",
        "export HUB_KAFKA_BOOTSTRAP=b-1.kafka.example:9096,b-2.kafka.example:9096",
    ): "a SASL_SSL cluster",
    ("docs/deployment.md", "sh hub-acls.sh"): "a Kafka admin",
}


@dataclass(frozen=True)
class Block:
    doc: str
    line: int
    info: str
    body: str
    section: str  # the nearest `## ` heading above it
    not_run: str | None

    @property
    def first(self) -> str:
        return self.body.splitlines()[0] if self.body else ""

    def __str__(self) -> str:
        return f"{self.doc}:{self.line}"


def parse(doc: str) -> list[Block]:
    lines = (REPO_ROOT / doc).read_text().splitlines()
    found: list[Block] = []
    section, i = "", 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("## "):
            section = line[3:].strip()
        if line.startswith("```"):
            info = line[3:].strip()
            end = next(j for j in range(i + 1, len(lines)) if lines[j].startswith("```"))
            previous = next((lines[k] for k in range(i - 1, -1, -1) if lines[k].strip()), "")
            mark = NOT_RUN_MARK.match(previous)
            body = "\n".join(lines[i + 1 : end]) + "\n"
            found.append(Block(doc, i + 1, info, body, section, mark.group(1) if mark else None))
            i = end
        i += 1
    return found


BLOCKS = [b for doc in DOCS for b in parse(doc)]


def is_scenario(b: Block) -> bool:
    return b.body.lstrip().startswith(("curl", "for ")) and "127.0.0.1:8080/v1/" in b.body


def is_hub(b: Block) -> bool:
    lines = b.body.strip().splitlines()
    return (
        "hub up" not in b.body
        and all(line.startswith((".venv/bin/hub ", "curl ", "  -", "#")) for line in lines)
        and any(line.startswith(".venv/bin/hub ") for line in lines)
    )


def is_explain(b: Block) -> bool:
    return "hub agreements explain" in b.body and "<<'EOF'" in b.body


def is_deployment(b: Block) -> bool:  # run by tests/e2e/test_deployment_doc.py
    return b.doc == "docs/deployment.md" and b.section in ("Keys and secrets", "Migrations")


def runnable_sh() -> list[Block]:
    return [b for b in BLOCKS if b.info == "sh" and b.not_run is None]


HUB_BLOCKS = [b for b in runnable_sh() if is_hub(b) and not is_scenario(b)]
SCENARIO = [b for b in runnable_sh() if is_scenario(b)]
LOCAL = [
    b
    for b in runnable_sh()
    if not (is_scenario(b) or is_hub(b) or is_explain(b) or is_deployment(b))
]
TRANSCRIPTS = [
    b for b in BLOCKS if b.info == "text" and any(x.startswith("$ ") for x in b.body.splitlines())
]


def hub_command(text: str) -> str:
    return text.replace(".venv/bin/hub", f"{sys.executable} -m cli")


def on_port(text: str, hub: RunningHub) -> str:
    return text.replace("127.0.0.1:8080", f"127.0.0.1:{hub.url.rsplit(':', 1)[1]}")


@pytest.fixture(scope="module")
def shared_hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningHub]:
    """One hub for every block that reads or writes a little: starting one per block would cost
    more than the blocks themselves. Nobody's record is linked in it (the explain block says
    so); the scenario runs on a hub of its own."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
    env.update(
        {
            "HUB_DATA_DIR": str(tmp_path_factory.mktemp("docs") / "data"),
            "HUB_API_PORT": str(free_port()),
            "HUB_EFFECTIVE_DATE_PAST_DAYS": str(WIDE_WINDOW_DAYS),
        }
    )
    hub = start_hub(env)
    yield hub
    hub.proc.send_signal(signal.SIGINT)
    try:
        hub.proc.wait(30)
    except subprocess.TimeoutExpired:
        hub.proc.kill()


# --- what the documents hold --------------------------------------------------------------


def test_the_readme_is_short_and_starts_with_the_two_commands() -> None:
    assert len((REPO_ROOT / "README.md").read_bytes()) <= 12 * 1024
    first = next(b for b in BLOCKS if b.doc == "README.md" and b.info == "sh")
    assert "make demo" in first.body and "make test" in first.body


def test_every_block_says_what_it_is() -> None:
    unnamed = [str(b) for b in BLOCKS if b.info not in KINDS]
    assert not unnamed, f"blocks without an info string in {sorted(KINDS)}: {unnamed}"


def test_blocks_not_run_are_marked_and_listed() -> None:
    marked = {(b.doc, b.first) for b in BLOCKS if b.not_run is not None}
    assert marked == set(NOT_RUN), (
        f"marked but not listed: {marked - set(NOT_RUN)}; listed, not marked: {set(NOT_RUN) - marked}"
    )
    assert all(b.info == "sh" for b in BLOCKS if b.not_run is not None)


def test_each_shell_block_has_one_runner() -> None:
    for b in runnable_sh():
        kinds = [is_scenario(b), is_hub(b) and not is_scenario(b), is_explain(b), is_deployment(b)]
        assert sum(kinds) <= 1, f"{b} matches several runners"
    assert len(SCENARIO) == 6 and len(HUB_BLOCKS) >= 8 and LOCAL and TRANSCRIPTS


def _slug(heading: str) -> str:
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def test_links_between_the_documents_resolve() -> None:
    broken = []
    for doc in DOCS:
        text = (REPO_ROOT / doc).read_text()
        for target in re.findall(r"\]\(([^)\s]+)\)", text):
            if target.startswith(("http://", "https://", "mailto:")):
                continue
            path, _, anchor = target.partition("#")
            file = (REPO_ROOT / doc).parent / path if path else REPO_ROOT / doc
            if not file.exists():
                broken.append(f"{doc}: {target}")
                continue
            if anchor and file.suffix == ".md":
                headings = re.findall(r"^#+ (.+)$", file.read_text(), flags=re.M)
                if anchor not in {_slug(h) for h in headings}:
                    broken.append(f"{doc}: {target} (no such heading)")
    assert not broken, broken


def test_yaml_json_and_python_blocks(tmp_path: Path) -> None:
    registry = SchemaRegistry.from_dir(HubSettings().schema_dir)
    shipped = {a.id: a for a in load_config(REPO_ROOT / "config", registry).agreements}
    checked = {"agreement": 0, "delivery": 0, "version": 0}
    for b in BLOCKS:
        if b.info == "yaml":
            doc = yaml.safe_load(b.body)
            if isinstance(doc, dict) and str(doc.get("id", "")).startswith("DSA-"):
                # the sample agreement loads in place of the shipped one
                config = tmp_path / f"config-{b.line}"
                shutil.copytree(REPO_ROOT / "config", config)
                (agreement,) = (config / "agreements").glob(f"{doc['id']}-*.yaml")
                agreement.write_text(b.body)
                load_config(config, registry)
                checked["agreement"] += 1
            if isinstance(doc, list):  # systems.yaml entries: their delivery sinks are valid
                for system in doc:
                    if "delivery" in system:
                        TypeAdapter(DeliverySink).validate_python(system["delivery"])
                        checked["delivery"] += 1
        elif b.info == "json":
            sample = json.loads(b.body)
            for item in sample.get("items", []):
                if "agreement_version" in item:
                    assert item["agreement_version"] == shipped[item["agreement_id"]].version, (
                        f"{b}: {item['agreement_id']}'s version is now "
                        f"{shipped[item['agreement_id']].version}"
                    )
                    checked["version"] += 1
        elif b.info == "python":
            compile(b.body, str(b), "exec")
            imports = "\n".join(
                x for x in b.body.splitlines() if x.startswith(("from ", "import "))
            )
            exec(imports, {})
    assert checked == {"agreement": 1, "delivery": 2, "version": 1}, checked


# --- blocks that run ----------------------------------------------------------------------


def test_the_scenario_runs_as_written(running_hub: RunningHub) -> None:
    """sources.md's links, move, death and invalid event, then receiving.md's inbox and ack."""
    order = {"docs/sources.md": 0, "docs/receiving.md": 1}
    blocks = sorted(SCENARIO, key=lambda b: (order[b.doc], b.line))
    outputs = []
    for block in blocks:
        command = on_port(block.body, running_hub)
        reads_inbox = "/v1/inbox" in block.body and "ack" not in block.body
        deadline = time.monotonic() + 60
        while True:
            result = subprocess.run(
                ["bash", "-c", command], capture_output=True, text=True, timeout=30
            )
            assert result.returncode == 0, result.stderr
            out = [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
            # the worker delivers the move and the death published above in its own time
            if not reads_inbox or len(out[0]["items"]) == 2 or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        outputs.append(out)
    links = outputs.pop(0)
    assert [link["status"] for link in links] == ["accepted"] * 3
    move, death, invalid, inbox, ack = (out[0] for out in outputs)
    assert move["status"] == "accepted" and death["status"] == "accepted"
    assert invalid["error"]["code"] == "event_invalid"
    assert {p["field"] for p in invalid["error"]["problems"]} >= {
        "data.previous_address",
        "data.new_address",
    }
    assert inbox["recipient"] == "parking"
    assert {i["type"] for i in inbox["items"]} == {"address.changed", "death.notified"}
    moved = next(i for i in inbox["items"] if i["type"] == "address.changed")
    assert moved["data"] == {
        "effective_date": "2026-11-20",
        "new_address": {"postcode": "EX4 7QT", "uprn": "100023412345"},
    }
    assert moved["local_id"] == "PRK-20931"  # Parking's own record, linked in the first block
    assert moved["agreement_version"] == inbox_sample_version()
    assert ack == {"acknowledged": 2}


def inbox_sample_version() -> str:
    (sample,) = [b for b in BLOCKS if b.info == "json" and '"recipient": "parking"' in b.body]
    return str(json.loads(sample.body)["items"][0]["agreement_version"])


# Each CLI start imports the whole hub: seconds alone, a minute on a machine loaded tenfold.
# The limits below guard against a hang, not a slow machine.
@pytest.mark.timeout(600)
@pytest.mark.parametrize("block", HUB_BLOCKS, ids=str)
def test_hub_blocks_run_as_written(shared_hub: RunningHub, block: Block, tmp_path: Path) -> None:
    result = subprocess.run(
        ["bash", "-e", "-c", hub_command(on_port(block.body, shared_hub))],
        capture_output=True,
        text=True,
        timeout=500,
        env=shared_hub.env,
        cwd=tmp_path,  # files the commands write (checkpoints, keys) stay out of the checkout
    )
    assert result.returncode == 0, f"{block}\n{block.body}\n{result.stderr}"


def test_the_explain_block_runs_as_written(shared_hub: RunningHub) -> None:
    [block] = [b for b in runnable_sh() if is_explain(b)]
    result = subprocess.run(
        ["bash", "-e", "-c", hub_command(block.body)],
        capture_output=True,
        text=True,
        timeout=60,
        env=shared_hub.env,
    )
    assert result.returncode == 0, result.stderr
    assert "What the hub would do" in result.stdout
    explained = json.loads(result.stdout[result.stdout.index("{") :])
    [parking] = explained["recipients"]
    assert parking["recipient"] == "parking"
    # nobody linked P-100234 in this hub: the doc says the event would wait for review
    assert [r["code"] for r in parking["reasons"]] == ["subject_unresolved"]


@pytest.mark.parametrize("block", LOCAL, ids=str)
def test_other_shell_blocks_run_as_written(block: Block, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
    env["HUB_DATA_DIR"] = str(tmp_path / "data")
    env["PATH"] = f"{Path(sys.executable).parent}:{env['PATH']}"  # `hub`
    command = block.body.replace(".venv/bin/", f"{Path(sys.executable).parent}/")
    result = subprocess.run(
        ["bash", "-e", "-c", command],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        # a contributor works in the checkout; an operator in a folder of their own
        cwd=REPO_ROOT if block.doc == "CONTRIBUTING.md" else tmp_path,
    )
    if "> hub-acls.sh" in block.body:  # the ACLs of every principal, for kafka-acls.sh
        script = (tmp_path / "hub-acls.sh").read_text()
        assert "kafka-acls.sh --bootstrap-server b-1.kafka.example:9096" in script
        assert "User:hub-worker" in script and "User:hub-connector" in script
    assert result.returncode == 0, f"{block}\n{block.body}\n{result.stdout}\n{result.stderr}"


@pytest.mark.timeout(600)
@pytest.mark.parametrize("block", TRANSCRIPTS, ids=str)
def test_transcripts_show_what_the_commands_print(
    shared_hub: RunningHub, block: Block, tmp_path: Path
) -> None:
    """The `$` lines are run (from the repository root, /tmp/ being this test's own folder);
    every other line but a progress bar must appear in what they print."""
    lines = block.body.replace("/tmp/", f"{tmp_path}/").splitlines()
    script = "\n".join(hub_command(x[2:]) for x in lines if x.startswith("$ "))
    result = subprocess.run(
        ["bash", "-c", script],
        capture_output=True,
        text=True,
        timeout=500,
        env=shared_hub.env,
        cwd=REPO_ROOT,
    )
    printed = " ".join((result.stdout + result.stderr).split())
    for expected in lines:
        if expected.startswith("$ ") or "━" in expected:
            continue
        assert " ".join(expected.split()) in printed, f"{block}: {expected!r} not in\n{printed}"
