"""YAML loading that remembers where each value came from, so errors name file, line and field."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from hub.errors import ConfigError, Problem
from hub.plain_errors import plain_message

PathKey = tuple[str | int, ...]
M = TypeVar("M", bound=BaseModel)


class _Loader(yaml.SafeLoader):
    """YAML's safe loader, except that dates stay text: the models check them (an impossible
    date such as 2028-02-30 is then a problem with file, line and field, not a crash)."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


@dataclass(frozen=True)
class YamlDocument:
    """Plain data from one YAML file plus the line (1-based) of every value in it."""

    file: Path
    data: Any
    lines: dict[PathKey, int] = field(default_factory=dict)

    def line_of(self, path: PathKey) -> int:
        """Line of the deepest known value on `path` (a missing field points at its parent)."""
        for end in range(len(path), -1, -1):
            line = self.lines.get(tuple(path[:end]))
            if line is not None:
                return line
        return 1

    def where(self, path: PathKey) -> str:
        dotted = ".".join(str(p) for p in path)
        return f"{self.file}:{self.line_of(path)}" + (f" ({dotted})" if dotted else "")

    def problem(self, path: PathKey, rule: str, message: str) -> Problem:
        return Problem(self.where(path), rule, message)


def _to_python(
    node: yaml.Node, path: PathKey, lines: dict[PathKey, int], problems: list[Problem], file: Path
) -> Any:
    lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        out: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key = str(_scalar(key_node, path, problems, file))
            if key in out:
                where = ".".join(str(p) for p in (*path, key))
                problems.append(
                    Problem(
                        f"{file}:{key_node.start_mark.line + 1} ({where})",
                        "duplicate_key",
                        f"{key!r} appears twice in the same mapping (first on line {lines[(*path, key)]})",
                    )
                )
            out[key] = _to_python(value_node, (*path, key), lines, problems, file)
            lines.setdefault((*path, key), key_node.start_mark.line + 1)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [
            _to_python(item, (*path, i), lines, problems, file) for i, item in enumerate(node.value)
        ]
    return _scalar(node, path, problems, file)


def _scalar(node: yaml.Node, path: PathKey, problems: list[Problem], file: Path) -> Any:
    try:
        return yaml.load(yaml.serialize(node), Loader=_Loader)
    except (ValueError, yaml.YAMLError) as exc:  # e.g. an explicit !!timestamp 2028-13-31
        where = ".".join(str(p) for p in path)
        problems.append(
            Problem(
                f"{file}:{node.start_mark.line + 1}" + (f" ({where})" if where else ""),
                "yaml_value",
                f"cannot read this value ({exc}): check it",
            )
        )
        return None


def load_yaml(file: Path) -> YamlDocument:
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(
            "cannot read configuration", [Problem(str(file), "readable", str(exc))]
        ) from exc
    try:
        node = yaml.compose(text, Loader=_Loader)
    except yaml.YAMLError as exc:
        raise ConfigError(
            "configuration is not valid YAML", [yaml_syntax_problem(file, exc)]
        ) from exc
    lines: dict[PathKey, int] = {}
    problems: list[Problem] = []
    data = _to_python(node, (), lines, problems, file) if node is not None else None
    if problems:
        raise ConfigError(f"invalid configuration in {file}", problems)
    return YamlDocument(file=file, data=data, lines=lines)


def yaml_syntax_problem(file: Path, exc: yaml.YAMLError) -> Problem:
    """A YAML syntax error at file:line, in words (not `in "<unicode string>", line 6`)."""
    mark = getattr(exc, "problem_mark", None)
    line = mark.line + 1 if mark is not None else 1
    column = f", column {mark.column + 1}" if mark is not None else ""
    problem = getattr(exc, "problem", None) or "cannot be read"
    context = getattr(exc, "context", None)
    what = f"{context}, {problem}" if context else problem
    return Problem(
        f"{file}:{line}",
        "yaml_syntax",
        f"not valid YAML{column}: {what}; check the indentation, the colons after names and "
        "that quotes and brackets are closed",
    )


def validation_problems(
    doc: YamlDocument, exc: ValidationError, base: PathKey = ()
) -> list[Problem]:
    return [
        doc.problem((*base, *err["loc"]), err["type"], plain_message(err)) for err in exc.errors()
    ]


def parse_model(doc: YamlDocument, model: type[M], data: Any, base: PathKey = ()) -> M:
    """Validate `data` (found at `base` in `doc`) as `model`; errors carry file:line (field)."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(
            f"invalid configuration in {doc.file}", validation_problems(doc, exc, base)
        ) from exc
