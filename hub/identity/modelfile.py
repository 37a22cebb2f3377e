"""The trained model kept in the data directory: match/model.json (in force) and every version
ever trained under match/models/<version>.json, so a link's model version can always be shown."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from hub.identity.model import MatchModel, ModelError, model_version


def model_dir(data_dir: Path) -> Path:
    return data_dir / "match"


def save_model(data_dir: Path, params: Mapping[str, Any]) -> str:
    folder = model_dir(data_dir)
    (folder / "models").mkdir(parents=True, exist_ok=True)
    version = model_version(params)
    text = json.dumps(params, indent=1, sort_keys=True, default=str)
    (folder / "models" / f"{version}.json").write_text(text, encoding="utf-8")
    tmp = folder / "model.json.tmp"
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(folder / "model.json")
    return version


def load_params(data_dir: Path, version: str | None = None) -> dict[str, Any] | None:
    folder = model_dir(data_dir)
    path = folder / "model.json" if version is None else folder / "models" / f"{version}.json"
    if not path.exists():
        return None
    try:
        params: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ModelError(f"{path} is not valid JSON ({exc.msg}): train again") from exc
    return params


def load_model(data_dir: Path) -> MatchModel | None:
    params = load_params(data_dir)
    return MatchModel.from_params(params) if params is not None else None


class ModelCache:
    """The model in force, re-read when its file changes (a cheap stat per call)."""

    def __init__(self, data_dir: Path) -> None:
        self.path = model_dir(data_dir) / "model.json"
        self.data_dir = data_dir
        self._stamp: float | None = None
        self._model: MatchModel | None = None

    def current(self) -> MatchModel | None:
        try:
            stamp = self.path.stat().st_mtime
        except FileNotFoundError:
            self._stamp, self._model = None, None
            return None
        if stamp != self._stamp:
            self._model = load_model(self.data_dir)
            self._stamp = stamp
        return self._model
