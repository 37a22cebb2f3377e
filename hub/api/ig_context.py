"""What the IG endpoints and the dashboard need, put on `app.state.ig` by the composition root."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request
from sqlalchemy import Engine

from hub.access.keys import KeyStore
from hub.audit.checkpoint import CheckpointStore
from hub.audit.subject_access import SubjectAccess


@dataclass(frozen=True)
class IgContext:
    engine: Engine
    access: SubjectAccess
    checkpoints: CheckpointStore
    keys: KeyStore


def ig_context(request: Request) -> IgContext:
    ctx = request.app.state.ig
    assert isinstance(ctx, IgContext)
    return ctx
