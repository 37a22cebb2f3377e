"""`hub audit verify`: recompute the chain and name the first row that breaks it.

- a row edited: its recomputed hash differs from the stored row_hash;
- a row deleted: the next row's prev_hash does not match (and seq jumps);
- a row inserted or rows reordered: prev_hash or the recomputed hash does not match;
- the tail truncated: the chain head (and any published checkpoint) names a row that is gone;
- a row outside the chain (seq <= 0, at or below the purge anchor, past the chain head): named,
  never skipped (the hub's writer never leaves one there).
"""

from __future__ import annotations

import hashlib
import itertools
import multiprocessing
import os
import time
from collections.abc import Iterable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict
from sqlalchemy import Engine, func, select

from hub.audit.bounds import outside_chain
from hub.audit.chain import GENESIS
from hub.audit.checkpoint import Checkpoint, CheckpointStore
from hub.audit.ledger import AUDIT, HEAD, HEAD_ID, ChainRow, stream_rows
from hub.db.engine import make_engine

PARALLEL_FROM = 200_000  # rows; below this, starting worker processes costs more than it saves
MAX_WORKERS = 4


class Break(BaseModel):
    model_config = ConfigDict(frozen=True)

    seq: int | None
    problem: str


class VerifyResult(BaseModel):
    model_config = ConfigDict(frozen=True)

    ok: bool
    rows_checked: int
    anchor_seq: int
    head_seq: int
    head_hash: str
    seconds: float
    first_break: Break | None = None

    @property
    def rows_per_second(self) -> float:
        return self.rows_checked / self.seconds if self.seconds > 0 else float("inf")


def link_break(seq: int, stored_prev: str, prev: str, last_seq: int) -> Break | None:
    """Does a row with this seq and prev_hash follow the row (last_seq, prev)?"""
    if stored_prev == prev:
        return None
    if seq != last_seq + 1:
        return Break(
            seq=seq,
            problem=f"rows {last_seq + 1}..{seq - 1} are missing (deleted): row {seq} "
            f"does not follow row {last_seq}",
        )
    return Break(
        seq=seq,
        problem=f"row {seq} does not follow row {last_seq}: its prev_hash does not match "
        "(row inserted, reordered or chain edited)",
    )


def check_rows(
    rows: Iterable[ChainRow], anchor_seq: int, anchor_hash: str
) -> tuple[int, int, str, Break | None]:
    """Walk (seq, canonical form, prev_hash, row_hash) in seq order from an anchor.

    Returns (rows checked, last seq, last hash, first break or None).
    """
    sha256 = hashlib.sha256
    prev, last_seq, n = anchor_hash, anchor_seq, 0
    for seq, form, stored_prev, stored_hash in rows:
        n += 1
        if stored_prev != prev:
            return n, last_seq, prev, link_break(seq, stored_prev, prev, last_seq)
        if sha256((prev + form).encode()).hexdigest() != stored_hash:
            altered = f"row {seq} was altered: its content does not match its hash"
            return n, last_seq, prev, Break(seq=seq, problem=altered)
        prev, last_seq = stored_hash, seq
    return n, last_seq, prev, None


@dataclass(frozen=True)
class RangeResult:
    """One slice of the chain checked on its own: its first row's link is checked by the caller."""

    rows: int
    first: tuple[int, str] | None  # (seq, stored prev_hash) of the first row
    last_seq: int
    last_hash: str
    brk: Break | None


def check_range(url: str, after_seq: int, until_seq: int) -> RangeResult:
    """Check rows after_seq < seq <= until_seq (run in a worker process: its own engine)."""
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            rows = stream_rows(conn, after_seq, until_seq)
            first_row = next(rows, None)
            if first_row is None:
                return RangeResult(0, None, after_seq, "", None)
            seq, _, stored_prev, _ = first_row
            n, last_seq, last_hash, brk = check_rows(
                itertools.chain([first_row], rows), seq - 1, stored_prev
            )
            return RangeResult(n, (seq, stored_prev), last_seq, last_hash, brk)
    finally:
        engine.dispose()


def _check_parallel(
    engine: Engine, anchor_seq: int, anchor_hash: str, head_seq: int, workers: int
) -> tuple[int, int, str, Break | None]:
    """Split (anchor_seq, head_seq] into slices checked in worker processes, then join them."""
    url = engine.url.render_as_string(hide_password=False)
    step = -(-(head_seq - anchor_seq) // workers)
    bounds = [(lo, min(lo + step, head_seq)) for lo in range(anchor_seq, head_seq, step)]
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        results = list(pool.map(check_range, [url] * len(bounds), *zip(*bounds, strict=True)))
    n, last_seq, prev = 0, anchor_seq, anchor_hash
    for r in results:
        if r.first is None:
            continue
        brk = link_break(r.first[0], r.first[1], prev, last_seq)
        if brk is not None:
            return n + 1, last_seq, prev, brk
        n += r.rows
        if r.brk is not None:
            return n, r.last_seq, r.last_hash, r.brk
        last_seq, prev = r.last_seq, r.last_hash
    return n, last_seq, prev, None


def verify_chain(
    engine: Engine,
    checkpoints: CheckpointStore,
    published: Checkpoint | None = None,
    workers: int | None = None,
) -> VerifyResult:
    """Verify from the signed purge anchor (or genesis) to the chain head read at the start
    (rows appended meanwhile are left for next time); then compare an optional published
    checkpoint (truncation). Large chains are checked in slices by `workers` processes."""
    started = time.perf_counter()
    anchor = checkpoints.latest_purge()
    anchor_seq, anchor_hash = (anchor.head_seq, anchor.head_hash) if anchor else (0, GENESIS)

    def result(n: int, seq: int, h: str, brk: Break | None) -> VerifyResult:
        return VerifyResult(
            ok=brk is None,
            rows_checked=n,
            anchor_seq=anchor_seq,
            head_seq=seq,
            head_hash=h,
            seconds=time.perf_counter() - started,
            first_break=brk,
        )

    bad_anchor = checkpoints.signature_problem(anchor) if anchor is not None else None
    if anchor is not None and bad_anchor is not None:
        unsigned = (
            f"the purge anchor at row {anchor.head_seq} is not signed by this hub's audit "
            f"signing key: {bad_anchor}"
        )
        return result(0, anchor_seq, anchor_hash, Break(seq=anchor.head_seq, problem=unsigned))
    with engine.connect() as conn:
        head = conn.execute(
            select(HEAD.c.head_seq, HEAD.c.head_hash).where(HEAD.c.id == HEAD_ID)
        ).first()
        head_seq = int(head[0]) if head is not None else None
        if workers is None:
            workers = min(os.cpu_count() or 1, MAX_WORKERS)
        span = (head_seq or 0) - anchor_seq
        if workers > 1 and span >= PARALLEL_FROM:
            n, seq, h, brk = _check_parallel(
                engine, anchor_seq, anchor_hash, span + anchor_seq, workers
            )
        else:
            rows = stream_rows(conn, anchor_seq, head_seq)
            n, seq, h, brk = check_rows(rows, anchor_seq, anchor_hash)
    if brk is not None:
        return result(n, seq, h, brk)
    outside = rows_outside(engine)
    if outside is not None:
        return result(n, seq, h, outside)
    if head is not None and (int(head[0]), str(head[1])) != (seq, h):
        if int(head[0]) > seq:
            problem = (
                f"the chain head is row {head[0]} but the last row is {seq}: rows "
                f"{seq + 1}..{head[0]} were removed (truncated)"
            )
        else:
            problem = f"the chain head does not match row {seq}: the head was altered"
        return result(n, seq, h, Break(seq=seq + 1 if int(head[0]) > seq else seq, problem=problem))
    if published is not None and published.head_seq > anchor_seq:
        brk = _against_published(published, seq, h, engine)
    return result(n, seq, h, brk)


SHOWN_OUTSIDE = 10


def rows_outside(engine: Engine) -> Break | None:
    """Rows that are not part of the chain: seq <= 0, at or below the purge anchor, or past the
    chain head. The hub's writer never leaves one; each was put there by something else."""
    stmt = select(AUDIT.c.seq).where(outside_chain()).order_by(AUDIT.c.seq)
    with engine.connect() as conn:
        seqs = [int(s) for s in conn.execute(stmt.limit(SHOWN_OUTSIDE + 1)).scalars()]
        if not seqs:
            return None
        total = int(
            conn.execute(
                select(func.count()).select_from(AUDIT).where(outside_chain())
            ).scalar_one()
        )
        head = conn.execute(select(HEAD.c.head_seq).where(HEAD.c.id == HEAD_ID)).scalar()
    head_seq = int(head) if head is not None else 0
    low = [s for s in seqs if s <= head_seq]
    high = [s for s in seqs if s > head_seq]
    parts = []
    if low:
        parts.append(f"{', '.join(map(str, low))} (at or below seq 0 or the purge anchor)")
    if high:
        parts.append(f"{', '.join(map(str, high))} (past the chain head, row {head_seq})")
    more = f" and {total - len(seqs[:SHOWN_OUTSIDE])} more" if total > SHOWN_OUTSIDE else ""
    return Break(
        seq=seqs[0],
        problem=f"{total} row(s) outside the chain: rows {'; '.join(parts)}{more}. The hub "
        "never writes a row there: they were inserted, and are not shown as audit",
    )


def _against_published(published: Checkpoint, seq: int, h: str, engine: Engine) -> Break | None:
    if published.head_seq > seq:
        return Break(
            seq=seq + 1,
            problem=f"the checkpoint of {published.created_at:%Y-%m-%d %H:%M} names row "
            f"{published.head_seq} but the chain ends at row {seq}: the tail was truncated",
        )
    if published.head_seq == seq:
        if published.head_hash != h:
            return Break(
                seq=seq, problem=f"row {seq} does not match the published checkpoint's hash"
            )
        return None
    with engine.connect() as conn:
        stored = conn.execute(
            select(AUDIT.c.row_hash).where(AUDIT.c.seq == published.head_seq)
        ).scalar_one_or_none()
    if stored is None:
        return Break(
            seq=published.head_seq,
            problem=f"row {published.head_seq} named by the published checkpoint is missing",
        )
    if stored != published.head_hash:
        return Break(
            seq=published.head_seq,
            problem=f"row {published.head_seq} does not match the published checkpoint's hash",
        )
    return None
