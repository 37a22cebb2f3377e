"""`hub match run`: a whole extract linked to the reference's people, with a report by band;
`hub match model` shows the model in force; bad extract files are refused with row and field."""

from __future__ import annotations

import re
from pathlib import Path

from hub.identity.generator import generate
from hub.identity.modelfile import save_model
from tests.e2e.conftest import run_hub
from tests.e2e.test_identity_match import write_csv
from tests.unit.test_identity_matching import params


def test_bulk_matching_links_a_whole_extract(hub_env: dict[str, str], tmp_path: Path) -> None:
    pop = generate(300, seed=21)
    for system, people in (("customer-index", pop.reference), ("waste", pop.service)):
        file = write_csv(tmp_path / f"{system}.csv", people)
        loaded = run_hub("match", "load", system, str(file), env=hub_env)
        assert loaded.returncode == 0, loaded.stderr
    # a person of the reference extract, linked to nothing yet, is known to the hub
    unlinked = run_hub("match", "links", next(iter(pop.truth.values())), env=hub_env)
    assert unlinked.returncode == 0, unlinked.stderr
    missing = run_hub("match", "run", "waste", env=hub_env)
    assert missing.returncode != 0 and "no model has been trained" in missing.stderr
    version = save_model(Path(hub_env["HUB_DATA_DIR"]), params())
    shown = run_hub("match", "model", env=hub_env)
    assert shown.returncode == 0 and f"model {version}" in shown.stdout

    dry = run_hub("match", "run", "waste", "--dry-run", env=hub_env)
    assert dry.returncode == 0, dry.stderr
    would = int(re.search(r"would link\s*│\s*(\d+)", dry.stdout).group(1))  # type: ignore[union-attr]
    done = run_hub("match", "run", "waste", env=hub_env)
    assert done.returncode == 0, done.stderr
    linked = int(re.search(r"linked\s*│\s*(\d+)", done.stdout).group(1))  # type: ignore[union-attr]
    assert linked == would and linked > len(pop.truth) // 2
    assert "for review" in done.stdout and "unmatched" in done.stdout

    service_id, person = next(iter(pop.truth.items()))
    links = run_hub("match", "links", person, env=hub_env)
    assert links.returncode == 0, links.stderr
    if service_id in links.stdout:
        assert "bulk" in links.stdout and version in links.stdout


def test_a_bad_extract_file_is_refused_with_row_and_field(
    hub_env: dict[str, str], tmp_path: Path
) -> None:
    bad = tmp_path / "waste.csv"
    bad.write_text("local_id,date_of_birth,religion\nW-1,31/02/1970,none\n", encoding="utf-8")
    refused = run_hub("match", "load", "waste", str(bad), env=hub_env)
    assert refused.returncode != 0
    assert "religion" in refused.stderr and "waste.csv" in refused.stderr
    unknown = run_hub("match", "load", "nobody", str(bad), env=hub_env)
    assert unknown.returncode != 0 and "no system 'nobody'" in unknown.stderr


def test_review_refuses_a_status_no_pair_can_have(hub_env: dict[str, str]) -> None:
    typo = run_hub("match", "review", "--status", "accpted", env=hub_env)
    said = " ".join(typo.stderr.replace("│", " ").split())  # the error's box, unwrapped
    assert typo.returncode == 2, typo.stdout
    assert "--status" in said and "open, not_sure, accepted, rejected, superseded" in said
