"""No silent empties (issue 13): a reader pointed at no hub database is refused, naming the
database, the setting and what to do, and creates nothing; a subject access report about a
person the hub has never seen says so, distinctly from "known, nothing shared"."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, insert

from hub.api.templating import environment
from hub.audit.queries import PersonRef
from hub.audit.subject_access import SubjectAccess
from hub.db.engine import DatabaseNotReady, downgrade, make_engine, migrate, open_existing
from hub.db.tables import IdentityLink
from hub.settings import HubSettings
from runtime.wiring import open_stores

AT = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
SECRET = "test-pseudonym-key-" + "p" * 32
PURPOSE = "SAR 2026-0142 from the resident"


def test_a_missing_sqlite_database_is_refused_and_not_created(tmp_path: Path) -> None:
    wrong = tmp_path / "wrong-dir"
    with pytest.raises(DatabaseNotReady) as info:
        open_existing(f"sqlite:///{wrong / 'hub.db'}", "HUB_DATA_DIR")
    message = str(info.value)
    assert f"no hub database at {wrong / 'hub.db'}" in message
    assert "HUB_DATA_DIR" in message and "`hub db upgrade`" in message
    assert not wrong.exists()  # not the file, not even its directory


def test_a_never_migrated_database_is_refused(tmp_path: Path) -> None:
    empty = tmp_path / "hub.db"
    make_engine(f"sqlite:///{empty}").connect().close()  # an empty SQLite file
    with pytest.raises(DatabaseNotReady, match=r"holds no hub data .*never migrated"):
        open_existing(f"sqlite:///{empty}", "HUB_DATA_DIR")


def test_an_unreachable_database_names_the_url_without_its_password() -> None:
    url = "postgresql://hub:s3cret-pw@127.0.0.1:1/hub"
    with pytest.raises(DatabaseNotReady) as info:
        open_existing(url, "HUB_DATABASE_URL")
    message = str(info.value)
    assert "cannot reach the database" in message and "HUB_DATABASE_URL" in message
    assert "127.0.0.1:1/hub" in message and "s3cret-pw" not in message
    assert "Traceback" not in message and "\n" not in message


def test_a_schema_behind_is_refused_to_readers_and_migrated_for_the_api(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'hub.db'}"
    engine = make_engine(url)
    migrate(engine)
    downgrade(engine, "-1")
    engine.dispose()
    with pytest.raises(DatabaseNotReady, match="run `hub db upgrade` first"):
        open_existing(url, "HUB_DATA_DIR")
    open_existing(url, "HUB_DATA_DIR", upgrade=True).dispose()
    open_existing(url, "HUB_DATA_DIR").dispose()  # now at the newest


def test_read_stores_and_the_api_refuse_a_data_dir_without_a_hub(settings: HubSettings) -> None:
    from runtime.api import create_app

    with pytest.raises(DatabaseNotReady, match="HUB_DATA_DIR"):
        open_stores(settings)
    api = settings.model_copy(update={"kafka_bootstrap": "127.0.0.1:1"})
    with pytest.raises(DatabaseNotReady, match="HUB_DATA_DIR"):
        create_app(api)
    assert not (settings.data_dir / "hub.db").exists()


def test_a_person_never_seen_is_not_known_to_the_hub(migrated_engine: Engine) -> None:
    access = SubjectAccess(migrated_engine, SECRET)
    unknown = access.report(PersonRef(hub_id="P-100234"), "ig", PURPOSE, "cli", AT)
    assert unknown.known_to_hub is False
    assert unknown.summary is not None and "not known to the hub" in unknown.summary
    by_local = access.report(PersonRef(local_id="=cmd", system="waste"), "ig", PURPOSE, "cli", AT)
    assert by_local.known_to_hub is False

    with migrated_engine.begin() as conn:
        conn.execute(
            insert(IdentityLink.__table__),  # type: ignore[attr-defined]
            [{"subject": "P-100234", "system": "waste", "local_id": "W-1",
              "event_id": "e-1", "linked_at": AT}],
        )  # fmt: skip
    known = access.report(PersonRef(hub_id="P-100234"), "ig", PURPOSE, "cli", AT)
    assert known.known_to_hub is True and not known.delivered
    assert known.summary == "This person is known to the hub; nothing about them was shared."
    assert access.report(PersonRef(local_id="W-1"), "ig", PURPOSE, "api", AT).known_to_hub
    # the API returns the field itself, not only empty lists
    assert unknown.model_dump(mode="json")["known_to_hub"] is False
    # the dashboard's subject report (and the printable page) says it before any table
    page = environment().get_template("subject_report.html")
    html = page.render(report=unknown, standalone=True, who=None)
    assert "not known to the hub" in html
    assert "not known to the hub" not in page.render(report=known, standalone=True, who=None)
