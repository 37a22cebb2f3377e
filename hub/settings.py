"""The one settings object. Every setting comes from an environment variable prefixed HUB_."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from hub.config.model import Role
from hub.errors import ConfigError, Problem
from hub.plain_errors import closest, plain_message

REPO_ROOT = Path(__file__).resolve().parent.parent
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
# Kafka's 249 characters a topic name, less the longest of the hub's: `deliveries.` and a
# system id of up to 63 (hub.config.model.SystemId)
TOPIC_PREFIX_MAX = 249 - len("deliveries.") - 63
# The databases the hub runs on (HUB_DATABASE_URL): `postgresql://` means psycopg 3
DATABASE_SCHEMES = ("sqlite", "sqlite+pysqlite", "postgresql", "postgres", "postgresql+psycopg")


def database_url_problem(url: str) -> str | None:
    """What is wrong with a database URL for the hub (SQLite or PostgreSQL, its parts parsing),
    in words to act on; None when it will do."""
    wanted = (
        "expected sqlite:////absolute/path/hub.db or postgresql://user:password@host:5432/database"
    )
    scheme, sep, _ = url.partition("://")
    if not sep or scheme not in DATABASE_SCHEMES:
        return wanted
    try:
        _ = urlsplit(url).port  # a port that is not a number raises ValueError
    except ValueError:
        return f"the port is not a number: {wanted}"
    return None


PREFIX = "HUB_"


class HubSettings(BaseSettings):
    """Settings for every hub process. Documented one by one in docs/configuration.md, generated from here (hub/settings_doc.py)."""

    model_config = SettingsConfigDict(env_prefix="HUB_", frozen=True, extra="ignore")

    kafka_bootstrap: str = Field(
        default="",
        description="Kafka bootstrap servers (`host:port,...`). Empty: `hub up` starts the embedded broker.",
    )
    # Kafka security (every client the hub creates: API, worker, connectors, admin, metrics,
    # bench); turned into client arguments by hub/broker/security.py.
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = Field(
        default="PLAINTEXT",
        description="How every Kafka client of the hub connects: `PLAINTEXT`, `SSL` (TLS), `SASL_PLAINTEXT` or `SASL_SSL`. See docs/deployment.md#kafka-security-tls-sasl-and-acls.",
    )
    kafka_ssl_ca_file: Path | None = Field(
        default=None,
        description="PEM file of the CA(s) that signed the brokers' certificates. Empty: the system CAs.",
    )
    kafka_ssl_cert_file: Path | None = Field(
        default=None,
        description="PEM client certificate, for brokers that require one (mutual TLS). Needs `HUB_KAFKA_SSL_KEY_FILE`.",
    )
    kafka_ssl_key_file: Path | None = Field(
        default=None, description="PEM private key of the client certificate."
    )
    kafka_ssl_key_password: SecretStr | None = Field(
        default=None, description="Password of an encrypted `HUB_KAFKA_SSL_KEY_FILE`."
    )
    kafka_ssl_check_hostname: bool = Field(
        default=True,
        description="Check that the broker's certificate names the host connected to. Keep it on.",
    )
    kafka_sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] = Field(
        default="SCRAM-SHA-512",
        description="SASL mechanism for `SASL_*` protocols: `PLAIN`, `SCRAM-SHA-256` or `SCRAM-SHA-512`.",
    )
    kafka_sasl_username: str = Field(
        default="",
        description="SASL username: this process's Kafka principal. Required with `SASL_*`.",
    )
    kafka_sasl_password: SecretStr | None = Field(
        default=None, description="SASL password. Required with `SASL_*`; no default."
    )
    database_url: str = Field(
        default="",
        description="SQLAlchemy URL of the audit/inbox database, e.g. `postgresql://user:pw@host:5432/hub`. Empty: SQLite file `hub.db` in the data dir.",
    )
    data_dir: Path = Field(
        default=Path(".hub-data"), description="Where SQLite, logs and worker state live."
    )
    config_dir: Path = Field(
        default=REPO_ROOT / "config",
        description="Directory holding `systems.yaml` and `agreements/*.yaml`.",
    )
    schema_dir: Path = Field(
        default=REPO_ROOT / "schemas" / "avro",
        description="The Avro contracts and their `registry.json` of schema ids.",
    )
    topic_partitions: int = Field(
        default=4,
        ge=1,
        description="Partitions of the events and deliveries topics (the audit topic has one).",
    )
    topic_replication: int = Field(
        default=1, ge=1, description="Replication factor of the topics the hub creates."
    )
    topic_prefix: str = Field(
        default="",
        description="Prefix for every topic name (a shared cluster): letters, digits, `.`, `_` "
        "and `-`, at most 175 (Kafka's limit of 249, less the longest topic's own name).",
    )
    api_host: str = Field(default="127.0.0.1", description="Address the HTTP API binds to.")
    api_port: int = Field(
        default=8080, ge=0, le=65535, description="Port of the HTTP API (0: any free port)."
    )
    api_max_body_bytes: int = Field(
        default=1_048_576,
        ge=1024,
        description="Largest request body the API reads (1 MiB); a larger one is answered 413 as soon as its declared length or its streamed bytes pass the limit.",
    )
    consumer_fetch_wait_ms: int = Field(
        default=50,
        ge=0,
        le=5000,
        description="How long an agent's fetch waits for more data when its partitions are empty. Apache Kafka answers as soon as data arrives; the embedded broker (Tansu 0.6) answers a fetch of several partitions only when the wait is over, so on it this is latency per hop against CPU while records flow: an idle hub used 59% of a core at 10 ms, 25% at 50 ms, 13% at 500 ms; a record's hop took a median 14 ms at 50 ms and 117 ms at 500 ms (4 partitions). An agent with nothing to consume for a while rests instead (`HUB_CONSUMER_REST_AFTER_S`).",
    )
    consumer_rest_after_s: float = Field(
        default=2.0,
        ge=0,
        description="An agent that has had nothing to consume for this long rests: it stops fetching, and looks for records once every `HUB_CONSUMER_REST_MS`, until it finds some. An idle hub then uses under half the CPU it otherwise would (its agents otherwise fetch back to back; `hub bench idle` measures both); the first record after a rest waits up to `HUB_CONSUMER_REST_MS` more at each hop. 0: never rest.",
    )
    consumer_rest_ms: int = Field(
        default=500,
        ge=10,
        le=5000,
        description="How long a resting agent waits between two looks for records (`HUB_CONSUMER_REST_AFTER_S`).",
    )
    broker_session_timeout_s: float = Field(
        default=6.0,
        ge=6.0,
        description="Consumer group session timeout; 6 s is the lowest Apache Kafka accepts, and makes a worker ready in seconds.",
    )
    producer_linger_ms: int = Field(default=5, ge=0, description="Producer batching delay.")
    producer_batch_bytes: int = Field(
        default=262_144,
        ge=16_384,
        description="Producer batch size (256 KB doubles produce rate over the 16 KB default).",
    )
    agent_batch_size: int = Field(
        default=500,
        ge=1,
        description="Most records an agent takes from the broker and handles as one batch.",
    )
    # Secret settings (the table of them, their checks and generation: hub/secrets.py).
    pseudonym_key: SecretStr = Field(
        default=SecretStr(""),
        description="Secret for the pseudonymous subject keys in the audit store (HMAC-SHA256). Embedded default: generated on first run into `<data dir>/secrets/` (0600) and kept. Against an external Kafka: required, at least 32 characters (`hub keys secret`). Keep it stable.",
    )
    record_signing_key: SecretStr | None = Field(
        default=None,
        description='Secret signing the hub\'s internal Kafka records (HMAC-SHA256, `hub_sig` header): events it accepted, deliveries, audit entries, rejections, dead letters. Required when `HUB_KAFKA_BOOTSTRAP` is set; the same value in every hub process. See docs/deployment.md "What the hub signs".',
    )
    audit_signing_key: SecretStr | None = Field(
        default=None,
        description="Ed25519 private key (PEM text) signing audit checkpoints and purge anchors; or use `HUB_AUDIT_SIGNING_KEY_FILE`. Required (this or the file) against an external Kafka; embedded stack: generated.",
    )
    audit_signing_key_file: Path | None = Field(
        default=None,
        description="File with the Ed25519 private key (PEM) signing checkpoints and anchors (`hub keys signing --out DIR` makes a pair). Required against an external Kafka (or, for processes that only verify, `HUB_AUDIT_PUBLIC_KEY_FILE`). Embedded stack: generated in the data dir.",
    )
    audit_public_key_file: Path | None = Field(
        default=None,
        description="Ed25519 public key (PEM) checkpoints and anchors are verified with (default: the signing key's public half). `hub audit public-key` prints it for the DPO. Embedded stack: generated in the data dir.",
    )
    allow_demo_keys: bool = Field(
        default=False,
        description="Accept the published demo API keys of `config/systems.yaml`. `hub up` sets it for its own embedded stack; never set it in production (`hub api` refuses to start while a system still has its demo key).",
    )
    gazetteer_csv: Path | None = Field(
        default=None,
        description="The council's LLPG extract (`uprn`, `line1`..`line5`, `postcode`). Set: in-area UPRNs must be in it and its canonical address is used.",
    )
    config_reload_interval_s: float = Field(
        default=5.0,
        ge=0,
        description="How often the worker, API and connectors re-read the config directory (0: never; changes apply without a restart).",
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
        default=400, ge=0, description="How far back an effective date may lie."
    )
    effective_date_future_days: int = Field(
        default=90, ge=0, description="How far ahead an effective date may lie."
    )
    schema_compatibility: str = Field(
        default="BACKWARD",
        pattern=r"^(BACKWARD|FORWARD|FULL)(_TRANSITIVE)?$|^NONE$",
        description="What `hub schemas check` enforces: `BACKWARD`, `FORWARD`, `FULL`, their `_TRANSITIVE` forms, or `NONE`.",
    )
    schema_registry_url: str = Field(
        default="",
        description="A Confluent-compatible Schema Registry to take schema ids from. Empty: the ids in `schemas/avro/registry.json`.",
    )
    schema_registry_username: str = Field(
        default="", description="Schema Registry basic-auth user (Confluent Cloud: the API key)."
    )
    schema_registry_password: SecretStr | None = Field(
        default=None, description="Schema Registry basic-auth password; no default."
    )
    schema_registry_ca_file: Path | None = Field(
        default=None,
        description="PEM CA file for an `https` Schema Registry signed by a private CA. Empty: the system CAs.",
    )
    log_level: str = Field(
        default="INFO",
        description="Level of the JSON logs: DEBUG, INFO, WARNING, ERROR or CRITICAL (they carry event ids, recipients and offsets, never personal data values).",
    )
    import_batch_size: int = Field(
        default=1000,
        ge=1,
        le=50_000,
        description="Rows a file import publishes per batch (awaiting the broker's acknowledgements); its position is saved after each.",
    )
    audit_retention_days: int = Field(
        default=2557,
        ge=1,
        description="`hub audit purge` without `--before` deletes audit rows older than this many days (7 years).",
    )
    retention_journal_days: int = Field(
        default=30,
        ge=1,
        description="`hub retention purge` deletes ingest-journal events (whole event values) complete for longer than this; an event still waiting for a final outcome is never purged.",
    )
    retention_inbox_days: int = Field(
        default=30,
        ge=1,
        description="`hub retention purge` erases the values of pull-inbox deliveries acknowledged longer ago than this (the delivery id stays, so a redelivery is still recognised).",
    )
    retention_rejected_days: int = Field(
        default=90,
        ge=1,
        description="`hub retention purge` deletes rejected events (kept whole for replay) older than this.",
    )
    retention_interval_s: float = Field(
        default=86400,
        ge=0,
        description="How often each worker runs the retention purge itself (daily; idempotent, so every worker may). `0`: never, when cron runs `hub retention purge` instead.",
    )
    retention_webhook_days: int = Field(
        default=30,
        ge=1,
        description="`hub retention purge` deletes webhook outbox rows (the delivery's values) delivered or withheld longer ago than this, once their event is complete; dead letters stay for redrive.",
    )
    retention_service_record_days: int = Field(
        default=400,
        ge=1,
        description="`hub retention purge` deletes service record extracts not refreshed for longer (days).",
    )
    match_enabled: bool = Field(
        default=True,
        description="Score events about unlinked people against the recipients' extracts (needs a trained model).",
    )
    match_reference_system: str = Field(
        default="customer-index",
        description="The system whose extract's local ids are hub person ids (bulk matching's reference).",
    )
    match_thresholds: dict[str, tuple[float, float]] = Field(
        default_factory=lambda: {
            "*": (0.999, 0.5),
            "death.notified": (0.9999, 0.5),
            "name.changed": (0.9995, 0.5),
            "contact.changed": (0.995, 0.5),
        },
        description="Per event type [auto_link, review] match probabilities (JSON); `*` for the rest.",
    )
    retention_review_days: int = Field(
        default=90,
        ge=1,
        description="`hub retention purge` deletes review-queue items (whole events) released or retried longer ago than this; open items stay.",
    )
    retention_deceased_days: int = Field(
        default=2557,
        ge=1,
        description="`hub retention purge` deletes deceased flags (`subject_status`) recorded longer ago than this (7 years); until then flows stop or carry `deceased` as the agreements say.",
    )
    record_signing_old_keys: list[SecretStr] = Field(
        default_factory=list,
        description="Previous record signing keys as a JSON list, still accepted (never used to sign) while rotating: records already on the topics keep verifying.",
    )
    webhook_secrets: dict[str, list[SecretStr]] = Field(
        default_factory=dict,
        description='Webhook signing secrets per recipient as JSON, e.g. `{"waste": ["whsec_..."]}`; list several while rotating (each gives one `v1,` signature). Never put them in the YAML.',
    )
    webhook_retry_schedule_s: tuple[float, ...] = Field(
        default=(5, 300, 1800, 7200, 18000, 36000, 36000, 36000, 36000, 36000, 36000),
        min_length=1,
        description="Delays before each webhook retry in seconds (JSON list); the default spans about three days. After the last, the delivery is a dead letter.",
    )
    webhook_retry_jitter: float = Field(
        default=0.2,
        ge=0,
        le=1,
        description="Random spread of each retry delay, as a fraction of it.",
    )
    retry_backoff_initial_s: float = Field(
        default=0.5,
        gt=0,
        description="A worker task's first wait before retrying a transient error (database or broker down or locked, consumer-group rebalance); doubles each time, with jitter.",
    )
    retry_backoff_max_s: float = Field(
        default=30.0,
        gt=0,
        description="The longest wait between a worker task's retries; it retries for as long as the error lasts.",
    )
    db_busy_timeout_s: float = Field(
        default=30.0,
        ge=0,
        description="SQLite: how long a statement waits for another writer's lock before failing (the worker then retries).",
    )
    workers: int = Field(
        default=1,
        ge=1,
        le=16,
        description="How many worker processes `hub up` starts. They share the consumer groups (each takes its share of every topic's partitions) and the database; on SQLite its write lock orders them, so a second worker overlaps one worker's database write with the other's routing (1.1 to 1.6x on two cores, docs/performance.md). More workers than cores only add contention. Worker n logs to `worker.log` (n = 1) or `worker-n.log`.",
    )
    stack_restart_limit: int = Field(
        default=5,
        ge=1,
        description="`hub up` restarts a crashed child (worker, API, connectors, broker) up to this many times per window, then stops the stack with an error.",
    )
    stack_restart_window_s: float = Field(
        default=60.0,
        gt=0,
        description="The window in which `hub up` counts a child's restarts.",
    )
    webhook_poll_interval_s: float = Field(
        default=0.2,
        gt=0,
        description="How often each webhook recipient's loop looks for due deliveries.",
    )

    metrics_refresh_interval_s: float = Field(
        default=15.0,
        gt=0,
        description="How often the API recomputes the business gauges of `/metrics` (queues, chain head, consumer lag) in the background; a scrape never queries.",
    )
    readiness_check_interval_s: float = Field(
        default=1.0,
        gt=0,
        le=60,
        description="How often the API checks the broker and the database for `/readyz` in the background (a probe reads the cached answer).",
    )
    worker_stale_after_s: float = Field(
        default=3.0,
        gt=0,
        description="A worker whose heartbeat (written every second) is older than this is not live (`/readyz` body, `hub health --worker`, `hub_workers_live`).",
    )
    worker_metrics_port: int = Field(
        default=0,
        ge=0,
        le=65535,
        description="Port on which each worker serves its own Prometheus metrics at `/metrics` (0: off). One port per worker process on a host: `hub up` with HUB_WORKERS above 1 gives worker n this port + n - 1.",
    )

    # IG sign-in (hub/api/signin.py): OpenID Connect with the council's identity provider;
    # without an issuer, the embedded laptop default's API-key sign-in.
    oidc_issuer: str = Field(
        default="",
        description="OpenID Connect issuer URL of the council's identity provider (its discovery "
        "document is <issuer>/.well-known/openid-configuration). Empty: IG signs in with an API "
        "key (embedded laptop default only).",
    )
    oidc_discovery_url: str = Field(
        default="",
        description="Discovery document URL, when it is not <issuer>/.well-known/openid-configuration.",
    )
    oidc_client_id: str = Field(
        default="",
        description="Client (application) id the hub is registered under at the provider.",
    )
    oidc_client_secret: SecretStr | None = Field(
        default=None,
        description="Client secret issued by the provider for the hub (no default; required with "
        "HUB_OIDC_ISSUER).",
    )
    oidc_redirect_url: str = Field(
        default="",
        description="The hub's callback URL registered at the provider (https://<hub>/dashboard/auth"
        "/callback). Empty: derived from the request.",
    )
    oidc_scopes: str = Field(
        default="openid email profile",
        description="Scopes asked for at sign-in (space separated; add `groups` where the provider "
        "needs it for the roles claim).",
    )
    oidc_roles_claim: str = Field(
        default="groups",
        description="The id token claim (a list or a string) holding the person's groups or roles, "
        "e.g. `groups` (Google, Keycloak) or `roles` (Entra ID app roles).",
    )
    oidc_role_map: dict[str, list[Role]] = Field(
        default_factory=dict,
        description='JSON map from a value of the roles claim to hub roles, e.g. {"hub-ig": ["ig"], '
        '"hub-admin": ["ig", "admin"]}. A person with no mapped `ig` role cannot sign in.',
    )
    session_secret: SecretStr | None = Field(
        default=None,
        description="Key signing the workbench session cookie (no default). Not set: generated "
        "into <data dir>/secrets/session_secret; set it when API processes run on several hosts.",
    )
    session_max_age_s: int = Field(
        default=8 * 3600,
        ge=60,
        description="How long a workbench sign-in lasts (seconds) before signing in again.",
    )

    @property
    def oidc_enabled(self) -> bool:
        return bool(self.oidc_issuer or self.oidc_discovery_url)

    @field_validator("log_level")
    @classmethod
    def _known_log_level(cls, value: str) -> str:
        level = value.strip().upper()
        if level not in LOG_LEVELS:
            raise ValueError(f"expected {', '.join(LOG_LEVELS[:-1])} or {LOG_LEVELS[-1]}")
        return level

    @field_validator("match_thresholds", mode="before")
    @classmethod
    def _match_thresholds(cls, value: object) -> object:
        """Each event type's [auto_link, review] (hub.identity.thresholds.threshold_problem)."""
        from hub.identity.thresholds import threshold_problem

        if isinstance(value, dict):  # else the type's own error: expected an object
            for event_type, pair in value.items():
                if problem := threshold_problem(str(event_type), pair):
                    raise ValueError(problem)
        return value

    @field_validator("topic_prefix")
    @classmethod
    def _topic_prefix(cls, value: str) -> str:
        """Every topic name begins with it: Kafka takes letters, digits, '.', '_' and '-' in a
        name of at most 249, and the longest of the hub's adds 74 (`deliveries.<system id>`)."""
        if not re.fullmatch(rf"[A-Za-z0-9._-]{{0,{TOPIC_PREFIX_MAX}}}", value):
            raise ValueError(
                "a Kafka topic name takes letters, digits, '.', '_' and '-' only, and this "
                f"prefix at most {TOPIC_PREFIX_MAX} of them (e.g. tio-prod.)"
            )
        return value

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, value: str) -> str:
        """Checked here, where the setting is named, not at the first connection (SQLAlchemy's
        error there named neither the variable nor what to write)."""
        url = value.strip()
        problem = database_url_problem(url) if url else None
        if problem:
            raise ValueError(f"{problem} (empty: SQLite in HUB_DATA_DIR)")
        return url

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

    def kafka_security_problems(self) -> list[Problem]:
        """What is wrong with the Kafka and Schema Registry security settings, each naming its variable."""
        problems: list[Problem] = []
        protocol = self.kafka_security_protocol
        if protocol.startswith("SASL_"):
            if not self.kafka_sasl_username:
                problems.append(
                    Problem(
                        "HUB_KAFKA_SASL_USERNAME",
                        "required",
                        f"HUB_KAFKA_SECURITY_PROTOCOL is {protocol}: set the SASL username",
                    )
                )
            if self.kafka_sasl_password is None or not self.kafka_sasl_password.get_secret_value():
                problems.append(
                    Problem(
                        "HUB_KAFKA_SASL_PASSWORD",
                        "required",
                        f"HUB_KAFKA_SECURITY_PROTOCOL is {protocol}: set the SASL password",
                    )
                )
        tls = protocol in ("SSL", "SASL_SSL")
        files = {
            "HUB_KAFKA_SSL_CA_FILE": self.kafka_ssl_ca_file,
            "HUB_KAFKA_SSL_CERT_FILE": self.kafka_ssl_cert_file,
            "HUB_KAFKA_SSL_KEY_FILE": self.kafka_ssl_key_file,
        }
        for variable, path in files.items():
            if path is None:
                continue
            if not tls:
                problems.append(
                    Problem(
                        variable,
                        "unused",
                        f"set, but HUB_KAFKA_SECURITY_PROTOCOL is {protocol}: "
                        "use SSL or SASL_SSL for TLS, or unset it",
                    )
                )
            elif not path.is_file():
                problems.append(Problem(variable, "file_missing", f"no such file: {path}"))
        if (self.kafka_ssl_cert_file is None) != (self.kafka_ssl_key_file is None):
            missing = (
                "HUB_KAFKA_SSL_KEY_FILE"
                if self.kafka_ssl_key_file is None
                else "HUB_KAFKA_SSL_CERT_FILE"
            )
            problems.append(
                Problem(
                    missing,
                    "required",
                    "a client certificate needs both HUB_KAFKA_SSL_CERT_FILE and HUB_KAFKA_SSL_KEY_FILE",
                )
            )
        if self.schema_registry_username and self.schema_registry_password is None:
            problems.append(
                Problem(
                    "HUB_SCHEMA_REGISTRY_PASSWORD",
                    "required",
                    "HUB_SCHEMA_REGISTRY_USERNAME is set: set its password",
                )
            )
        if self.schema_registry_password is not None and not self.schema_registry_username:
            problems.append(
                Problem(
                    "HUB_SCHEMA_REGISTRY_USERNAME",
                    "required",
                    "HUB_SCHEMA_REGISTRY_PASSWORD is set: set the user it belongs to",
                )
            )
        ca = self.schema_registry_ca_file
        if ca is not None and not ca.is_file():
            problems.append(
                Problem("HUB_SCHEMA_REGISTRY_CA_FILE", "file_missing", f"no such file: {ca}")
            )
        return problems

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
        from hub.secrets import require_secrets

        require_secrets(self, needed_by)
        return self.kafka_bootstrap


def setting_name(field: str) -> str:
    """The environment variable of a settings field: `api_port` -> HUB_API_PORT."""
    return PREFIX + field.upper()


def unknown_variables(environ: Mapping[str, str]) -> list[Problem]:
    """Every HUB_* variable that is no setting (a misspelling is otherwise silently ignored),
    with the closest real name when there is one."""
    known = {setting_name(f) for f in HubSettings.model_fields}
    problems = []
    for name in sorted(n for n in environ if n.upper().startswith(PREFIX)):
        if name.upper() in known:
            continue
        guess = closest(name.upper(), known)
        hint = f"did you mean {guess}?" if guess else "see the settings table in the README"
        problems.append(
            Problem(name, "unknown_setting", f"not a hub setting: {hint} (or unset it)")
        )
    return problems


def _env_words(err: Any) -> str:
    """plain_message, in the words of an environment variable (JSON, not YAML)."""
    if err["type"] in ("dict_type", "model_type", "model_attributes_type"):
        return "expected a JSON object"
    if err["type"] in ("list_type", "tuple_type", "set_type", "frozen_set_type"):
        return "expected a JSON list"
    return plain_message(err)


def _explained(field: str, message: str) -> str:
    info = HubSettings.model_fields.get(field)
    about = info.description if info is not None else None
    return f"{message}. This setting: {about}" if about else message


def load_settings(**overrides: object) -> HubSettings:
    """Read the environment (and overrides); an unknown HUB_* variable or a bad value is a
    ConfigError naming the variable, what is wrong and what to do."""
    from pydantic import ValidationError
    from pydantic_settings import SettingsError

    problems = unknown_variables(os.environ)
    if problems:
        raise ConfigError("unknown settings in the environment", problems)
    try:
        settings = HubSettings(**overrides)  # type: ignore[arg-type]
    except SettingsError as exc:  # a JSON setting that is not JSON
        found = re.search(r'field "([a-z0-9_]+)"', str(exc))
        field = found.group(1) if found else ""
        raise ConfigError(
            "invalid settings",
            [
                Problem(
                    setting_name(field) if field else "HUB_*",
                    "json_invalid",
                    _explained(field, "not valid JSON: check the quotes, commas and brackets"),
                )
            ],
        ) from exc
    except ValidationError as exc:
        problems = [
            Problem(
                location=setting_name("_".join(str(p) for p in err["loc"][:1])),
                rule=err["type"],
                message=_explained(str(err["loc"][0]) if err["loc"] else "", _env_words(err)),
            )
            for err in exc.errors()
        ]
        raise ConfigError("invalid settings", problems) from exc
    problems = settings.kafka_security_problems()
    if problems:
        raise ConfigError("invalid Kafka security settings", problems)
    last_port = settings.worker_metrics_port + settings.workers - 1
    if settings.worker_metrics_port and last_port > 65535:
        raise ConfigError(
            "invalid settings",
            [
                Problem(
                    "HUB_WORKER_METRICS_PORT",
                    "less_than_equal",
                    f"with HUB_WORKERS={settings.workers}, worker n serves its metrics on this "
                    f"port + n - 1, and {last_port} is above 65535: choose a lower port",
                )
            ],
        )
    return settings
