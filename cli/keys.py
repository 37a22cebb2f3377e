"""`hub keys new|list|rotate|revoke`: API keys of systems and people; `hub keys secret|env|signing`:
the hub's own secrets. A key is shown once, when made; only its SHA-256 is ever stored."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from cli.common import console, err, hub_settings, print_table
from hub.timeutil import utcnow

if TYPE_CHECKING:
    from hub.access.keys import KeyStore
    from hub.config.model import HubConfig

app = typer.Typer(
    help="API keys (new, list, rotate, revoke) and the hub's own secrets.", no_args_is_help=True
)

SystemId = Annotated[
    str, typer.Argument(metavar="ID", help="The system or person, e.g. waste or ig-alice")
]


def _store_and_config() -> tuple[KeyStore, HubConfig]:
    from hub.access.keys import KeyStore
    from runtime.wiring import open_stores, wire

    settings = hub_settings()
    return KeyStore(open_stores(settings).engine), wire(settings).config


@app.command("new")
def keys_new(
    system_id: SystemId,
    role: Annotated[
        list[str] | None,
        typer.Option(
            help="source, recipient, ig or admin (repeat for several): store the key for a new "
            "person or system. Without it: print a key and its api_key_sha256 for systems.yaml"
        ),
    ] = None,
    name: Annotated[str | None, typer.Option(help="Who or what it is (with --role)")] = None,
) -> None:
    """A new API key, shown once: stored (hashed) for a new person or system with --role, or,
    without --role, with the api_key_sha256 line for the system's entry in systems.yaml."""
    from hub.access.keys import hash_key, new_key
    from hub.config.model import Role, system_id_problem

    if problem := system_id_problem(system_id):  # systems.yaml and the key table both refuse it
        raise typer.BadParameter(problem, param_hint="ID")
    if not role:
        key = new_key()
        console.print(
            f"API key for {system_id} (shown once; give it to the system's owner):\n  {key}"
        )
        console.print(
            f"In config/systems.yaml, under id: {system_id}:\n  api_key_sha256: {hash_key(key)}"
        )
        return
    try:
        roles = frozenset(Role(r) for r in role)
    except ValueError as exc:
        raise typer.BadParameter(
            "roles are source, recipient, ig or admin", param_hint="--role"
        ) from exc
    store, config = _store_and_config()
    stored = store.add_system(system_id, name or system_id, roles, utcnow(), config)
    console.print(
        f"API key for {system_id} ({', '.join(sorted(roles))}), shown once: keep it safe.\n{stored}",
        soft_wrap=True,
    )


@app.command("list")
def keys_list(
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line")] = False,
) -> None:
    """Every key: systems.yaml's and the stored ones, with roles and whether revoked (never the
    key: the first 8 hex digits of its SHA-256)."""
    import json

    store, config = _store_and_config()
    stored = store.list_keys()
    known = {k.key_sha256_prefix for k in stored}
    rows: list[dict[str, str | list[str] | None]] = [
        {
            "system": s.id,
            "name": s.name,
            "roles": sorted(r.value for r in s.roles),
            "key": s.api_key_sha256[:8],
            "kept_in": "systems.yaml",
            "created": None,
            "revoked": None,
        }
        for s in config.systems
        if s.api_key_sha256 and s.api_key_sha256[:8] not in known
    ]
    rows += [
        {
            "system": k.system_id,
            "name": k.name,
            "roles": sorted(r.value for r in k.roles),
            "key": k.key_sha256_prefix,
            "kept_in": "database",
            "created": k.created_at.isoformat(timespec="seconds"),
            "revoked": k.revoked_at.isoformat(timespec="seconds") if k.revoked_at else None,
        }
        for k in stored
    ]
    if as_json:
        for row in rows:
            print(json.dumps(row))
        return
    print_table(
        f"API keys ({len(rows)})",
        ("system", "name", "roles", "key sha256", "kept in", "created", "revoked"),
        [
            (
                str(r["system"]),
                str(r["name"]),
                ", ".join(r["roles"] or []),
                f"{r['key']}…",
                str(r["kept_in"]),
                str(r["created"] or "-"),
                str(r["revoked"] or "-"),
            )
            for r in rows
        ],
    )


@app.command("rotate")
def keys_rotate(system_id: SystemId) -> None:
    """Revoke every key of a system (its systems.yaml key too) and print a new one, once."""
    store, config = _store_and_config()
    key = store.rotate(config, system_id, utcnow())
    console.print(
        f"New API key for {system_id}, shown once (earlier keys no longer work):\n{key}",
        soft_wrap=True,
    )


@app.command("revoke")
def keys_revoke(system_id: SystemId) -> None:
    """Revoke every key of a system (its systems.yaml key too): its calls get 401 within seconds.
    `hub keys rotate` gives it a new one."""
    from hub.access.keys import KeyProblem

    store, config = _store_and_config()
    if config.system(system_id) is None and not any(
        k.system_id == system_id for k in store.list_keys()
    ):
        raise KeyProblem(f"no system {system_id!r} in systems.yaml or the key table")
    store.revoke(config, system_id, utcnow())
    console.print(f"Every key of {system_id} is revoked: its calls are refused (401).")


@app.command("secret")
def keys_secret() -> None:
    """Print a new random secret (256 bits, hex) for HUB_PSEUDONYM_KEY or HUB_RECORD_SIGNING_KEY."""
    from hub.secrets import random_secret

    print(random_secret())


@app.command("env")
def keys_env() -> None:
    """Print a new set of every secret a production hub needs, as KEY=value lines for a .env
    file (docker compose) or `set -a; . ./.env` (the signing key is multi-line, double-quoted)."""
    from hub.audit.signing import generate_private_pem
    from hub.secrets import SECRET_SETTINGS

    for spec in SECRET_SETTINGS:
        print(f"{spec.env}={spec.generate()}")
    print(f'HUB_AUDIT_SIGNING_KEY="{generate_private_pem().decode().strip()}"')


@app.command("signing")
def keys_signing(
    out: Annotated[
        Path,
        typer.Option(help="Directory to write audit-signing-key.pem (0600) and the public key"),
    ],
) -> None:
    """Make the Ed25519 key pair that signs audit checkpoints and purge anchors."""
    import os

    from hub.audit.signing import generate_private_pem, load_private, public_pem
    from hub.secrets import PUBLIC_KEY_FILE, SIGNING_KEY_FILE

    out.mkdir(parents=True, exist_ok=True)
    private, public = out / SIGNING_KEY_FILE, out / PUBLIC_KEY_FILE
    if private.exists():
        err.print(f"{private} exists already: keep it, or move it away first")
        raise typer.Exit(1)
    pem = generate_private_pem()
    fd = os.open(private, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(pem)
    public.write_bytes(public_pem(load_private(pem, str(private)).public_key()))
    console.print(
        f"HUB_AUDIT_SIGNING_KEY_FILE={private.resolve()}\n"
        f"HUB_AUDIT_PUBLIC_KEY_FILE={public.resolve()}",
        soft_wrap=True,
    )
