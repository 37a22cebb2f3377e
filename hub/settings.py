"""The one settings object. Every setting comes from an environment variable prefixed HUB_."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from hub.errors import ConfigError, Problem

REPO_ROOT = Path(__file__).resolve().parent.parent


class HubSettings(BaseSettings):
    """Settings for every hub process. Documented one by one in the README's settings table."""

    model_config = SettingsConfigDict(env_prefix="HUB_", frozen=True, extra="ignore")

    kafka_bootstrap: str = Field(
        default="",
        description="Kafka bootstrap servers (host:port,...). Empty: `hub up` starts the embedded broker.",
    )
    database_url: str = Field(
        default="",
        description="SQLAlchemy URL of the audit/inbox database. Empty: SQLite file in the data dir.",
    )
    data_dir: Path = Field(
        default=Path(".hub-data"), description="Where SQLite and worker state live."
    )
    config_dir: Path = Field(
        default=REPO_ROOT / "config",
        description="Directory holding systems.yaml and agreements/*.yaml.",
    )
    schema_dir: Path = Field(default=REPO_ROOT / "schemas" / "avro", description="Avro contracts.")
    topic_partitions: int = Field(
        default=4, ge=1, description="Partitions of events/deliveries topics."
    )
    topic_replication: int = Field(
        default=1, ge=1, description="Replication factor of created topics."
    )
    topic_prefix: str = Field(
        default="", description="Prefix for every topic name (multi-tenant clusters)."
    )
    api_host: str = Field(default="127.0.0.1", description="Address the HTTP API binds to.")
    api_port: int = Field(
        default=8080, ge=0, le=65535, description="Port of the HTTP API (0: any free port)."
    )
    consumer_fetch_wait_ms: int = Field(
        default=10,
        ge=0,
        le=5000,
        description="Max time an agent's fetch waits for more data: latency per hop vs idle CPU.",
    )
    broker_session_timeout_s: float = Field(
        default=6.0, ge=6.0, description="Consumer group session timeout (6 s is Kafka's minimum)."
    )
    producer_linger_ms: int = Field(default=5, ge=0, description="Producer batching delay.")
    producer_batch_bytes: int = Field(
        default=262_144, ge=16_384, description="Producer batch size."
    )
    agent_batch_size: int = Field(
        default=500,
        ge=1,
        description="Max records an agent takes from the broker and handles as one batch.",
    )
    pseudonym_key: SecretStr = Field(
        default=SecretStr("change-me-tell-it-once-demo-key"),
        description="Secret for the pseudonymous subject keys in the audit store (HMAC-SHA256).",
    )
    gazetteer_csv: Path | None = Field(
        default=None,
        description="LLPG gazetteer CSV (uprn, line1..line5, postcode). Set: in-area UPRNs must exist in it.",
    )
    config_reload_interval_s: float = Field(
        default=5.0,
        ge=0,
        description="How often the router re-reads the config directory (0: never; agreements apply without a restart).",
    )
    reconcile_interval_s: float = Field(
        default=15.0,
        gt=0,
        description="How often the worker re-publishes accepted events that have no final outcome yet.",
    )
    reconcile_grace_s: float = Field(
        default=30.0,
        ge=0,
        description="How old an accepted event must be before the reconciler treats it as lost.",
    )
    effective_date_past_days: int = Field(
        default=400, ge=0, description="How far back an effective date may lie (days)."
    )
    effective_date_future_days: int = Field(
        default=90, ge=0, description="How far ahead an effective date may lie (days)."
    )
    schema_compatibility: str = Field(
        default="BACKWARD",
        pattern=r"^(BACKWARD|FORWARD|FULL)(_TRANSITIVE)?$|^NONE$",
        description="Compatibility `hub schemas check` enforces between schema versions.",
    )
    schema_registry_url: str = Field(
        default="",
        description="Confluent-compatible Schema Registry. Empty: the hub's own ids from schemas/avro.",
    )
    log_level: str = Field(default="INFO", description="Log level of the hub's JSON logs.")
    import_batch_size: int = Field(
        default=1000,
        ge=1,
        le=50_000,
        description="Rows a file import publishes per batch; its position is saved after each.",
    )
    audit_checkpoint_key: SecretStr = Field(
        default=SecretStr("change-me-tell-it-once-checkpoint-key"),
        description="Secret signing audit checkpoints and purge anchors (HMAC-SHA256).",
    )
    audit_retention_days: int = Field(
        default=2557,
        ge=1,
        description="`hub audit purge` without --before deletes audit rows older than this (days).",
    )
    webhook_secrets: dict[str, list[SecretStr]] = Field(
        default_factory=dict,
        description='Webhook signing secrets per recipient, JSON: {"waste": ["whsec_..."]} (several while rotating).',
    )
    webhook_retry_schedule_s: tuple[float, ...] = Field(
        default=(5, 300, 1800, 7200, 18000, 36000, 36000, 36000, 36000, 36000, 36000),
        min_length=1,
        description="Delays before each webhook retry (s); after the last, the delivery is a dead letter.",
    )
    webhook_retry_jitter: float = Field(
        default=0.2, ge=0, le=1, description="Random spread of each retry delay (fraction of it)."
    )
    retry_backoff_initial_s: float = Field(
        default=0.5,
        gt=0,
        description="A worker task's first wait before retrying a transient error (database or broker down, rebalance); doubles up to the maximum.",
    )
    retry_backoff_max_s: float = Field(
        default=30.0,
        gt=0,
        description="The longest wait between a worker task's retries of a transient error (it retries for as long as the error lasts).",
    )
    db_busy_timeout_s: float = Field(
        default=30.0,
        ge=0,
        description="SQLite: how long a statement waits for another writer's lock before failing (the worker then retries).",
    )
    stack_restart_limit: int = Field(
        default=5,
        ge=1,
        description="`hub up` restarts a crashed child (worker, API, connectors, broker) up to this many times per window, then stops the stack.",
    )
    stack_restart_window_s: float = Field(
        default=60.0,
        gt=0,
        description="The window (s) in which `hub up` counts a child's restarts against HUB_STACK_RESTART_LIMIT.",
    )
    webhook_poll_interval_s: float = Field(
        default=0.2,
        gt=0,
        description="How often each webhook recipient's loop looks for due deliveries.",
    )

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'hub.db').resolve()}"

    @property
    def embedded_broker(self) -> bool:
        return not self.kafka_bootstrap

    @property
    def heartbeat_interval_s(self) -> float:
        """Consumer heartbeats: a third of the session timeout, at most every 2 s."""
        return min(2.0, self.broker_session_timeout_s / 3)

    def require_bootstrap(self, needed_by: str) -> str:
        """HUB_KAFKA_BOOTSTRAP, or a ConfigError saying what needs it and how to set it."""
        if not self.kafka_bootstrap:
            raise ConfigError(
                f"{needed_by} needs a broker",
                [
                    Problem(
                        "HUB_KAFKA_BOOTSTRAP",
                        "required",
                        "set it to host:port (`hub up` does this for you)",
                    )
                ],
            )
        return self.kafka_bootstrap


def load_settings(**overrides: object) -> HubSettings:
    """Read the environment (and overrides); a bad value is a ConfigError naming the variable."""
    from pydantic import ValidationError

    try:
        return HubSettings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        problems = [
            Problem(
                location="HUB_" + "_".join(str(p) for p in err["loc"]).upper(),
                rule=err["type"],
                message=err["msg"],
            )
            for err in exc.errors()
        ]
        raise ConfigError("invalid settings", problems) from exc
