"""Checkpoints: signed statements of the chain head (seq, hash, count, time).

`published` checkpoints are exported for safekeeping elsewhere (`hub audit checkpoint --out`)
and detect truncation later (`hub audit verify --checkpoint FILE`); `purge` checkpoints are
the anchors retention leaves behind: verification starts from the newest one.

Both are signed with the hub's Ed25519 private key and verified with its public key alone
(hub/audit/signing.py). Checkpoints signed before that, with the shared HMAC key, are refused.
"""

from __future__ import annotations

import json
from datetime import datetime
from enum import StrEnum
from pathlib import Path

from pydantic import BaseModel, ConfigDict, ValidationError
from sqlalchemy import Connection, Engine, Table, func, insert, select

from hub.audit.chain import as_utc, canonical_time
from hub.audit.ledger import AUDIT, lock_head
from hub.audit.signing import Signer, Verifier, is_legacy_hmac
from hub.db.tables import AuditCheckpoint
from hub.errors import HubError

CHECKPOINTS: Table = AuditCheckpoint.__table__  # type: ignore[attr-defined]


class CheckpointError(HubError):
    code = "bad_checkpoint"


class CheckpointKind(StrEnum):
    PUBLISHED = "published"
    PURGE = "purge"


class Checkpoint(BaseModel):
    model_config = ConfigDict(frozen=True)

    kind: CheckpointKind
    head_seq: int
    head_hash: str
    row_count: int
    created_at: datetime
    signature: str

    @staticmethod
    def statement(
        kind: CheckpointKind, head_seq: int, head_hash: str, row_count: int, at: datetime
    ) -> str:
        return "\x1f".join(
            ("tell-it-once/audit-checkpoint", kind.value, str(head_seq), head_hash,
             str(row_count), canonical_time(at))
        )  # fmt: skip

    def to_file(self, path: Path) -> None:
        path.write_text(self.model_dump_json(indent=2) + "\n")

    @classmethod
    def from_file(cls, path: Path) -> Checkpoint:
        try:
            return cls.model_validate(json.loads(path.read_text()))
        except (OSError, ValueError, ValidationError) as exc:
            raise CheckpointError(f"cannot read checkpoint {path}: {exc}") from exc


class CheckpointStore:
    """Checkpoints in the database; signing needs the private key, checking only the public."""

    def __init__(self, engine: Engine, verifier: Verifier, signer: Signer | None = None) -> None:
        self.engine = engine
        self.verifier = verifier
        self.signer = signer

    @classmethod
    def signing(cls, engine: Engine, signer: Signer) -> CheckpointStore:
        return cls(engine, signer.verifier, signer)

    def make(
        self, kind: CheckpointKind, head_seq: int, head_hash: str, row_count: int, at: datetime
    ) -> Checkpoint:
        if self.signer is None:
            raise CheckpointError(
                "signing a checkpoint needs the hub's private key (HUB_AUDIT_SIGNING_KEY_FILE)"
            )
        at = as_utc(at)
        signature = self.signer.sign(Checkpoint.statement(kind, head_seq, head_hash, row_count, at))
        return Checkpoint(
            kind=kind,
            head_seq=head_seq,
            head_hash=head_hash,
            row_count=row_count,
            created_at=at,
            signature=signature,
        )

    def signature_problem(self, cp: Checkpoint) -> str | None:
        """None when the checkpoint is signed by this public key; else why not, in words."""
        if is_legacy_hmac(cp.signature):
            return (
                "it is signed with the old shared HMAC key (before Ed25519 signatures), whose "
                "default was published: it proves nothing; make a new one with "
                "`hub audit checkpoint --out FILE`"
            )
        signer_id = cp.signature.split(":")[1] if cp.signature.count(":") >= 2 else "?"
        if signer_id != self.verifier.key_id:
            return (
                f"it is signed by key {signer_id}, not by this public key "
                f"({self.verifier.key_id}; `hub audit public-key` prints the hub's)"
            )
        statement = Checkpoint.statement(
            cp.kind, cp.head_seq, cp.head_hash, cp.row_count, as_utc(cp.created_at)
        )
        if not self.verifier.verify(statement, cp.signature):
            return "its signature does not match its content (altered or forged)"
        return None

    def signature_valid(self, cp: Checkpoint) -> bool:
        return self.signature_problem(cp) is None

    def record(self, conn: Connection, cp: Checkpoint) -> None:
        conn.execute(insert(CHECKPOINTS).values(**cp.model_dump()))

    def publish(self, at: datetime) -> Checkpoint:
        """Sign the current head (under the writers' lock, so it is a consistent moment)."""
        with self.engine.begin() as conn:
            head_seq, head_hash = lock_head(conn)
            count = int(conn.execute(select(func.count()).select_from(AUDIT)).scalar_one())
            cp = self.make(CheckpointKind.PUBLISHED, head_seq, head_hash, count, at)
            self.record(conn, cp)
        return cp

    def latest_purge(self) -> Checkpoint | None:
        stmt = (
            select(CHECKPOINTS)
            .where(CHECKPOINTS.c.kind == CheckpointKind.PURGE.value)
            .order_by(CHECKPOINTS.c.head_seq.desc())
            .limit(1)
        )
        with self.engine.connect() as conn:
            row = conn.execute(stmt).first()
        if row is None:
            return None
        m = row._mapping
        return Checkpoint(
            kind=CheckpointKind(m["kind"]),
            head_seq=m["head_seq"],
            head_hash=m["head_hash"],
            row_count=m["row_count"],
            created_at=as_utc(m["created_at"]),
            signature=m["signature"],
        )
