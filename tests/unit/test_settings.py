"""load_settings: environment variables prefixed HUB_; a bad value names the variable."""

from __future__ import annotations

from pathlib import Path

import pytest

from hub.errors import ConfigError, Problem
from hub.settings import REPO_ROOT, load_settings


@pytest.fixture(autouse=True)
def _clean_hub_env(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for name in list(os.environ):
        if name.startswith("HUB_"):
            monkeypatch.delenv(name)


def test_defaults() -> None:
    settings = load_settings()
    assert settings.topic_partitions == 4
    assert settings.embedded_broker is True
    assert settings.config_dir == REPO_ROOT / "config"
    assert settings.schema_dir == REPO_ROOT / "schemas" / "avro"


def test_environment_is_read(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HUB_TOPIC_PARTITIONS", "12")
    monkeypatch.setenv("HUB_KAFKA_BOOTSTRAP", "kafka-1:9092,kafka-2:9092")
    monkeypatch.setenv("HUB_DATA_DIR", str(tmp_path))
    settings = load_settings()
    assert settings.topic_partitions == 12
    assert settings.embedded_broker is False
    assert settings.effective_database_url == f"sqlite:///{(tmp_path / 'hub.db').resolve()}"


def test_database_url_wins_over_the_sqlite_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HUB_DATABASE_URL", "postgresql+psycopg://hub@127.0.0.1/hub")
    assert load_settings().effective_database_url == "postgresql+psycopg://hub@127.0.0.1/hub"


def test_bad_env_value_is_a_config_error_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HUB_TOPIC_PARTITIONS", "zero")
    with pytest.raises(ConfigError) as info:
        load_settings()
    assert [p.location for p in info.value.problems] == ["HUB_TOPIC_PARTITIONS"]
    assert "HUB_TOPIC_PARTITIONS" in str(info.value)


def test_out_of_range_values_are_each_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HUB_TOPIC_PARTITIONS", "0")
    monkeypatch.setenv("HUB_API_PORT", "70000")
    with pytest.raises(ConfigError) as info:
        load_settings()
    assert {p.location for p in info.value.problems} == {"HUB_TOPIC_PARTITIONS", "HUB_API_PORT"}


def test_bad_override_is_named_like_its_variable() -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(broker_session_timeout_s=1.0)
    assert [p.location for p in info.value.problems] == ["HUB_BROKER_SESSION_TIMEOUT_S"]


def test_pseudonym_key_is_not_printed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HUB_PSEUDONYM_KEY", "super-secret-pepper")
    settings = load_settings()
    assert settings.pseudonym_key.get_secret_value() == "super-secret-pepper"
    assert "super-secret-pepper" not in repr(settings)


def refused(monkeypatch: pytest.MonkeyPatch, variable: str, value: str) -> Problem:
    """The one problem `load_settings` raises with `variable` set to `value` (named by it)."""
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigError) as info:
        load_settings()
    (problem,) = info.value.problems
    assert problem.location == variable
    return problem


def test_a_misspelt_setting_refuses_to_start_naming_the_closest(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    problem = refused(monkeypatch, "HUB_APIPORT", "9000")
    assert "did you mean HUB_API_PORT?" in problem.message


def test_an_unknown_log_level_is_refused_and_a_known_one_in_any_case_accepted(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HUB_LOG_LEVEL", "verbose")
    with pytest.raises(ConfigError) as info:
        load_settings()
    assert info.value.problems[0].location == "HUB_LOG_LEVEL"
    monkeypatch.setenv("HUB_LOG_LEVEL", "debug")
    assert load_settings().log_level == "DEBUG"


@pytest.mark.parametrize(
    ("value", "expected"),
    [("whsec_abc", "not valid JSON"), ('["whsec_abc"]', "expected a JSON object")],
)
def test_a_bad_json_setting_names_the_variable_and_the_form(
    monkeypatch: pytest.MonkeyPatch, value: str, expected: str
) -> None:
    monkeypatch.setenv("HUB_WEBHOOK_SECRETS", value)
    with pytest.raises(ConfigError) as info:
        load_settings()
    (problem,) = info.value.problems
    assert problem.location == "HUB_WEBHOOK_SECRETS"
    assert expected in problem.message and '{"waste": ["whsec_..."]}' in problem.message


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        # was SQLAlchemy's ArgumentError traceback at the first connection
        ("HUB_DATABASE_URL", "nonsense", "expected sqlite:////absolute/path/hub.db or postgresql"),
        ("HUB_DATABASE_URL", "mysql://hub@db/hub", "expected sqlite:////absolute/path/hub.db"),
        ("HUB_DATABASE_URL", "postgresql://hub:pw@db:port/hub", "the port is not a number"),
        # the embedded broker took these; Apache Kafka refuses them at the first topic
        ("HUB_TOPIC_PREFIX", "council/prod", "letters, digits, '.', '_' and '-' only"),
        ("HUB_TOPIC_PREFIX", "tio prod.", "letters, digits, '.', '_' and '-' only"),
        ("HUB_TOPIC_PREFIX", "x" * 176, "at most 175"),
        # [auto_link, review] the wrong way round was taken (its check was never called)
        ("HUB_MATCH_THRESHOLDS", '{"*": [0.1, 0.9]}', "*: [0.1, 0.9]: expected 0 < review"),
    ],
    ids=lambda v: v[:30],
)
def test_a_value_the_hub_cannot_run_with_is_refused_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, expected: str
) -> None:
    assert expected in refused(monkeypatch, variable, value).message


@pytest.mark.parametrize(
    "value",
    ["sqlite:////var/lib/hub/hub.db", "postgres://hub@db/hub", "postgresql+psycopg://h@d:5432/h"],
)
def test_the_database_urls_the_hub_runs_on_are_taken(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("HUB_DATABASE_URL", value)
    assert load_settings().effective_database_url == value


def test_a_topic_prefix_of_the_longest_kafka_allows_is_taken(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HUB_TOPIC_PREFIX", "tio-prod." + "x" * 166)  # 175: the longest topic 249
    assert len(load_settings().topic_prefix) == 175
