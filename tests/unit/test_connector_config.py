"""connectors.yaml: the shipped file loads; every mistake is reported with file, line and field."""

from __future__ import annotations

from pathlib import Path

import pytest

from hub.config.model import HubConfig
from hub.connectors.config import (
    FileDropDef,
    SqlOutboxDef,
    SqlTableDef,
    load_connectors,
    unmapped_required,
)
from hub.errors import ConfigError
from hub.events.schemas import SchemaRegistry

from .samples import CONFIG_DIR

GOOD_DROP = """\
  - name: ctax-drop
    kind: file_drop
    source: council-tax
    event_type: address.changed
    folder: drop/ctax
    mapping: {subject: person_id, new_address.uprn: uprn, new_address.lines: [l1, l2]}
"""


def load(
    tmp_path: Path, body: str, config: HubConfig, registry: SchemaRegistry
) -> tuple[object, ...]:
    (tmp_path / "connectors.yaml").write_text("connectors:\n" + body)
    return load_connectors(tmp_path, config, registry)


def problems(tmp_path: Path, body: str, config: HubConfig, registry: SchemaRegistry) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load(tmp_path, body, config, registry)
    return [str(p) for p in info.value.problems]


def test_the_shipped_connectors_load(config: HubConfig, registry: SchemaRegistry) -> None:
    defs = load_connectors(CONFIG_DIR, config, registry)
    assert [d.name for d in defs] == ["council-tax-moves"]
    assert isinstance(defs[0], FileDropDef)


def test_no_file_means_no_connectors(
    tmp_path: Path, config: HubConfig, registry: SchemaRegistry
) -> None:
    assert load_connectors(tmp_path, config, registry) == ()


def test_all_three_kinds(tmp_path: Path, config: HubConfig, registry: SchemaRegistry) -> None:
    defs = load(
        tmp_path,
        GOOD_DROP
        + """\
  - name: ctax-sql
    kind: sql_table
    source: council-tax
    event_type: address.changed
    url: sqlite:///x.db
    table: changes
    key_column: change_id
    mapping: {subject: person}
  - name: reg-outbox
    kind: sql_outbox
    source: registrar
    url: postgresql://u:${PW}@h/db
""",
        config,
        registry,
    )
    assert [type(d) for d in defs] == [FileDropDef, SqlTableDef, SqlOutboxDef]


def test_cross_checks_name_file_line_and_field(
    tmp_path: Path, config: HubConfig, registry: SchemaRegistry
) -> None:
    body = (
        GOOD_DROP
        + GOOD_DROP.replace("source: council-tax", "source: parking")
        + """\
  - name: other
    kind: file_drop
    source: nobody
    event_type: address.changed
    folder: x
    mapping: {person: id, new_address.colour: c}
    constants: {move_type: within_area, shoe_size: 9}
  - name: typo
    kind: sql_table
    source: council-tax
    event_type: address.moved
    url: sqlite://
    table: t
    key_column: k
    mapping: {subject: s}
"""
    )
    found = problems(tmp_path, body, config, registry)
    file = tmp_path / "connectors.yaml"
    assert (
        f"{file}:8 (connectors.1.name): duplicate connector name 'ctax-drop' [unique_name]" in found
    )
    assert f"{file}:10 (connectors.1.source): 'parking' is not a source [source_role]" in found
    assert f"{file}:16 (connectors.2.source): unknown system 'nobody' [known_system]" in found
    assert any(p.startswith(f"{file}:19 (connectors.2.mapping.person)") for p in found)
    assert any(p.startswith(f"{file}:19 (connectors.2.mapping.new_address.colour)") for p in found)
    assert any(
        p.startswith(f"{file}:19 (connectors.2.mapping)") and "[required]" in p for p in found
    )
    assert any(p.startswith(f"{file}:20 (connectors.2.constants.shoe_size)") for p in found)
    assert (
        f"{file}:24 (connectors.3.event_type): unknown event type 'address.moved' [known_event_type]"
        in found
    )


def test_shape_errors_name_the_field(
    tmp_path: Path, config: HubConfig, registry: SchemaRegistry
) -> None:
    found = problems(
        tmp_path,
        GOOD_DROP.replace("folder: drop/ctax", "folder: drop/ctax\n    colour: red").replace(
            "name: ctax-drop", "name: Bad Name"
        ),
        config,
        registry,
    )
    file = tmp_path / "connectors.yaml"
    assert any(p.startswith(f"{file}:2 (connectors.0.name)") for p in found), found
    assert any(p.startswith(f"{file}:7 (connectors.0.colour)") for p in found), found


def test_url_takes_secrets_from_the_environment(
    tmp_path: Path, config: HubConfig, registry: SchemaRegistry, monkeypatch: pytest.MonkeyPatch
) -> None:
    (d,) = load(
        tmp_path,
        "  - {name: o, kind: sql_outbox, source: registrar, url: 'postgresql://u:${OUTBOX_PW}@h/db'}\n",
        config,
        registry,
    )
    assert isinstance(d, SqlOutboxDef)
    with pytest.raises(ConfigError, match="environment variable missing"):
        d.resolved_url()
    monkeypatch.setenv("OUTBOX_PW", "s3cret")
    assert d.resolved_url() == "postgresql://u:s3cret@h/db"


def test_a_mapping_that_leaves_out_a_required_field_is_named(
    tmp_path: Path, config: HubConfig, registry: SchemaRegistry
) -> None:
    """`hub config check` warns (every row would be rejected); the shipped mapping is whole."""
    (drop,) = load(tmp_path, GOOD_DROP, config, registry)
    assert isinstance(drop, FileDropDef)
    assert unmapped_required(drop, registry) == [
        "effective_date",
        "new_address.postcode",
        "previous_address.lines",
        "previous_address.postcode",
        "previous_address.uprn",
    ]  # new_address.uprn and .lines are mapped
    whole = drop.model_copy(
        update={
            "mapping": {**drop.mapping, "previous_address": "old", "new_address.postcode": "pc"},
            "constants": {"effective_date": "2026-12-01"},
        }
    )
    assert unmapped_required(whole, registry) == []  # a record mapped whole covers its fields
    shipped = [
        d for d in load_connectors(CONFIG_DIR, config, registry) if isinstance(d, FileDropDef)
    ]
    assert shipped and all(unmapped_required(d, registry) == [] for d in shipped)
