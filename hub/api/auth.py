"""API keys: `Authorization: Bearer <key>`; only the key's SHA-256 is kept in configuration."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from hub.access.keys import KeyStore, hash_key, new_key
from hub.api.context import ApiContext, api_context
from hub.config.model import HubConfig, Role, System
from hub.errors import AuthenticationError, PermissionDenied

__all__ = ["authenticate", "current_system", "hash_key", "new_key", "require_role"]


def authenticate(
    config: HubConfig, authorization: str | None, keys: KeyStore | None = None
) -> System:
    """The system a Bearer key belongs to: database keys (`hub systems add`, `hub keys rotate`;
    a rotated key is refused) first, then systems.yaml's api_key_sha256."""
    if not authorization:
        raise AuthenticationError("missing API key: send `Authorization: Bearer <your key>`")
    scheme, _, key = authorization.partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        raise AuthenticationError("malformed Authorization header: expected `Bearer <your key>`")
    key_hash = hash_key(key.strip())
    stored = keys.system_for(config, key_hash) if keys is not None else None
    if stored is False:
        raise AuthenticationError("this API key was revoked (rotated): use the new key")
    system = stored or config.system_by_key_hash(key_hash)
    if system is None:
        raise AuthenticationError("unknown API key")
    return system


def require_role(system: System, role: Role) -> System:
    if role not in system.roles:
        raise PermissionDenied(f"system {system.id!r} does not have the {role.value} role")
    return system


BEARER = HTTPBearer(
    auto_error=False,
    scheme_name="apiKey",
    bearerFormat="API key",
    description="Your system's API key: `Authorization: Bearer <key>` (hub keys new/rotate).",
)


def current_system(
    request: Request,
    ctx: Annotated[ApiContext, Depends(api_context)],
    _documented: Annotated[HTTPAuthorizationCredentials | None, Depends(BEARER)] = None,
    authorization: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> System:
    """The calling system (`_documented` only puts the scheme in OpenAPI: /docs' Authorize)."""
    keys = getattr(request.app.state, "keys", None)
    return authenticate(ctx.config, authorization, keys if isinstance(keys, KeyStore) else None)
