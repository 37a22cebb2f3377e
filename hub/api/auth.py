"""API keys: `Authorization: Bearer <key>`; only the key's SHA-256 is kept in configuration."""

from __future__ import annotations

import hashlib
import secrets
from typing import Annotated

from fastapi import Depends, Header

from hub.api.context import ApiContext, api_context
from hub.config.model import HubConfig, Role, System
from hub.errors import AuthenticationError, PermissionDenied


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def new_key() -> str:
    return "tio_" + secrets.token_urlsafe(32)


def authenticate(config: HubConfig, authorization: str | None) -> System:
    if not authorization:
        raise AuthenticationError("missing API key: send `Authorization: Bearer <your key>`")
    scheme, _, key = authorization.partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        raise AuthenticationError("malformed Authorization header: expected `Bearer <your key>`")
    system = config.system_by_key_hash(hash_key(key.strip()))
    if system is None:
        raise AuthenticationError("unknown API key")
    return system


def require_role(system: System, role: Role) -> System:
    if role not in system.roles:
        raise PermissionDenied(f"system {system.id!r} does not have the {role.value} role")
    return system


def current_system(
    ctx: Annotated[ApiContext, Depends(api_context)],
    authorization: Annotated[str | None, Header()] = None,
) -> System:
    return authenticate(ctx.config, authorization)
