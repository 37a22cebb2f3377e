"""API keys kept in the database, hashed (SHA-256): made by `hub keys new --role` / `hub keys rotate`, listed by
`hub keys list`, revoked by `hub keys revoke`.

A key is shown once, at creation. systems.yaml's `api_key_sha256` keys keep working until the
system's key is rotated: rotation revokes every earlier key of the system, the YAML one included
(its hash is recorded as revoked here, so IG's git file need not change the same minute).
"""

from __future__ import annotations

import hashlib
import secrets
import time
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict
from sqlalchemy import Engine, Table, insert, select, update

from hub.config.model import HubConfig, Role, System, system_id_problem
from hub.db.tables import ApiKey
from hub.errors import ConfigError, HubError, Problem

KEYS: Table = ApiKey.__table__  # type: ignore[attr-defined]
CACHE_S = 5.0


class KeyProblem(HubError):
    code = "key_error"


class SystemExists(KeyProblem):
    """`systems add` for a system that exists (in systems.yaml or the key table): a new key
    for it is a rotation (`hub keys rotate`), which keeps its roles and revokes the old keys."""

    code = "system_exists"


def hash_key(key: str) -> str:
    """Only this SHA-256 (hex) of a key is ever stored."""
    return hashlib.sha256(key.encode()).hexdigest()


def new_key() -> str:
    return "tio_" + secrets.token_urlsafe(32)


def demo_key(system_id: str) -> str:
    """The published demo key of a system (README, config/systems.yaml): `demo-<id>-key`."""
    return f"demo-{system_id}-key"


def demo_keys_in_use(config: HubConfig, keys: KeyStore | None) -> list[System]:
    """Systems whose systems.yaml key is still the published demo key (and not rotated away)."""
    found = []
    for system in config.systems:
        if system.api_key_sha256 != hash_key(demo_key(system.id)):
            continue
        stored = keys.lookup(system.api_key_sha256) if keys is not None else None
        if stored is not None and stored.revoked:
            continue  # `hub keys rotate` revoked it
        found.append(system)
    return found


def refuse_demo_keys(config: HubConfig, keys: KeyStore | None, allowed: bool) -> None:
    """Outside the embedded demo stack, a ConfigError naming every system still on a demo key."""
    if allowed:
        return
    found = demo_keys_in_use(config, keys)
    if found:
        raise ConfigError(
            "the API refuses to start: systems.yaml still holds the published demo API keys "
            "(anyone who read the README could use them)",
            [
                Problem(
                    f"systems.yaml: {s.id}",
                    "demo_key",
                    f"api_key_sha256 is that of {demo_key(s.id)!r}: give the system its own key "
                    f"(`hub keys new {s.id}` prints one and its hash, or `hub keys rotate {s.id}`)",
                )
                for s in found
            ],
        )


class StoredKey(BaseModel):
    model_config = ConfigDict(frozen=True)

    system_id: str
    name: str
    roles: frozenset[Role]
    revoked: bool


class KeyRecord(BaseModel):
    """A stored key as `hub keys list` shows it."""

    model_config = ConfigDict(frozen=True)

    system_id: str
    name: str
    roles: frozenset[Role]
    key_sha256_prefix: str
    created_at: datetime
    revoked_at: datetime | None


class KeyStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._cache: dict[str, tuple[float, StoredKey | None]] = {}

    def lookup(self, key_hash: str) -> StoredKey | None:
        now = time.monotonic()
        hit = self._cache.get(key_hash)
        if hit is not None and now - hit[0] < CACHE_S:
            return hit[1]
        with self.engine.connect() as conn:
            row = conn.execute(select(KEYS).where(KEYS.c.key_sha256 == key_hash)).first()
        found = None
        if row is not None:
            m = row._mapping
            found = StoredKey(
                system_id=m["system_id"],
                name=m["name"],
                roles=frozenset(Role(r) for r in m["roles"].split(",") if r),
                revoked=m["revoked_at"] is not None,
            )
        self._cache[key_hash] = (now, found)
        return found

    def system_for(self, config: HubConfig, key_hash: str) -> System | Literal[False] | None:
        """The system a key belongs to; False: a revoked key; None: unknown here."""
        stored = self.lookup(key_hash)
        if stored is None:
            return None
        if stored.revoked:
            return False
        known = config.system(stored.system_id)
        if known is not None:
            return known
        return System(
            id=stored.system_id, name=stored.name, roles=stored.roles, api_key_sha256=key_hash
        )

    def add_system(
        self,
        system_id: str,
        name: str,
        roles: frozenset[Role],
        at: datetime,
        config: HubConfig | None = None,
    ) -> str:
        """A new key for a new system (IG officers, admins and new systems); returns it, once.

        A system that exists already, in systems.yaml (`config`) or in the key table, is
        refused (SystemExists): its key is rotated with `hub keys rotate`, never re-created."""
        if problem := system_id_problem(system_id):
            raise KeyProblem(problem)
        if not roles:
            raise KeyProblem("give at least one --role")
        if config is not None and config.system(system_id) is not None:
            raise SystemExists(
                f"system {system_id!r} exists in systems.yaml: rotate its key with "
                "`hub keys rotate` (its roles come from systems.yaml)"
            )
        with self.engine.connect() as conn:
            exists = conn.execute(
                select(KEYS.c.id).where(KEYS.c.system_id == system_id).limit(1)
            ).first()
        if exists is not None:
            raise SystemExists(f"system {system_id!r} already has keys: use `hub keys rotate`")
        return self._insert(system_id, name, roles, at)

    def _insert(self, system_id: str, name: str, roles: frozenset[Role], at: datetime) -> str:
        key = new_key()
        with self.engine.begin() as conn:
            conn.execute(
                insert(KEYS).values(
                    system_id=system_id,
                    name=name,
                    roles=",".join(sorted(r.value for r in roles)),
                    key_sha256=hash_key(key),
                    created_at=at,
                )
            )
        self._cache.clear()
        return key

    def rotate(self, config: HubConfig, system_id: str, at: datetime) -> str:
        """Revoke every key of the system (the systems.yaml one too) and make a new one."""
        name, roles = self._revoke_all(config, system_id, at)
        return self._insert(system_id, name, roles, at)

    def revoke(self, config: HubConfig, system_id: str, at: datetime) -> None:
        """Revoke every key of the system (the systems.yaml one too) and make none: the system
        gets 401 on every call until IG gives it a key again (`hub keys rotate`)."""
        self._revoke_all(config, system_id, at)

    def list_keys(self) -> list[KeyRecord]:
        """Every stored key (never the key itself: the first 8 hex digits of its hash), oldest first."""
        with self.engine.connect() as conn:
            rows = conn.execute(select(KEYS).order_by(KEYS.c.id)).all()
        return [
            KeyRecord(
                system_id=r.system_id,
                name=r.name,
                roles=frozenset(Role(x) for x in r.roles.split(",") if x),
                key_sha256_prefix=r.key_sha256[:8],
                created_at=r.created_at,
                revoked_at=r.revoked_at,
            )
            for r in rows
        ]

    def _revoke_all(
        self, config: HubConfig, system_id: str, at: datetime
    ) -> tuple[str, frozenset[Role]]:
        with self.engine.connect() as conn:
            latest = conn.execute(
                select(KEYS.c.name, KEYS.c.roles)
                .where(KEYS.c.system_id == system_id)
                .order_by(KEYS.c.id.desc())
                .limit(1)
            ).first()
        yaml_system = config.system(system_id)
        if yaml_system is not None:
            name, roles = yaml_system.name, yaml_system.roles
        elif latest is not None:
            name = latest[0]
            roles = frozenset(Role(r) for r in latest[1].split(",") if r)
        else:
            raise KeyProblem(
                f"no system {system_id!r} in systems.yaml or the key table: "
                "add it with `hub keys new ID --role ...`"
            )
        with self.engine.begin() as conn:
            conn.execute(
                update(KEYS)
                .where(KEYS.c.system_id == system_id, KEYS.c.revoked_at.is_(None))
                .values(revoked_at=at)
            )
            if yaml_system is not None:
                known = conn.execute(
                    select(KEYS.c.id).where(KEYS.c.key_sha256 == yaml_system.api_key_sha256)
                ).first()
                if known is None:
                    conn.execute(
                        insert(KEYS).values(
                            system_id=system_id,
                            name=name,
                            roles=",".join(sorted(r.value for r in roles)),
                            key_sha256=yaml_system.api_key_sha256,
                            created_at=at,
                            revoked_at=at,
                        )
                    )
        self._cache.clear()
        return name, roles
