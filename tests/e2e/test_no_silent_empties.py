"""Pointed at the wrong data directory, read commands refuse, naming the database, the setting
and what to do; they create no database there (issue 13, "no silent empties")."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from hub.db.engine import make_engine
from hub.rejected.store import RejectedStore, Rejection
from tests.e2e.conftest import run_hub

PURPOSE = "SAR 2026-0142 from the resident"


@pytest.mark.parametrize(
    "command",
    [
        ("audit", "verify"),
        ("audit", "report", "--hub-id", "P-100234", "--purpose", PURPOSE),
        ("audit", "list", "--recipient", "waste"),
        ("audit", "agreements"),
        ("review", "list"),
        ("deliveries", "dead"),
    ],
    ids=lambda c: " ".join(c[:2]),
)
def test_a_read_command_refuses_a_data_dir_without_a_hub(
    command: tuple[str, ...], hub_env: dict[str, str]
) -> None:
    result = run_hub(*command, env=hub_env)
    db = Path(hub_env["HUB_DATA_DIR"]).resolve() / "hub.db"
    message = " ".join(result.stderr.split())
    assert result.returncode != 0, result.stdout
    assert f"no hub database at {db}" in message
    assert "HUB_DATA_DIR" in message and "hub db upgrade" in message
    assert "Traceback" not in result.stderr and "OK: chain intact" not in result.stdout
    assert not db.exists()


def test_a_subject_report_about_a_person_never_seen_says_so(hub_env: dict[str, str]) -> None:
    assert run_hub("db", "upgrade", env=hub_env).returncode == 0
    result = run_hub("audit", "report", "--hub-id", "P-100234", "--purpose", PURPOSE, env=hub_env)
    assert result.returncode == 0, result.stderr
    assert "not known to the hub" in " ".join(result.stdout.split())
    as_json = run_hub(
        "audit", "report", "--hub-id", "P-100234", "--purpose", PURPOSE, "--json", env=hub_env
    )
    assert '"known_to_hub": false' in as_json.stdout
    # the person's links, and who read about a key: the same person never seen, a malformed key
    links = run_hub("match", "links", "P-100234", env=hub_env)
    assert links.returncode == 2, links.stdout
    assert "never seen person 'P-100234'" in " ".join(links.stderr.split())
    blank = run_hub("match", "links", " ", env=hub_env)  # was "no ... record None"
    said = " ".join(blank.stderr.replace("│", " ").split())
    assert blank.returncode == 2 and "SUBJECT: give the person's hub id" in said, said
    malformed = run_hub("audit", "access-log", "--subject-key", "P-100234", env=hub_env)
    said = " ".join(malformed.stderr.replace("│", " ").split())
    assert malformed.returncode == 2 and "32 hexadecimal digits" in said
    well_formed = run_hub("audit", "access-log", "--subject-key", "0" * 32, env=hub_env)
    assert well_formed.returncode == 0, well_formed.stderr


def test_an_event_with_no_transfer_is_listed_with_the_reason(hub_env: dict[str, str]) -> None:
    """`hub audit list --event-id` of an event the router rejected: no rows, and why (a bare
    "0 rows" would read as "nobody was sent anything, for no reason")."""
    assert run_hub("db", "upgrade", env=hub_env).returncode == 0
    engine = make_engine(f"sqlite:///{Path(hub_env['HUB_DATA_DIR']) / 'hub.db'}")
    RejectedStore(engine).add(
        [
            Rejection(
                rejected_at=datetime(2026, 12, 8, 9, 30, tzinfo=UTC), source="registrar",
                event_id="D-77", event_type="death.notified", original_topic="sources.registrar",
                original_partition=0, original_offset=3, key=None, value=b"{}", headers=[],
                reason="death.notified: registrar may not assert it", rules=(),
            )
        ]
    )  # fmt: skip
    engine.dispose()
    table = run_hub("audit", "list", "--event-id", "D-77", env=hub_env)
    said = " ".join(table.stdout.split())
    assert table.returncode == 0, table.stderr
    assert "0 rows" in said
    assert (
        "registrar's event 'D-77' (death.notified): rejected 2026-12-08 09:30:00 UTC: "
        "death.notified: registrar may not assert it. Nothing was sent." in said
    )
    as_json = run_hub("audit", "list", "--event-id", "D-77", "--json", env=hub_env)
    assert as_json.returncode == 0 and as_json.stdout == ""  # stdout stays one row a line
    assert "rejected 2026-12-08 09:30:00 UTC" in as_json.stderr
    # narrowed to one outcome, no rows is the answer itself: no reason is looked for
    failed = run_hub("audit", "list", "--event-id", "D-77", "--outcome", "failed", env=hub_env)
    assert failed.returncode == 0 and "rejected" not in failed.stdout + failed.stderr
    # a page before the first row is refused, as the API refuses ?after=-1, not an empty page
    before = run_hub("audit", "list", "--recipient", "waste", "--after", "-1", env=hub_env)
    assert before.returncode == 2 and "'--after': -1 is not in the range x>=0" in before.stderr
