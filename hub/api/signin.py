"""Who is signed in to the IG workbench: a person through OpenID Connect, or (embedded laptop
default only, when no identity provider is configured) a system through its API key.

The session cookie is signed (Starlette's SessionMiddleware, itsdangerous), HttpOnly,
SameSite=Lax (the provider's redirect back must carry it), Secure unless the API listens on
loopback only, and never holds a key: an OIDC sign-in keeps the person's id token claims that
the hub uses (sub, name, email, roles); an API-key sign-in keeps a random session id whose key
hash lives in this process's memory (re-checked on every request, so a rotated key ends it).

Every workbench form that changes something carries the session's CSRF token (a synchronizer
token: random, kept in the signed session, renewed at sign-in) and is refused without it, so
another site cannot make a signed-in browser act (SameSite=Lax alone leaves that to browsers).
"""

from __future__ import annotations

import hmac
import secrets
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from ipaddress import ip_address
from typing import Any

from fastapi import Request
from starlette.middleware.sessions import SessionMiddleware

from hub.access.keys import KeyStore
from hub.api.auth import authenticate
from hub.config.model import HubConfig, Role, System
from hub.errors import ConfigError, HubError, Problem
from hub.settings import HubSettings

SESSION_COOKIE = "hub_session"
SESSION_KEY = "who"
CSRF_KEY = "csrf"
CSRF_FIELD = "csrf_token"


@dataclass(frozen=True)
class Person:
    """Whoever is signed in: `actor` is what the access log records."""

    actor: str
    display: str
    roles: frozenset[Role]
    kind: str  # "person" (OIDC) or "system" (API key)

    @property
    def id(self) -> str:
        return self.actor

    @property
    def is_ig(self) -> bool:
        return Role.IG in self.roles


def roles_from_claims(
    claims: Mapping[str, Any], claim: str, role_map: Mapping[str, Iterable[Role | str]]
) -> frozenset[Role]:
    """The hub roles a person's id token grants: each value of `claim` (a list or one string,
    space or comma separated) looked up in `role_map`; unknown values grant nothing."""
    raw = claims.get(claim)
    if isinstance(raw, str):
        values = raw.replace(",", " ").split()
    elif isinstance(raw, list | tuple):
        values = [str(v) for v in raw]
    else:
        values = []
    roles: set[Role] = set()
    for value in values:
        roles.update(Role(r) for r in role_map.get(value, ()))
    return frozenset(roles)


def person_from_claims(
    claims: Mapping[str, Any], claim: str, role_map: Mapping[str, Iterable[Role | str]]
) -> Person:
    """The access log's actor for a person: their name or email and the provider's subject id
    (stable, unlike an email), cut to the log's 64 characters keeping the subject id whole."""
    sub = str(claims.get("sub") or "")
    if not sub:
        raise HubError("the identity provider's token has no subject (sub)")
    label = str(claims.get("email") or claims.get("preferred_username") or claims.get("name") or "")
    suffix = f" [{sub}]"
    actor = (label[: max(0, 64 - len(suffix))] + suffix).strip() if label else sub[:64]
    display = str(claims.get("name") or label or sub)
    return Person(actor[:64], display, roles_from_claims(claims, claim, role_map), "person")


def is_loopback(host: str) -> bool:
    if host in ("localhost", ""):
        return host == "localhost"
    try:
        return ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def oidc_problems(settings: HubSettings) -> list[Problem]:
    """What is missing for OIDC sign-in, by variable (empty: ready, or OIDC not configured)."""
    if not settings.oidc_enabled:
        return []
    problems = []
    if not settings.oidc_client_id:
        problems.append(Problem("HUB_OIDC_CLIENT_ID", "required", "set the hub's client id"))
    secret = settings.oidc_client_secret
    if secret is None or not secret.get_secret_value():
        problems.append(
            Problem("HUB_OIDC_CLIENT_SECRET", "required", "set the client secret from the provider")
        )
    if not any(Role.IG in roles for roles in settings.oidc_role_map.values()):
        problems.append(
            Problem(
                "HUB_OIDC_ROLE_MAP",
                "no_ig_role",
                'map a group or role to ig, e.g. {"hub-ig": ["ig"]}, or nobody can sign in',
            )
        )
    return problems


def require_oidc_settings(settings: HubSettings) -> None:
    problems = oidc_problems(settings)
    if problems:
        raise ConfigError("IG sign-in through OpenID Connect is not fully configured", problems)


def install_sessions(app: Any, settings: HubSettings, secret: str) -> None:
    app.add_middleware(
        SessionMiddleware,
        secret_key=secret,
        session_cookie=SESSION_COOKIE,
        max_age=settings.session_max_age_s,
        path="/",
        same_site="lax",
        https_only=not is_loopback(settings.api_host),
    )


@dataclass
class KeySessions:
    """API-key sign-ins (no identity provider): session id -> (key hash, expiry), in memory."""

    max_age_s: float
    _by_id: dict[str, tuple[str, float]] = field(default_factory=dict)

    def open(self, key_hash: str) -> str:
        now = time.monotonic()
        for sid in [s for s, (_, exp) in self._by_id.items() if exp < now]:
            del self._by_id[sid]
        sid = secrets.token_urlsafe(32)
        self._by_id[sid] = (key_hash, now + self.max_age_s)
        return sid

    def key_hash(self, sid: str) -> str | None:
        entry = self._by_id.get(sid)
        if entry is None or entry[1] < time.monotonic():
            self._by_id.pop(sid, None)
            return None
        return entry[0]

    def close(self, sid: str) -> None:
        self._by_id.pop(sid, None)


def system_by_hash(config: HubConfig, key_hash: str, keys: KeyStore | None) -> System | None:
    stored = keys.system_for(config, key_hash) if keys is not None else None
    if stored is False:
        return None
    return stored or config.system_by_key_hash(key_hash)


def session_person(
    request: Request, config: HubConfig, keys: KeyStore | None, sessions: KeySessions | None
) -> Person | None:
    """Whoever the request's signed session cookie names, or None."""
    if "session" not in request.scope:
        return None
    data = request.session.get(SESSION_KEY)
    if not isinstance(data, dict):
        return None
    if data.get("kind") == "person":
        try:
            roles = frozenset(Role(r) for r in data.get("roles", ()))
        except ValueError:
            return None
        return Person(str(data["actor"]), str(data["display"]), roles, "person")
    if data.get("kind") == "system" and sessions is not None:
        key_hash = sessions.key_hash(str(data.get("sid", "")))
        system = system_by_hash(config, key_hash, keys) if key_hash else None
        if system is None:
            return None
        return Person(system.id, system.name, system.roles, "system")
    return None


def csrf_token(request: Request) -> str:
    """The session's CSRF token for the forms of a page (made on first use; "" without sessions)."""
    if "session" not in request.scope:
        return ""
    token = request.session.get(CSRF_KEY)
    if not isinstance(token, str) or not token:
        token = secrets.token_urlsafe(32)
        request.session[CSRF_KEY] = token
    return token


def csrf_ok(request: Request, sent: str | None) -> bool:
    """Whether a form carried this session's CSRF token (constant-time comparison)."""
    expected = request.session.get(CSRF_KEY) if "session" in request.scope else None
    if not isinstance(expected, str) or not expected or not sent:
        return False
    return hmac.compare_digest(expected.encode(), sent.encode())


def remember_person(request: Request, person: Person) -> None:
    request.session.clear()
    request.session[SESSION_KEY] = {
        "kind": "person",
        "actor": person.actor,
        "display": person.display,
        "roles": sorted(r.value for r in person.roles),
    }


def remember_system(request: Request, sessions: KeySessions, key_hash: str) -> None:
    request.session.clear()
    request.session[SESSION_KEY] = {"kind": "system", "sid": sessions.open(key_hash)}


def forget(request: Request, sessions: KeySessions | None) -> None:
    data = request.session.get(SESSION_KEY) if "session" in request.scope else None
    if isinstance(data, dict) and data.get("kind") == "system" and sessions is not None:
        sessions.close(str(data.get("sid", "")))
    if "session" in request.scope:
        request.session.clear()


def key_sign_in(config: HubConfig, key: str, keys: KeyStore | None) -> System:
    """The system an API key pasted in the sign-in form belongs to (HubError otherwise)."""
    return authenticate(config, f"Bearer {key}", keys)
