"""Kafka security settings -> the arguments every aiokafka client and the faust app get.

Covers every protocol and SASL mechanism (also those the embedded broker cannot serve), the
validation messages naming HUB_ variables, the TLS context, the Schema Registry's basic auth,
and the SASL server of the embedded broker's secure front against aiokafka's own client.
"""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiokafka.conn import ScramAuthenticator
from faust.auth import SASLCredentials, SSLCredentials
from faust.transport.drivers.aiokafka import credentials_to_aiokafka_auth
from pydantic import SecretStr

from hub.broker import secure_front
from hub.broker.security import kafka_client_kwargs, kafka_security
from hub.errors import BrokerError, ConfigError
from hub.events.schema_registry_client import ConfluentRegistryClient, registry_client
from hub.settings import HubSettings, load_settings
from tests.tls_certs import TlsFiles, make_tls_files

MECHANISMS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> TlsFiles:
    return make_tls_files(tmp_path_factory.mktemp("tls"), key_password=b"key-pw")


def sasl(protocol: str, mechanism: str, **more: Any) -> HubSettings:
    return HubSettings(
        kafka_security_protocol=protocol,
        kafka_sasl_mechanism=mechanism,
        kafka_sasl_username="hub-api",
        kafka_sasl_password=SecretStr("pw-1"),
        **more,
    )


def test_plaintext_is_the_default_and_adds_nothing_else() -> None:
    settings = HubSettings()
    assert kafka_client_kwargs(settings) == {"security_protocol": "PLAINTEXT"}
    assert kafka_security(settings).faust_credentials() is None


@pytest.mark.parametrize("mechanism", MECHANISMS)
def test_sasl_plaintext_for_each_mechanism(mechanism: str) -> None:
    kwargs = kafka_client_kwargs(sasl("SASL_PLAINTEXT", mechanism))
    assert kwargs == {
        "security_protocol": "SASL_PLAINTEXT",
        "sasl_mechanism": mechanism,
        "sasl_plain_username": "hub-api",
        "sasl_plain_password": "pw-1",
    }


@pytest.mark.parametrize("mechanism", MECHANISMS)
def test_sasl_ssl_for_each_mechanism_carries_a_verifying_tls_context(
    mechanism: str, tls: TlsFiles
) -> None:
    kwargs = kafka_client_kwargs(sasl("SASL_SSL", mechanism, kafka_ssl_ca_file=tls.ca_file))
    context = kwargs.pop("ssl_context")
    assert kwargs == {
        "security_protocol": "SASL_SSL",
        "sasl_mechanism": mechanism,
        "sasl_plain_username": "hub-api",
        "sasl_plain_password": "pw-1",
    }
    assert isinstance(context, ssl.SSLContext)
    assert context.verify_mode == ssl.CERT_REQUIRED
    assert context.check_hostname
    assert [c["subject"] for c in context.get_ca_certs()] == [((("commonName", "hub test CA"),),)]


def test_ssl_with_client_certificate_and_encrypted_key(tls: TlsFiles) -> None:
    settings = HubSettings(
        kafka_security_protocol="SSL",
        kafka_ssl_ca_file=tls.ca_file,
        kafka_ssl_cert_file=tls.client_cert,
        kafka_ssl_key_file=tls.client_key,
        kafka_ssl_key_password=SecretStr("key-pw"),
        kafka_ssl_check_hostname=False,
    )
    kwargs = kafka_client_kwargs(settings)
    assert set(kwargs) == {"security_protocol", "ssl_context"}
    assert kwargs["security_protocol"] == "SSL"
    assert not kwargs["ssl_context"].check_hostname
    assert kwargs["ssl_context"].verify_mode == ssl.CERT_REQUIRED  # the chain is still checked


def test_wrong_key_password_is_a_config_error_naming_the_files(tls: TlsFiles) -> None:
    settings = HubSettings(
        kafka_security_protocol="SSL",
        kafka_ssl_cert_file=tls.client_cert,
        kafka_ssl_key_file=tls.client_key,
        kafka_ssl_key_password=SecretStr("not-it"),
    )
    with pytest.raises(ConfigError) as caught:
        kafka_security(settings)
    assert caught.value.problems[0].location == "HUB_KAFKA_SSL_CERT_FILE"
    assert "HUB_KAFKA_SSL_KEY_PASSWORD" in caught.value.problems[0].message


def test_a_ca_file_that_is_not_pem_is_a_config_error(tmp_path: Path) -> None:
    bogus = tmp_path / "ca.pem"
    bogus.write_text("not a certificate")
    settings = HubSettings(kafka_security_protocol="SSL", kafka_ssl_ca_file=bogus)
    with pytest.raises(ConfigError) as caught:
        kafka_security(settings)
    assert caught.value.problems[0].location == "HUB_KAFKA_SSL_CA_FILE"


@pytest.mark.parametrize(
    ("protocol", "mechanism"),
    [("SASL_PLAINTEXT", m) for m in MECHANISMS] + [("SASL_SSL", m) for m in MECHANISMS],
)
def test_faust_gets_the_same_security_as_aiokafka(protocol: str, mechanism: str) -> None:
    """faust turns its credentials into aiokafka arguments: they equal the hub's own."""
    security = kafka_security(sasl(protocol, mechanism))
    credentials = security.faust_credentials()
    assert isinstance(credentials, SASLCredentials)
    assert credentials_to_aiokafka_auth(credentials) == {
        "ssl_context": None,
        **security.client_kwargs(),
    }


def test_faust_ssl_credentials(tls: TlsFiles) -> None:
    security = kafka_security(
        HubSettings(kafka_security_protocol="SSL", kafka_ssl_ca_file=tls.ca_file)
    )
    credentials = security.faust_credentials()
    assert isinstance(credentials, SSLCredentials)
    assert credentials_to_aiokafka_auth(credentials) == security.client_kwargs()


def test_the_password_never_shows_in_repr_or_description() -> None:
    security = kafka_security(sasl("SASL_SSL", "SCRAM-SHA-512"))
    assert "pw-1" not in repr(security)
    assert security.describe() == "SASL_SSL SCRAM-SHA-512 as user 'hub-api'"
    assert "pw-1" not in repr(sasl("SASL_SSL", "SCRAM-SHA-512"))


def locations(error: ConfigError) -> set[str]:
    return {p.location for p in error.problems}


def test_sasl_without_username_or_password_names_both_variables(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HUB_KAFKA_SECURITY_PROTOCOL", "SASL_SSL")
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert locations(caught.value) == {"HUB_KAFKA_SASL_USERNAME", "HUB_KAFKA_SASL_PASSWORD"}
    assert "SASL_SSL" in str(caught.value)
    with pytest.raises(ConfigError):
        kafka_security(HubSettings(kafka_security_protocol="SASL_PLAINTEXT"))  # any client


def test_missing_tls_files_and_a_certificate_without_key(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("HUB_KAFKA_SECURITY_PROTOCOL", "SSL")
    monkeypatch.setenv("HUB_KAFKA_SSL_CA_FILE", str(tmp_path / "nope.pem"))
    monkeypatch.setenv("HUB_KAFKA_SSL_CERT_FILE", str(tmp_path / "client.pem"))
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert locations(caught.value) == {
        "HUB_KAFKA_SSL_CA_FILE",
        "HUB_KAFKA_SSL_CERT_FILE",
        "HUB_KAFKA_SSL_KEY_FILE",
    }
    assert "no such file" in str(caught.value)


def test_tls_files_with_a_plaintext_protocol_are_refused(tls: TlsFiles) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(kafka_ssl_ca_file=tls.ca_file)
    assert locations(caught.value) == {"HUB_KAFKA_SSL_CA_FILE"}
    assert "HUB_KAFKA_SECURITY_PROTOCOL is PLAINTEXT" in str(caught.value)


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("HUB_KAFKA_SECURITY_PROTOCOL", "TLS"),
        ("HUB_KAFKA_SASL_MECHANISM", "OAUTHBEARER"),
        ("HUB_KAFKA_SASL_MECHANISM", "GSSAPI"),
    ],
)
def test_unsupported_protocol_or_mechanism_names_the_variable(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert locations(caught.value) == {variable}


def test_valid_secure_environment_loads(monkeypatch: pytest.MonkeyPatch, tls: TlsFiles) -> None:
    monkeypatch.setenv("HUB_KAFKA_SECURITY_PROTOCOL", "SASL_SSL")
    monkeypatch.setenv("HUB_KAFKA_SSL_CA_FILE", str(tls.ca_file))
    monkeypatch.setenv("HUB_KAFKA_SASL_MECHANISM", "SCRAM-SHA-256")
    monkeypatch.setenv("HUB_KAFKA_SASL_USERNAME", "hub-worker")
    monkeypatch.setenv("HUB_KAFKA_SASL_PASSWORD", "s3cret")
    settings = load_settings()
    assert kafka_security(settings).describe() == "SASL_SSL SCRAM-SHA-256 as user 'hub-worker'"


# ------------------------------------------------------------------ Schema Registry


def test_schema_registry_sends_basic_auth_and_explains_a_refusal() -> None:
    seen: list[str | None] = []

    def registry(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers.get("authorization"))
        if request.headers.get("authorization") != "Basic a2V5OnNlY3JldA==":  # key:secret
            return httpx.Response(401, json={"message": "Unauthorized"})
        return httpx.Response(200, json={"id": 7})

    transport = httpx.MockTransport(registry)
    good = ConfluentRegistryClient("https://sr.test", auth=("key", "secret"), transport=transport)
    assert good.register("events.x-value", {"type": "string"}) == 7
    bad = ConfluentRegistryClient("https://sr.test", auth=("key", "wrong"), transport=transport)
    with pytest.raises(BrokerError, match="HUB_SCHEMA_REGISTRY_PASSWORD"):
        bad.register("events.x-value", {"type": "string"})
    assert seen[0] == "Basic a2V5OnNlY3JldA=="


def test_schema_registry_settings_are_checked(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        registry_client(
            HubSettings(
                schema_registry_url="https://sr.test",
                schema_registry_username="key",
                schema_registry_ca_file=tmp_path / "missing.pem",
            )
        )
    assert locations(caught.value) == {
        "HUB_SCHEMA_REGISTRY_PASSWORD",
        "HUB_SCHEMA_REGISTRY_CA_FILE",
    }


def test_schema_registry_client_from_settings_uses_the_ca(tls: TlsFiles) -> None:
    client = registry_client(
        HubSettings(
            schema_registry_url="https://sr.test",
            schema_registry_username="key",
            schema_registry_password=SecretStr("secret"),
            schema_registry_ca_file=tls.ca_file,
        )
    )
    assert client.client.auth is not None
    assert client.url == "https://sr.test"


# ------------------------------------------------------------------ the secure front's SASL


def scram_exchange(mechanism: str, password: str, stored_password: str) -> None:
    """aiokafka's SCRAM client against the front's SCRAM server, message by message."""
    client = ScramAuthenticator(
        loop=None,
        sasl_plain_password=password,
        sasl_plain_username="hub,api=1",  # ',' and '=' are escaped on the wire
        sasl_mechanism=mechanism,
    )
    server = secure_front.ScramServer(
        mechanism, {"hub,api=1": secure_front.scram_credential(mechanism, stored_password)}
    )
    steps = client._authenticator
    first, _ = next(steps)
    server_first, done = server.step(first)
    assert not done
    final, _ = steps.send(server_first)
    server_final, done = server.step(final)
    assert done
    with pytest.raises(StopIteration):  # aiokafka checked the server's signature
        steps.send(server_final)
    assert server.user == "hub,api=1"


@pytest.mark.parametrize("mechanism", ["SCRAM-SHA-256", "SCRAM-SHA-512"])
def test_scram_server_accepts_aiokafka_and_refuses_a_wrong_password(mechanism: str) -> None:
    scram_exchange(mechanism, "right", "right")
    with pytest.raises(secure_front.AuthFailed, match="Invalid username or password"):
        scram_exchange(mechanism, "wrong", "right")


def test_plain_server() -> None:
    server = secure_front.PlainServer({"svc": "pw"})
    assert server.step(b"\x00svc\x00pw") == (b"", True)
    for bad in (b"\x00svc\x00nope", b"\x00who\x00pw", b"svc\x00pw", b"other\x00svc\x00pw"):
        with pytest.raises(secure_front.AuthFailed):
            server.step(bad)


@pytest.mark.parametrize("version", [0, 1])
def test_sasl_authenticate_response_decodes_as_aiokafka_expects(version: int) -> None:
    from aiokafka.protocol.admin import SaslAuthenticateResponse_v0, SaslAuthenticateResponse_v1

    head = secure_front.RequestHead(36, version, 42, 0)
    frame = secure_front.authenticate_response(head, 58, "Authentication failed", b"v=abc")
    response_class = (SaslAuthenticateResponse_v0, SaslAuthenticateResponse_v1)[version]
    assert int.from_bytes(frame[4:8], "big") == 42  # correlation id
    decoded = response_class.decode(frame[8:])
    assert decoded.error_code == 58
    assert decoded.error_message == "Authentication failed"
    assert decoded.sasl_auth_bytes == b"v=abc"


# ------------------------------------------------------------------ every client uses it

KAFKA_CLIENTS = ("AIOKafkaConsumer(", "AIOKafkaProducer(", "AIOKafkaAdminClient(", "faust.App(")
FACTORIES = {
    "hub/broker/consumer.py",
    "hub/broker/producer.py",
    "hub/broker/admin.py",
    "agents/app.py",
}


def test_kafka_clients_are_built_only_by_the_secured_factories() -> None:
    """A client built anywhere else would silently connect without TLS/SASL."""
    root = Path(__file__).resolve().parents[2]
    offenders = []
    for package in ("hub", "agents", "connectors", "runtime"):
        for path in sorted((root / package).rglob("*.py")):
            relative = path.relative_to(root).as_posix()
            text = path.read_text()
            if relative in FACTORIES or not any(c in text for c in KAFKA_CLIENTS):
                continue
            # the lag reader passes the settings' security through explicitly
            if relative == "hub/api/metrics.py" and "**(security or {})" in text:
                continue
            offenders.append(relative)
    assert offenders == [], (
        f"{offenders} construct Kafka clients directly: use hub.broker.producer.make_producer, "
        "hub.broker.consumer.make_consumer or hub.broker.admin.make_admin (they apply "
        "HUB_KAFKA_SECURITY_PROTOCOL and friends)"
    )


def test_the_faust_app_gets_the_credentials(tmp_path: Path) -> None:
    from agents.app import make_faust_app

    settings = sasl("SASL_PLAINTEXT", "SCRAM-SHA-256", kafka_bootstrap="k:9092", data_dir=tmp_path)
    credentials = make_faust_app(settings).conf.broker_credentials
    assert isinstance(credentials, SASLCredentials)
    assert (credentials.username, credentials.password) == ("hub-api", "pw-1")
    assert credentials.mechanism.value == "SCRAM-SHA-256"


def test_flexible_sasl_authenticate_v2_round_trip() -> None:
    """SaslAuthenticate v2 (compact fields, tagged fields), as Java clients send it."""
    import struct

    token = b"n,,n=svc,r=abc"
    # header v2: api key, version, correlation id, client id, no tagged fields; body: compact bytes
    frame = struct.pack(">hhih", 36, 2, 7, 3) + b"cli" + b"\x00"
    frame += bytes([len(token) + 1]) + token + b"\x00"
    head = secure_front.parse_head(frame, flexible=True)
    assert (head.api_key, head.api_version, head.correlation_id) == (36, 2, 7)
    assert secure_front.authenticate_request_bytes(frame, head) == token

    response = secure_front.authenticate_response(head, 0, None, b"r=abcdef")
    body = response[4:]
    assert int.from_bytes(body[:4], "big") == 7 and body[4] == 0  # correlation id, no tags
    assert struct.unpack(">h", body[5:7]) == (0,)  # no error
    assert body[7] == 0  # null error message
    assert body[8] == len(b"r=abcdef") + 1 and body[9:17] == b"r=abcdef"
    assert len(response) == 4 + len(body)
