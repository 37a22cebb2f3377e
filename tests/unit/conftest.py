"""Shared fixtures for the unit tests: the shipped schemas and sample configuration."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from hub.config.loader import load_config
from hub.config.model import HubConfig
from hub.events.schemas import SchemaRegistry

from .samples import CONFIG_DIR, SCHEMA_DIR


@pytest.fixture(scope="session")
def registry() -> SchemaRegistry:
    return SchemaRegistry.from_dir(SCHEMA_DIR)


@pytest.fixture(scope="session")
def config(registry: SchemaRegistry) -> HubConfig:
    return load_config(CONFIG_DIR, registry)


@pytest.fixture
def config_copy(tmp_path: Path) -> Path:
    """A writable copy of the shipped sample configuration."""
    target = tmp_path / "config"
    shutil.copytree(CONFIG_DIR, target)
    return target
