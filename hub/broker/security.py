"""Kafka client security from settings: TLS and SASL arguments for aiokafka and faust.

Every Kafka client the hub makes (producer, consumers, admin, the faust app) takes its
security from here, so a deployment sets HUB_KAFKA_SECURITY_PROTOCOL and friends once.
`diagnose` turns a failed connection into a reason a person can act on (an untrusted
certificate, refused credentials, a TLS client on a plaintext port), because aiokafka itself
only says "Unable to bootstrap".
"""

from __future__ import annotations

import asyncio
import ssl
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hub.errors import ConfigError, Problem
from hub.settings import HubSettings

TLS_PROTOCOLS = frozenset({"SSL", "SASL_SSL"})
SASL_PROTOCOLS = frozenset({"SASL_PLAINTEXT", "SASL_SSL"})


@dataclass(frozen=True)
class KafkaSecurity:
    """What one client needs to reach a secured Kafka; `client_kwargs` is aiokafka's spelling."""

    protocol: str = "PLAINTEXT"
    ssl_context: ssl.SSLContext | None = None
    sasl_mechanism: str | None = None
    username: str | None = None
    password: str | None = field(default=None, repr=False)

    @property
    def tls(self) -> bool:
        return self.protocol in TLS_PROTOCOLS

    @property
    def sasl(self) -> bool:
        return self.protocol in SASL_PROTOCOLS

    def client_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for AIOKafkaProducer / AIOKafkaConsumer / AIOKafkaAdminClient."""
        kwargs: dict[str, Any] = {"security_protocol": self.protocol}
        if self.tls:
            kwargs["ssl_context"] = self.ssl_context
        if self.sasl:
            kwargs["sasl_mechanism"] = self.sasl_mechanism
            kwargs["sasl_plain_username"] = self.username
            kwargs["sasl_plain_password"] = self.password
        return kwargs

    def faust_credentials(self) -> Any:
        """faust's `broker_credentials` for the same security (None for PLAINTEXT)."""
        from faust.auth import SASLCredentials, SSLCredentials

        if self.sasl:
            # faust derives SASL_SSL from the presence of the SSL context
            return SASLCredentials(
                username=self.username,
                password=self.password,
                mechanism=self.sasl_mechanism,
                ssl_context=self.ssl_context if self.tls else None,
            )
        if self.tls:
            return SSLCredentials(self.ssl_context)
        return None

    def describe(self) -> str:
        """For messages and logs: the protocol, mechanism and user, never the password."""
        if self.sasl:
            return f"{self.protocol} {self.sasl_mechanism} as user {self.username!r}"
        return self.protocol


def kafka_security(settings: HubSettings) -> KafkaSecurity:
    """The checked security of these settings; a ConfigError names each wrong HUB_ variable."""
    problems = settings.kafka_security_problems()
    if problems:
        raise ConfigError("invalid Kafka security settings", problems)
    protocol = settings.kafka_security_protocol
    context = tls_context(settings) if protocol in TLS_PROTOCOLS else None
    if protocol not in SASL_PROTOCOLS:
        return KafkaSecurity(protocol, context)
    password = settings.kafka_sasl_password
    return KafkaSecurity(
        protocol,
        context,
        settings.kafka_sasl_mechanism,
        settings.kafka_sasl_username,
        password.get_secret_value() if password is not None else None,
    )


def kafka_client_kwargs(settings: HubSettings) -> dict[str, Any]:
    """Shorthand: aiokafka security keyword arguments for these settings."""
    return kafka_security(settings).client_kwargs()


def tls_context(settings: HubSettings) -> ssl.SSLContext:
    """A client TLS context: the CA file (else the system CAs), an optional client certificate."""
    ca = settings.kafka_ssl_ca_file
    try:
        context = ssl.create_default_context(cafile=str(ca) if ca else None)
    except (ssl.SSLError, OSError) as exc:
        raise _file_error("HUB_KAFKA_SSL_CA_FILE", ca, "is not a PEM CA certificate", exc) from exc
    context.check_hostname = settings.kafka_ssl_check_hostname
    cert, key = settings.kafka_ssl_cert_file, settings.kafka_ssl_key_file
    if cert is not None and key is not None:
        key_password = settings.kafka_ssl_key_password
        try:
            context.load_cert_chain(
                str(cert),
                str(key),
                password=key_password.get_secret_value() if key_password else None,
            )
        except (ssl.SSLError, OSError) as exc:
            raise ConfigError(
                "invalid Kafka security settings",
                [
                    Problem(
                        "HUB_KAFKA_SSL_CERT_FILE",
                        "tls_client_certificate",
                        f"could not load {cert} with key {key} ({exc}); check that both are PEM, "
                        "belong together, and HUB_KAFKA_SSL_KEY_PASSWORD if the key is encrypted",
                    )
                ],
            ) from exc
    return context


def _file_error(variable: str, path: Path | None, what: str, exc: Exception) -> ConfigError:
    return ConfigError(
        "invalid Kafka security settings",
        [Problem(variable, "tls_file", f"{path} {what} ({exc})")],
    )


async def diagnose(settings: HubSettings, bootstrap: str, timeout: float = 5.0) -> str:
    """Why a connection to the first bootstrap server fails, in the operator's terms.

    Opens one connection with exactly the client's security and names what went wrong and
    which HUB_ variable to look at. Returns "connected" when the connection works after all.
    """
    from aiokafka import errors as kafka_errors
    from aiokafka.conn import create_conn

    security = kafka_security(settings)
    host, _, port = bootstrap.split(",")[0].strip().rpartition(":")
    where = f"{host}:{port}"
    try:
        conn = await asyncio.wait_for(
            create_conn(
                host, int(port), request_timeout_ms=int(timeout * 1000), **security.client_kwargs()
            ),
            timeout,
        )
    except ssl.SSLCertVerificationError as exc:
        return (
            f"the TLS certificate of {where} is not trusted ({exc.verify_message}): check "
            "HUB_KAFKA_SSL_CA_FILE (the CA that signed the broker's certificate) and, for a name "
            "mismatch, the host in HUB_KAFKA_BOOTSTRAP"
        )
    except ssl.SSLError as exc:
        return (
            f"the TLS handshake with {where} failed ({exc.reason or exc}): check "
            "HUB_KAFKA_SSL_CERT_FILE / HUB_KAFKA_SSL_KEY_FILE if the broker requires a client "
            "certificate, and HUB_KAFKA_SECURITY_PROTOCOL"
        )
    except kafka_errors.UnsupportedSaslMechanismError as exc:
        return (
            f"{where} does not offer SASL {security.sasl_mechanism} ({exc}): "
            "check HUB_KAFKA_SASL_MECHANISM"
        )
    except (kafka_errors.SaslAuthenticationFailed, kafka_errors.AuthenticationFailedError) as exc:
        return (
            f"{where} refused the SASL credentials ({security.describe()}): {exc}; check "
            "HUB_KAFKA_SASL_USERNAME, HUB_KAFKA_SASL_PASSWORD and HUB_KAFKA_SASL_MECHANISM"
        )
    except TimeoutError:
        hint = (
            "is it a plaintext listener? check HUB_KAFKA_SECURITY_PROTOCOL"
            if security.tls
            else "is the address right, and is it a TLS or SASL listener? check "
            "HUB_KAFKA_SECURITY_PROTOCOL"
        )
        return f"{where} did not complete a {security.protocol} connection within {timeout:.0f}s: {hint}"
    except kafka_errors.KafkaConnectionError as exc:
        hints = ["does the listener expect another HUB_KAFKA_SECURITY_PROTOCOL or SASL mechanism?"]
        if security.tls and settings.kafka_ssl_cert_file is None:
            # TLS 1.3: a broker that requires a client certificate closes after the handshake
            hints.append(
                "does it require a client certificate (HUB_KAFKA_SSL_CERT_FILE, "
                "HUB_KAFKA_SSL_KEY_FILE)?"
            )
        return f"{where} closed the {security.describe()} connection ({exc}): " + " ".join(hints)
    except kafka_errors.KafkaError as exc:
        return f"{where} refused the {security.describe()} connection: {exc!r}"
    except OSError as exc:
        return f"nothing answers at {where} ({exc.strerror or exc}): check HUB_KAFKA_BOOTSTRAP"
    conn.close()
    return "connected"
