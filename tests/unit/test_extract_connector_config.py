"""`extract_file` and `extract_sql` connectors in connectors.yaml: validated with file, line and
field like the other kinds; any known system (not only a source) may send its extract."""

from __future__ import annotations

from pathlib import Path

import pytest

from hub.config.model import HubConfig
from hub.connectors.config import ExtractFileDef, ExtractSqlDef, load_connectors
from hub.errors import ConfigError
from hub.events.schemas import SchemaRegistry

BODY = """\
connectors:
  - name: waste-extract
    kind: extract_file
    source: waste
    folder: drop/waste-extract
    mapping: {local_id: account_no, given_names: forename}
  - name: parking-extract
    kind: extract_sql
    source: parking
    url: sqlite:///parking.db
    table: permit_holders
    key_column: change_id
"""


def test_extract_connectors_load(
    tmp_path: Path, config: HubConfig, registry: SchemaRegistry
) -> None:
    (tmp_path / "connectors.yaml").write_text(BODY)
    drop, sql = load_connectors(tmp_path, config, registry)
    assert isinstance(drop, ExtractFileDef) and isinstance(sql, ExtractSqlDef)
    assert drop.columns()["local_id"] == "account_no"
    assert drop.columns()["family_name"] == "family_name"  # unmapped: its own name
    assert sql.columns()["deleted"] == "deleted"


def test_bad_extract_connectors_are_named_by_line_and_field(
    tmp_path: Path, config: HubConfig, registry: SchemaRegistry
) -> None:
    body = BODY.replace("given_names: forename", "religion: faith").replace(
        "source: parking", "source: nobody"
    )
    (tmp_path / "connectors.yaml").write_text(body)
    with pytest.raises(ConfigError) as info:
        load_connectors(tmp_path, config, registry)
    problems = [str(p) for p in info.value.problems]
    assert any(
        "connectors.yaml:6 (connectors.0.mapping.religion)" in p
        and "an extract has no field 'religion'" in p
        for p in problems
    ), problems
    assert any("connectors.1.source" in p and "unknown system 'nobody'" in p for p in problems)
