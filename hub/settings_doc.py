"""docs/configuration.md, generated from HubSettings so it cannot drift from the code.

    python -m hub.settings_doc > docs/configuration.md     # or: make docs
    python -m hub.settings_doc --check docs/configuration.md  # exit 1 when it differs

Every field's row: the environment variable, the field, its type, its default (none for a
secret: secrets are never defaults) and its description (pydantic `Field(description=...)`).
"""

from __future__ import annotations

import json
import sys
import types
import typing
from pathlib import Path
from typing import Any, Literal, get_args, get_origin

from pydantic import SecretStr
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from hub.settings import REPO_ROOT, HubSettings

HEADER = """\
# Configuration

<!-- Generated from hub/settings.py by `python -m hub.settings_doc > docs/configuration.md`
     (or `make docs`); tests/unit/test_settings_doc.py fails when this file differs. -->

Every setting is an environment variable prefixed `HUB_`, read by one settings object
(`HubSettings` in `hub/settings.py`). A bad value stops the command with a message naming the
variable. Secrets have no default: the embedded stack (`hub up`, `make demo`) generates its
own into the data directory; against an external Kafka each process refuses to start without
them (`hub keys env` makes them all, see [deployment.md](deployment.md#keys-and-secrets)).

Defaults shown as `<checkout>/...` are beside the installed `hub` package: the repository for
`pip install -e .` (what `make demo` does), site-packages for a plain install; the container
image sets `HUB_CONFIG_DIR=/app/config` and `HUB_SCHEMA_DIR=/app/schemas/avro`. Lists and
mappings are given as JSON, e.g. `HUB_WEBHOOK_SECRETS='{"waste": ["whsec_..."]}'`.

| variable | field | type | default | description |
|---|---|---|---|---|
"""


def _is_secret(annotation: Any) -> bool:
    if annotation is SecretStr:
        return True
    return any(_is_secret(arg) for arg in get_args(annotation))


def type_name(annotation: Any) -> str:
    """A type as an operator reads it: `text`, `integer`, `one of A, B`, `JSON list of ...`."""
    origin = get_origin(annotation)
    if origin is Literal:
        return "one of " + ", ".join(f"`{a}`" for a in get_args(annotation))
    if origin in (types.UnionType, typing.Union):
        kinds = [type_name(a) for a in get_args(annotation) if a is not type(None)]
        return " or ".join(kinds) + " (optional)"
    if origin in (list, tuple):
        item = get_args(annotation)[0]
        return f"JSON list of {type_name(item)}s"
    if origin is dict:
        return f"JSON object of {type_name(get_args(annotation)[1])}"
    names = {
        str: "text",
        int: "integer",
        float: "number",
        bool: "`true` or `false`",
        Path: "path",
        SecretStr: "secret",
    }
    return names.get(annotation, getattr(annotation, "__name__", str(annotation)))


def default_text(field: FieldInfo) -> str:
    if _is_secret(field.annotation):
        return "none (secret)"
    if field.default_factory is not None:
        value: Any = field.default_factory()  # type: ignore[call-arg]
    else:
        value = field.default
    if value is PydanticUndefined:
        return "required"
    if value is None:
        return "(unset)"
    if value == "":
        return "(empty)"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, Path):
        if value.is_absolute() and value.is_relative_to(REPO_ROOT):
            return f"`<checkout>/{value.relative_to(REPO_ROOT).as_posix()}`"
        return f"`{value.as_posix()}`"
    if isinstance(value, float) and value.is_integer() and value >= 1000:
        return f"`{int(value)}`"
    if isinstance(value, list | tuple | dict):
        return f"`{json.dumps(list(value) if isinstance(value, tuple) else value)}`"
    return f"`{value}`"


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def settings_rows() -> list[str]:
    rows = []
    for name, field in HubSettings.model_fields.items():
        if not field.description:
            raise ValueError(f"HubSettings.{name} has no description")
        rows.append(
            f"| `HUB_{name.upper()}` | `{name}` | {_cell(type_name(field.annotation))} "
            f"| {_cell(default_text(field))} | {_cell(field.description)} |"
        )
    return rows


def render() -> str:
    return HEADER + "\n".join(settings_rows()) + "\n"


def main(argv: list[str]) -> int:
    if argv[:1] == ["--check"] and len(argv) == 2:
        path = Path(argv[1])
        if path.read_text() != render():
            sys.stderr.write(
                f"{path} differs from HubSettings: run `python -m hub.settings_doc > {path}`\n"
            )
            return 1
        return 0
    if argv:
        sys.stderr.write("usage: python -m hub.settings_doc [--check FILE]\n")
        return 2
    sys.stdout.write(render())
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
