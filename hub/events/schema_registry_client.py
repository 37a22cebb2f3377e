"""A Confluent-compatible Schema Registry as the source of schema ids (when one is configured).

The hub registers each of its schema versions under the subject `<topic>-value` (the
TopicNameStrategy every Confluent client uses): every event type's on `events.<type>`, the
delivery record's on every Kafka recipient's topic. It encodes with the ids the registry gives, and
fetches unknown writer schemas by id, so events from producers that registered their own
(compatible) versions decode too.
"""

from __future__ import annotations

import json
import ssl
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import fastavro
import httpx

from hub.errors import BrokerError, CodecError, ConfigError
from hub.events.schemas import RegisteredSchema, SchemaRegistry
from hub.settings import HubSettings

CONTENT_TYPE = "application/vnd.schemaregistry.v1+json"


class ConfluentRegistryClient:
    def __init__(
        self,
        url: str,
        client: httpx.Client | None = None,
        *,
        auth: tuple[str, str] | None = None,
        ca_file: Path | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        """`auth`: HTTP basic-auth user and password; `ca_file`: the CA of an https registry."""
        self.url = url.rstrip("/")
        self.client = client or httpx.Client(
            timeout=10,
            auth=httpx.BasicAuth(*auth) if auth else None,
            verify=ssl.create_default_context(cafile=str(ca_file)) if ca_file else True,
            transport=transport,
        )

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        try:
            response = self.client.request(
                method, f"{self.url}{path}", json=body, headers={"Content-Type": CONTENT_TYPE}
            )
        except httpx.HTTPError as exc:
            raise BrokerError(f"schema registry at {self.url} is not reachable: {exc}") from exc
        if response.status_code in (401, 403):
            raise BrokerError(
                f"schema registry at {self.url} refused the hub's credentials on {method} {path} "
                f"(HTTP {response.status_code}): check HUB_SCHEMA_REGISTRY_USERNAME and "
                "HUB_SCHEMA_REGISTRY_PASSWORD"
            )
        if response.status_code >= 400:
            raise BrokerError(
                f"schema registry refused {method} {path}: HTTP {response.status_code} {response.text[:300]}"
            )
        result: dict[str, Any] = response.json()
        return result

    def register(self, subject: str, schema: Any) -> int:
        """Register (or find) a schema under a subject; returns its global id."""
        return int(
            self._call("POST", f"/subjects/{subject}/versions", {"schema": json.dumps(schema)})[
                "id"
            ]
        )

    def schema(self, schema_id: int) -> Any:
        return json.loads(self._call("GET", f"/schemas/ids/{schema_id}")["schema"])


def registry_client(settings: HubSettings) -> ConfluentRegistryClient:
    """The client for HUB_SCHEMA_REGISTRY_URL with its basic auth and CA from the settings."""
    problems = [
        p for p in settings.kafka_security_problems() if p.location.startswith("HUB_SCHEMA_")
    ]
    if problems:
        raise ConfigError("invalid Schema Registry settings", problems)
    password = settings.schema_registry_password
    auth = (
        (settings.schema_registry_username, password.get_secret_value())
        if settings.schema_registry_username and password is not None
        else None
    )
    return ConfluentRegistryClient(
        settings.schema_registry_url, auth=auth, ca_file=settings.schema_registry_ca_file
    )


def with_registry_ids(
    registry: SchemaRegistry, client: ConfluentRegistryClient, subject_of: dict[str, str]
) -> SchemaRegistry:
    """The same schemas, identified by the ids the Schema Registry issues (oldest version first)."""
    remapped: list[RegisteredSchema] = []
    for event_type in sorted(registry.event_types):
        for schema in registry.versions(event_type):
            remote_id = client.register(subject_of[event_type], schema.raw)
            remapped.append(
                RegisteredSchema(
                    remote_id,
                    schema.event_type,
                    schema.version,
                    schema.parsed,
                    schema.file,
                    schema.raw,
                )
            )
    return SchemaRegistry(
        remapped, fetch=lambda schema_id, event_type: _fetch(client, schema_id, event_type)
    )


def register_versions(
    client: ConfluentRegistryClient, versions: Sequence[Any], subjects: Iterable[str]
) -> int | None:
    """Register a record's schema versions (oldest first) under each subject; returns the id the
    registry gives the newest (None: no subject). The delivery record on every Kafka recipient's
    topic (`<topic>-value`) is registered so, beside the event types: a recipient's Confluent
    deserializer against the same registry finds the id in the record's header."""
    newest: int | None = None
    for subject in sorted(set(subjects)):
        for raw in versions:
            newest = client.register(subject, raw)
    return newest


def _fetch(client: ConfluentRegistryClient, schema_id: int, event_type: str) -> RegisteredSchema:
    try:
        raw = client.schema(schema_id)
        parsed = fastavro.parse_schema(raw)
    except BrokerError:
        raise
    except Exception as exc:
        raise CodecError(
            f"schema id {schema_id} from the registry is not a valid Avro schema: {exc}"
        ) from exc
    return RegisteredSchema(schema_id, event_type, 0, parsed, Path(client.url), raw)
