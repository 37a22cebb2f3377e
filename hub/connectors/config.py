"""`connectors.yaml`: the source connectors of each source system, validated with file:line (field).

```yaml
connectors:
  - name: council-tax-moves          # file drop: a watched folder of CSV/XLSX files
    kind: file_drop
    source: council-tax
    event_type: address.changed
    folder: drop/council-tax         # relative paths are under HUB_DATA_DIR
    mapping: {subject: person_id, new_address.lines: [new_line1, new_line2], ...}
    constants: {move_type: within_area}
    date_format: "%d/%m/%Y"          # optional; default dd/mm/yyyy (UK) or yyyy-mm-dd
  - name: council-tax-changes        # SQL polling, high-water mark on a change table
    kind: sql_table
    url: postgresql://reader@ctax-db/ctax   # ${VAR} is taken from the environment
    table: address_changes
    key_column: change_id
    ...
  - name: housing-outbox             # SQL polling, transactional outbox
    kind: sql_outbox
    url: ...
    table: hub_outbox
  - name: waste-extract              # a service record extract (identity matching), files
    kind: extract_file
    source: waste                    # whose people they are (any known system)
    folder: drop/waste-extract
    mapping: {local_id: account_no, given_names: forename}   # others: columns named as fields
  - name: parking-extract            # the same from a change table, high-water mark
    kind: extract_sql
    url: ...
    table: permit_holders
    key_column: change_id
```
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from hub.config.model import HubConfig, Role
from hub.config.yaml_source import YamlDocument, load_yaml
from hub.connectors.dates import BadDateFormat, check_date_format
from hub.connectors.mapping import ENVELOPE_FIELDS, RowMapping
from hub.errors import ConfigError, Problem
from hub.events.schemas import SchemaRegistry
from hub.identity.extracts import DELETED as EXTRACT_DELETED
from hub.identity.extracts import FIELDS as EXTRACT_FIELDS
from hub.plain_errors import plain_message

CONNECTORS_FILE = "connectors.yaml"
Name = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]{0,62}$")]
Column = Annotated[str, Field(min_length=1, max_length=200)]
SqlName = Annotated[
    str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,62}(\.[A-Za-z_][A-Za-z0-9_]{0,62})?$")
]
_ENV = re.compile(r"\$\{([A-Z_][A-Z0-9_]*)\}")


class _Def(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: Name = Field(description="Unique connector name (`hub connector run NAME`)")
    source: str = Field(description="The source system the events are published as")
    enabled: bool = Field(default=True, description="false: configured but not run")


class _Mapped(_Def):
    event_type: str
    mapping: dict[str, Column | list[Column]] = Field(
        description="event field path -> column (a list field: list of columns)"
    )
    constants: dict[str, Any] = Field(
        default_factory=dict, description="event field path -> fixed value for every row"
    )
    date_format: str | None = Field(
        default=None,
        description="strptime pattern of the date columns, e.g. '%d.%m.%Y' or '%m/%d/%Y';"
        " default: dd/mm/yyyy (UK) or yyyy-mm-dd",
    )

    @field_validator("date_format")
    @classmethod
    def _date_format_reads_back(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            return check_date_format(value)
        except BadDateFormat as exc:
            raise ValueError(str(exc)) from exc

    def row_mapping(self) -> RowMapping:
        return RowMapping.from_config(
            self.event_type, self.mapping, self.constants, self.date_format
        )


class FileDropDef(_Mapped):
    kind: Literal["file_drop"]
    folder: Path = Field(description="Watched folder; relative paths are under HUB_DATA_DIR")
    poll_interval_s: float = Field(default=2.0, gt=0, le=3600)
    settle_s: float = Field(
        default=1.0, ge=0, le=3600, description="A file must be unchanged this long before import"
    )

    def folder_in(self, data_dir: Path) -> Path:
        return self.folder if self.folder.is_absolute() else data_dir / self.folder


class _Sql(_Def):
    url: str = Field(min_length=1, description="SQLAlchemy URL of the source database")
    poll_interval_s: float = Field(default=2.0, gt=0, le=3600)
    batch_size: int = Field(default=500, ge=1, le=50_000)

    def resolved_url(self) -> str:
        """The URL with ${VAR} taken from the environment (keep passwords out of the YAML)."""

        def env(match: re.Match[str]) -> str:
            value = os.environ.get(match.group(1))
            if value is None:
                raise ConfigError(
                    f"connector {self.name}: environment variable missing",
                    [
                        Problem(
                            match.group(1),
                            "required",
                            f"the url of {self.name} names ${{{match.group(1)}}}",
                        )
                    ],
                )
            return value

        return _ENV.sub(env, self.url)


class SqlTableDef(_Sql, _Mapped):
    kind: Literal["sql_table"]
    table: SqlName
    key_column: SqlName = Field(
        description="Unique, increasing column (e.g. a change sequence): the high-water mark"
    )
    time_column: SqlName | None = Field(
        default=None, description="When the change happened: the event time, and the lag"
    )


class SqlOutboxDef(_Sql):
    kind: Literal["sql_outbox"]
    table: SqlName = "hub_outbox"


class _Extract(_Def):
    """A service record extract (identity matching): the identifying fields of the source
    system's people into the hub's service_record store, upserted by local id."""

    mapping: dict[str, Column] = Field(
        default_factory=dict,
        description="extract field (local_id, given_names, ..., deleted) -> column; a field "
        "not mapped is read from the column of its own name; other columns are never read",
    )

    def columns(self) -> dict[str, str]:
        """Extract field -> the column it is read from."""
        return {f: self.mapping.get(f, f) for f in (*EXTRACT_FIELDS, EXTRACT_DELETED)}


class ExtractFileDef(_Extract):
    kind: Literal["extract_file"]
    folder: Path = Field(description="Watched folder; relative paths are under HUB_DATA_DIR")
    poll_interval_s: float = Field(default=2.0, gt=0, le=3600)
    settle_s: float = Field(
        default=1.0, ge=0, le=3600, description="A file must be unchanged this long before import"
    )
    full_refresh: bool = Field(
        default=False,
        description="Each file is the whole extract: the system's records it lacks are deleted",
    )

    def folder_in(self, data_dir: Path) -> Path:
        return self.folder if self.folder.is_absolute() else data_dir / self.folder


class ExtractSqlDef(_Sql, _Extract):
    kind: Literal["extract_sql"]
    table: SqlName
    key_column: SqlName = Field(
        description="Unique, increasing column (e.g. a change sequence): the high-water mark"
    )


_KINDS = ("file_drop", "sql_table", "sql_outbox", "extract_file", "extract_sql")
AnyConnectorDef = FileDropDef | SqlTableDef | SqlOutboxDef | ExtractFileDef | ExtractSqlDef
ConnectorDef = Annotated[AnyConnectorDef, Field(discriminator="kind")]


class ConnectorsFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    connectors: list[ConnectorDef] = Field(default_factory=list)


def load_connectors(
    config_dir: Path, config: HubConfig, registry: SchemaRegistry
) -> tuple[AnyConnectorDef, ...]:
    """Every connector in `connectors.yaml` (none if there is no such file); all problems at once."""
    file = config_dir / CONNECTORS_FILE
    if not file.exists():
        return ()
    doc = load_yaml(file)
    try:
        defs = ConnectorsFile.model_validate(doc.data if doc.data is not None else {}).connectors
    except ValidationError as exc:
        raise ConfigError(
            f"invalid configuration in {file}",
            [
                doc.problem(_untagged(err["loc"]), err["type"], plain_message(err))
                for err in exc.errors()
            ],
        ) from exc
    problems: list[Problem] = []
    sources = {s.id for s in config.systems if Role.SOURCE in s.roles}
    known = {s.id for s in config.systems}
    seen: set[str] = set()
    for i, d in enumerate(defs):
        at: tuple[str | int, ...] = ("connectors", i)
        if d.name in seen:
            problems.append(
                doc.problem((*at, "name"), "unique_name", f"duplicate connector name {d.name!r}")
            )
        seen.add(d.name)
        if d.source not in known:
            problems.append(
                doc.problem((*at, "source"), "known_system", f"unknown system {d.source!r}")
            )
        elif d.source not in sources and not isinstance(d, _Extract):
            problems.append(
                doc.problem((*at, "source"), "source_role", f"{d.source!r} is not a source")
            )
        if isinstance(d, FileDropDef | SqlTableDef):
            _check_mapping(doc, at, d, registry, problems)
        if isinstance(d, _Extract):
            allowed = (*EXTRACT_FIELDS, EXTRACT_DELETED)
            for field in d.mapping:
                if field not in allowed:
                    problems.append(
                        doc.problem(
                            (*at, "mapping", field),
                            "known_field",
                            f"an extract has no field {field!r} (it has {', '.join(allowed)})",
                        )
                    )
    if problems:
        raise ConfigError(f"invalid configuration in {file}", problems)
    return tuple(defs)


def _untagged(loc: tuple[str | int, ...]) -> tuple[str | int, ...]:
    """pydantic puts the `kind` in the location (connectors.0.file_drop.folder): take it out."""
    if len(loc) > 2 and loc[0] == "connectors" and loc[2] in _KINDS:
        return (*loc[:2], *loc[3:])
    return loc


def unmapped_required(d: FileDropDef | SqlTableDef, registry: SchemaRegistry) -> list[str]:
    """The fields the event type requires that the connector neither maps nor sets as a
    constant: every row it reads would be rejected for want of them. Pure."""
    given = {*d.mapping, *d.constants}
    required = registry.latest(d.event_type).required_paths()
    return sorted(p for p in required if not any(p == g or p.startswith(g + ".") for g in given))


def mapping_warnings(defs: Sequence[AnyConnectorDef], registry: SchemaRegistry) -> list[Problem]:
    """For `hub config check`: each connector whose mapping leaves out a field its event type
    requires (`unmapped_required`). A warning, not an error: the definition loads. Pure."""
    return [
        Problem(
            f"connectors.yaml: {d.name}",
            "unmapped_required",
            f"nothing maps {', '.join(gaps)}, which {d.event_type} requires, so every row would "
            "be rejected: map a column to each (mapping) or give a value (constants)",
        )
        for d in defs
        if isinstance(d, FileDropDef | SqlTableDef) and (gaps := unmapped_required(d, registry))
    ]


def _check_mapping(
    doc: YamlDocument,
    at: tuple[str | int, ...],
    d: FileDropDef | SqlTableDef,
    registry: SchemaRegistry,
    problems: list[Problem],
) -> None:
    if d.event_type not in registry.event_types:
        problems.append(
            doc.problem(
                (*at, "event_type"), "known_event_type", f"unknown event type {d.event_type!r}"
            )
        )
        return
    fields = registry.latest(d.event_type).field_paths()
    if "subject" not in d.mapping:
        problems.append(
            doc.problem((*at, "mapping"), "required", "the mapping must name the subject column")
        )
    for section, paths in (("mapping", d.mapping), ("constants", d.constants)):
        for path in paths:
            if path in ENVELOPE_FIELDS and section == "mapping":
                continue
            if path not in fields:
                problems.append(
                    doc.problem(
                        (*at, section, path),
                        "known_field",
                        f"{d.event_type} has no field {path!r}",
                    )
                )
