"""What a read of contracts records beyond its rows: deletions (a read too) and the passes that saw them."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from store.tables import contracts, utcnow


def mark_deleted(conn: Connection, composite_ids: Iterable[str], read_at: datetime) -> int:
    """Mark contracts deleted upstream, as seen by a read begun at `read_at`; returns how many were marked.

    A deletion is a read like any other and takes part in "the newer read wins" both ways: it is not
    applied over a row stored from a read begun later, and it stamps `read_at`, so an older read
    committed after it (a full pass's page read before the deletion) cannot bring the contract back.
    """
    ids, marked = list(composite_ids), 0
    for start in range(0, len(ids), 500):
        marked += conn.execute(
            contracts.update()
            .where(contracts.c.composite_id.in_(ids[start:start + 500]), contracts.c.deleted_at.is_(None),
                   sa.or_(contracts.c.read_at.is_(None), contracts.c.read_at <= read_at))
            .values(deleted_at=utcnow(), read_at=read_at)
        ).rowcount or 0
    return marked


def mark_seen(conn: Connection, ids: list[str], pass_id: str) -> None:
    """Note that a pass read these contracts, whichever read's data their rows keep.

    Apart from the upsert: a row a newer read has written keeps that read's data, but the pass did see
    the contract, and must not take it for a deletion candidate (sync_passes.vanished).
    """
    for start in range(0, len(ids), 500):
        conn.execute(contracts.update().where(contracts.c.id.in_(ids[start:start + 500]))
                     .values(seen_in_pass=pass_id))
