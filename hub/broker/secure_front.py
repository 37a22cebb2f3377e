"""A TLS and SASL front for a plaintext Kafka-protocol listener (the embedded broker's secure mode).

    python -m hub.broker.secure_front CONFIG.json

It listens on one address, terminates TLS (optionally requiring a client certificate),
authenticates each connection with SASL PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512 as Apache Kafka
does (SaslHandshake v1, then SaslAuthenticate v0-v2), and then relays the connection's bytes to
the upstream listener unchanged. ApiVersions is answered by the upstream before authentication,
as Kafka allows; any other request before authentication closes the connection.

CONFIG.json (written by EmbeddedBroker, owner-only): {"listen": "host:port", "upstream":
"host:port", "cert_file", "key_file", "client_ca_file" (each optional), "users": {name:
password} (absent: no authentication), "mechanisms": [...]}.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import json
import os
import secrets
import ssl
import struct
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

API_VERSIONS = 18
SASL_HANDSHAKE = 17
SASL_AUTHENTICATE = 36
UNSUPPORTED_SASL_MECHANISM = 33
ILLEGAL_SASL_STATE = 34
SASL_AUTHENTICATION_FAILED = 58
SCRAM_ITERATIONS = 4096
MAX_AUTH_FRAME = 64 * 1024
MECHANISMS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")
_HASHES: Mapping[str, Callable[..., Any]] = {
    "SCRAM-SHA-256": hashlib.sha256,
    "SCRAM-SHA-512": hashlib.sha512,
}


class AuthFailed(Exception):
    """The client's credentials or SASL messages were not accepted."""


# ---------------------------------------------------------------- SASL mechanisms (server side)


class PlainServer:
    """RFC 4616: one message `authzid NUL user NUL password`."""

    def __init__(self, users: Mapping[str, str]) -> None:
        self.users = users
        self.user = ""

    def step(self, message: bytes) -> tuple[bytes, bool]:
        parts = message.split(b"\x00")
        if len(parts) != 3:
            raise AuthFailed("malformed PLAIN message")
        authzid, user, password = (p.decode("utf-8", "replace") for p in parts)
        expected = self.users.get(user)
        if expected is None or not hmac.compare_digest(expected.encode(), password.encode()):
            raise AuthFailed("Invalid username or password")
        if authzid and authzid != user:
            raise AuthFailed("authorization id differs from the user")
        self.user = user
        return b"", True


@dataclass(frozen=True)
class ScramCredential:
    salt: bytes
    iterations: int
    stored_key: bytes
    server_key: bytes


def scram_credential(mechanism: str, password: str, salt: bytes | None = None) -> ScramCredential:
    """The stored form of a password (RFC 5802 section 3), as a Kafka broker keeps it."""
    digest = _HASHES[mechanism]
    salt = salt or secrets.token_bytes(24)
    name = digest().name
    salted = hashlib.pbkdf2_hmac(name, password.encode(), salt, SCRAM_ITERATIONS)
    client_key = hmac.new(salted, b"Client Key", name).digest()
    server_key = hmac.new(salted, b"Server Key", name).digest()
    return ScramCredential(salt, SCRAM_ITERATIONS, digest(client_key).digest(), server_key)


def _attributes(message: str) -> dict[str, str]:
    return {part[0]: part[2:] for part in message.split(",") if len(part) >= 2 and part[1] == "="}


class ScramServer:
    """RFC 5802 / 7677 server: client-first, server-first, client-final, server-final."""

    def __init__(self, mechanism: str, credentials: Mapping[str, ScramCredential]) -> None:
        self.mechanism = mechanism
        self.name = _HASHES[mechanism]().name
        self.credentials = credentials
        self.user = ""
        self._state: tuple[str, str, str, ScramCredential | None, str] | None = None

    def step(self, message: bytes) -> tuple[bytes, bool]:
        text = message.decode("utf-8", "replace")
        if self._state is None:
            return self._first(text).encode(), False
        return self._final(text).encode(), True

    def _first(self, text: str) -> str:
        parts = text.split(",", 2)
        if len(parts) != 3 or parts[0] not in ("n", "y"):
            raise AuthFailed("malformed SCRAM client-first message")
        gs2_header = f"{parts[0]},{parts[1]},"
        bare = parts[2]
        attrs = _attributes(bare)
        if "n" not in attrs or "r" not in attrs:
            raise AuthFailed("SCRAM client-first message without user or nonce")
        user = attrs["n"].replace("=2C", ",").replace("=3D", "=")
        credential = self.credentials.get(user)
        nonce = attrs["r"] + secrets.token_urlsafe(18)
        # an unknown user gets a made-up salt and fails at the proof, like a wrong password
        salt = credential.salt if credential else hashlib.sha256(user.encode()).digest()
        server_first = (
            f"r={nonce},s={base64.b64encode(salt).decode()},"
            f"i={credential.iterations if credential else SCRAM_ITERATIONS}"
        )
        self.user = user
        self._state = (gs2_header, bare, server_first, credential, nonce)
        return server_first

    def _final(self, text: str) -> str:
        assert self._state is not None
        gs2_header, bare, server_first, credential, nonce = self._state
        attrs = _attributes(text)
        if ",p=" not in text or attrs.get("r") != nonce:
            raise AuthFailed("SCRAM client-final message with a wrong nonce or no proof")
        if attrs.get("c") != base64.b64encode(gs2_header.encode()).decode():
            raise AuthFailed("SCRAM channel binding mismatch")
        without_proof = text[: text.rindex(",p=")]
        auth_message = f"{bare},{server_first},{without_proof}".encode()
        if credential is None:
            raise AuthFailed("Invalid username or password")
        proof = base64.b64decode(attrs["p"])
        signature = hmac.new(credential.stored_key, auth_message, self.name).digest()
        client_key = bytes(a ^ b for a, b in zip(proof, signature, strict=False))
        stored = _HASHES[self.mechanism](client_key).digest()
        if len(proof) != len(signature) or not hmac.compare_digest(stored, credential.stored_key):
            raise AuthFailed("Invalid username or password")
        server_signature = hmac.new(credential.server_key, auth_message, self.name).digest()
        return "v=" + base64.b64encode(server_signature).decode()


# ---------------------------------------------------------------- Kafka framing


def _uvarint(data: bytes, pos: int) -> tuple[int, int]:
    shift = result = 0
    while True:
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7


def _put_uvarint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _skip_tags(data: bytes, pos: int) -> int:
    count, pos = _uvarint(data, pos)
    for _ in range(count):
        _, pos = _uvarint(data, pos)
        size, pos = _uvarint(data, pos)
        pos += size
    return pos


@dataclass(frozen=True)
class RequestHead:
    api_key: int
    api_version: int
    correlation_id: int
    body_at: int


def parse_head(frame: bytes, flexible: bool) -> RequestHead:
    api_key, api_version, correlation_id, client_len = struct.unpack_from(">hhih", frame)
    pos = 10 + max(client_len, 0)
    if flexible:
        pos = _skip_tags(frame, pos)
    return RequestHead(api_key, api_version, correlation_id, pos)


async def read_frame(reader: asyncio.StreamReader, limit: int = MAX_AUTH_FRAME) -> bytes:
    (size,) = struct.unpack(">i", await reader.readexactly(4))
    if not 0 < size <= limit:
        raise AuthFailed(f"request of {size} bytes before authentication")
    return await reader.readexactly(size)


def _frame(payload: bytes) -> bytes:
    return struct.pack(">i", len(payload)) + payload


def handshake_response(correlation_id: int, error: int, mechanisms: tuple[str, ...]) -> bytes:
    body = struct.pack(">ihi", correlation_id, error, len(mechanisms))
    for name in mechanisms:
        body += struct.pack(">h", len(name)) + name.encode()
    return _frame(body)


def authenticate_request_bytes(frame: bytes, head: RequestHead) -> bytes:
    pos = head.body_at
    if head.api_version >= 2:
        size, pos = _uvarint(frame, pos)
        return frame[pos : pos + size - 1]
    (size,) = struct.unpack_from(">i", frame, pos)
    return frame[pos + 4 : pos + 4 + size]


def authenticate_response(head: RequestHead, error: int, message: str | None, data: bytes) -> bytes:
    text = message.encode() if message is not None else None
    if head.api_version >= 2:  # flexible: response header v1, compact fields, tagged fields
        body = struct.pack(">i", head.correlation_id) + b"\x00" + struct.pack(">h", error)
        body += _put_uvarint(len(text) + 1) + text if text is not None else b"\x00"
        body += _put_uvarint(len(data) + 1) + data + struct.pack(">q", 0) + b"\x00"
        return _frame(body)
    body = struct.pack(">ih", head.correlation_id, error)
    body += struct.pack(">h", len(text)) + text if text is not None else struct.pack(">h", -1)
    body += struct.pack(">i", len(data)) + data
    if head.api_version >= 1:
        body += struct.pack(">q", 0)  # session lifetime: no re-authentication required
    return _frame(body)


# ---------------------------------------------------------------- the front


@dataclass(frozen=True)
class FrontConfig:
    listen: tuple[str, int]
    upstream: tuple[str, int]
    server_ssl: ssl.SSLContext | None
    users: Mapping[str, str] | None
    mechanisms: tuple[str, ...]

    @classmethod
    def load(cls, path: Path) -> FrontConfig:
        raw: dict[str, Any] = json.loads(path.read_text())
        context = None
        if raw.get("cert_file"):
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(raw["cert_file"], raw["key_file"])
            if raw.get("client_ca_file"):
                context.verify_mode = ssl.CERT_REQUIRED
                context.load_verify_locations(raw["client_ca_file"])
        users = raw.get("users")
        return cls(
            _address(raw["listen"]),
            _address(raw["upstream"]),
            context,
            dict(users) if users is not None else None,
            tuple(raw.get("mechanisms") or MECHANISMS),
        )


def _address(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    return host, int(port)


class SecureFront:
    def __init__(self, config: FrontConfig) -> None:
        self.config = config
        users = config.users or {}
        self.scram = {
            mechanism: {name: scram_credential(mechanism, pw) for name, pw in users.items()}
            for mechanism in _HASHES
        }

    async def serve(self) -> None:
        host, port = self.config.listen
        server = await asyncio.start_server(self.handle, host, port, ssl=self.config.server_ssl)
        async with server:
            await server.serve_forever()

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        upstream_writer: asyncio.StreamWriter | None = None
        try:
            up_reader, upstream_writer = await asyncio.open_connection(*self.config.upstream)
            if self.config.users is not None:
                await self.authenticate(reader, writer, up_reader, upstream_writer)
            await asyncio.gather(
                _pipe(reader, upstream_writer), _pipe(up_reader, writer), return_exceptions=True
            )
        except (AuthFailed, OSError, asyncio.IncompleteReadError, ssl.SSLError, ValueError):
            pass
        finally:
            for w in (writer, upstream_writer):
                if w is not None:
                    with contextlib.suppress(Exception):
                        w.close()

    async def authenticate(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        up_reader: asyncio.StreamReader,
        up_writer: asyncio.StreamWriter,
    ) -> None:
        users = self.config.users or {}
        session: PlainServer | ScramServer | None = None
        while True:
            frame = await read_frame(reader)
            api_key, api_version = struct.unpack_from(">hh", frame)
            if api_key == API_VERSIONS:  # answered by the broker itself, as Kafka does
                up_writer.write(_frame(frame))
                await up_writer.drain()
                writer.write(_frame(await read_frame(up_reader, 1 << 20)))
                await writer.drain()
                continue
            if api_key == SASL_HANDSHAKE:
                head = parse_head(frame, flexible=False)
                (size,) = struct.unpack_from(">h", frame, head.body_at)
                mechanism = frame[head.body_at + 2 : head.body_at + 2 + size].decode()
                if api_version < 1 or mechanism not in self.config.mechanisms:
                    writer.write(
                        handshake_response(
                            head.correlation_id, UNSUPPORTED_SASL_MECHANISM, self.config.mechanisms
                        )
                    )
                    await writer.drain()
                    raise AuthFailed(f"mechanism {mechanism} (handshake v{api_version})")
                session = (
                    PlainServer(users)
                    if mechanism == "PLAIN"
                    else ScramServer(mechanism, self.scram[mechanism])
                )
                writer.write(handshake_response(head.correlation_id, 0, (mechanism,)))
                await writer.drain()
                continue
            if api_key == SASL_AUTHENTICATE and session is not None:
                head = parse_head(frame, flexible=api_version >= 2)
                try:
                    answer, done = session.step(authenticate_request_bytes(frame, head))
                except AuthFailed as exc:
                    writer.write(
                        authenticate_response(
                            head,
                            SASL_AUTHENTICATION_FAILED,
                            f"Authentication failed during authentication due to: {exc}",
                            b"",
                        )
                    )
                    await writer.drain()
                    raise
                writer.write(authenticate_response(head, 0, None, answer))
                await writer.drain()
                if done:
                    return
                continue
            raise AuthFailed(f"request {api_key} before authentication")


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(1 << 16):
            writer.write(data)
            await writer.drain()
    finally:
        with contextlib.suppress(Exception):
            writer.close()


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m hub.broker.secure_front CONFIG.json", file=sys.stderr)
        return 2
    config = FrontConfig.load(Path(args[0]))
    print(f"secure front on {config.listen[0]}:{config.listen[1]} pid {os.getpid()}", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(SecureFront(config).serve())
    return 0


if __name__ == "__main__":
    sys.exit(main())
