"""Readiness checks beyond the broker: the database accepts a write."""

from __future__ import annotations

from sqlalchemy import Engine, text


def database_writable(engine: Engine) -> bool:
    """Open a write transaction, touch nothing that matters, roll back."""
    try:
        with engine.connect() as conn:
            conn.execute(text("UPDATE audit_chain_head SET head_seq = head_seq WHERE id = -1"))
            conn.rollback()
        return True
    except Exception:
        return False
