"""The sync's own state: which pass is under way, where it is, and the watermark of the last complete one.

The design, and why: docs/design/sync.md (section `store/sync_passes.py`).
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from store.contract_reads import mark_deleted
from store.engine import database_now
from store.tables import contracts, sync_state, utcnow

STATE_NAME = "contracts"


@dataclass(frozen=True)
class Pass:
    id: str
    started_at: datetime
    since: datetime | None  # None: read everything
    full: bool
    next_page: int
    page_total: int | None
    resumed: bool
    page_size: int  # fixed for the pass: resuming with another size would skip or repeat contracts


def begin_or_resume(engine: Engine, *, full_refresh: bool, overlap: timedelta, page_size: int) -> Pass:
    """Resume the pass a killed run left under way (with its page size), or begin one from the watermark."""
    try:
        return _begin_or_resume(engine, full_refresh=full_refresh, overlap=overlap, page_size=page_size)
    except sa.exc.IntegrityError:  # two first runs at once: the other inserted the state row after our read
        return _begin_or_resume(engine, full_refresh=full_refresh, overlap=overlap, page_size=page_size)


def _begin_or_resume(engine: Engine, *, full_refresh: bool, overlap: timedelta, page_size: int) -> Pass:
    with engine.begin() as conn:
        row = conn.execute(sa.select(sync_state).where(sync_state.c.name == STATE_NAME)).first()
        # A pass under way is resumed unless a full refresh is asked for and that pass is incremental.
        if row is not None and row.pass_id and (row.pass_full or not full_refresh):
            if row.page_size is None:  # begun by a version that did not keep it: re-read from page 1
                return Pass(row.pass_id, row.pass_started_at, row.pass_since, row.pass_full, 1, None,
                            resumed=True, page_size=page_size)
            return Pass(row.pass_id, row.pass_started_at, row.pass_since, row.pass_full, row.next_page,
                        row.page_total, resumed=True, page_size=row.page_size)
        watermark = row.watermark if row is not None else None
        since = None if full_refresh or watermark is None else watermark - overlap
        new = Pass(uuid.uuid4().hex, utcnow(), since, full_refresh or watermark is None, 1, None, resumed=False,
                   page_size=page_size)
        values = {
            "pass_id": new.id, "pass_started_at": new.started_at, "pass_since": new.since,
            "pass_full": new.full, "next_page": 1, "page_total": None, "page_size": page_size,
            "updated_at": utcnow(),
        }
        if row is None:
            conn.execute(sync_state.insert().values(name=STATE_NAME, watermark=None, **values))
        else:
            conn.execute(sync_state.update().where(sync_state.c.name == STATE_NAME).values(**values))
        return new


def next_page_after(page: int, limit: int, total: int, previous_total: int | None, returned: int) -> int | None:
    """The page to read after `page` (which held `returned` records of `total`), or None when done.

    The window a pass pages through only shrinks (see sync.sync_contracts_page), and it shrinks
    visibly: when `total` fell by d since the previous page, up to d contracts not yet read slid
    back from this page onto the pages before it, between the two reads. Stepping back enough pages
    to cover d places reads them (re-reading the rest is harmless: rows are upserted). This comes
    before the end-of-list test: a short last page may be short precisely because of that slide.
    """
    if previous_total is not None and total < previous_total:
        return max(1, page - math.ceil((previous_total - total) / limit))
    if returned == 0 or returned < limit or page * limit >= total:
        return None
    return page + 1


def checkpoint(conn: Connection, pass_: Pass, *, next_page: int, page_total: int) -> None:
    """Record the position of the pass; call inside the transaction that wrote the page."""
    conn.execute(
        sync_state.update()
        .where(sync_state.c.name == STATE_NAME, sync_state.c.pass_id == pass_.id)
        .values(next_page=next_page, page_total=page_total, page_size=pass_.page_size, updated_at=utcnow())
    )


def vanished(engine: Engine, pass_: Pass, present_ids: set[str] | None = None) -> list[str]:
    """Composite ids of live stored contracts a full pass did not see (or not in a census of upstream ids)."""
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(contracts.c.id, contracts.c.composite_id, contracts.c.seen_in_pass)
            .where(contracts.c.deleted_at.is_(None))
        ).all()
    if present_ids is None:
        return sorted(r.composite_id for r in rows if r.seen_in_pass != pass_.id)
    return sorted(r.composite_id for r in rows if r.id not in present_ids)


def finish(engine: Engine, pass_: Pass, deleted_ids: Sequence[str] = (),
           deletions_read_at: datetime | None = None) -> int:
    """Close the pass: move the watermark to its start, and mark the confirmed-deleted contracts.

    `deletions_read_at` is when the checks that confirmed them began (store.mark_deleted: a
    deletion is a read, and a newer read of a contract wins over it). Only the pass under way can
    close: a stale one (its pass_id replaced meanwhile) changes nothing. Returns how many contracts
    were marked deleted.
    """
    with engine.begin() as conn:
        closed = conn.execute(
            sync_state.update()
            .where(sync_state.c.name == STATE_NAME, sync_state.c.pass_id == pass_.id)
            .values(watermark=pass_.started_at, pass_id=None, next_page=1, page_total=None, page_size=None,
                    updated_at=utcnow())
        ).rowcount
        if closed != 1 or not deleted_ids:
            return 0
        return mark_deleted(conn, deleted_ids, deletions_read_at or database_now(conn))


def read(engine: Engine) -> dict | None:
    with engine.connect() as conn:
        row = conn.execute(sa.select(sync_state).where(sync_state.c.name == STATE_NAME)).first()
        return dict(row._mapping) if row is not None else None
