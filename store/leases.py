"""One writer per upstream record at a time, across runs and workers sharing a database.

SpotDraft has no create-if-absent: a look-up followed by a POST is two steps, and two runs (two
create runs on the same records, a create run and a review's retry) that both look up before either
POSTs would both create. A lease row, taken with one atomic statement in the database the runs
share, makes the look-up, the create, the recording and the send of one record a single writer's
work. A lease lapses after `LEASE_SECONDS`, so a run killed while holding one delays the record's
next writer, never blocks it.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from store.engine import database_now
from store.tables import record_leases

# Longer than one record's worst case (look-up, create and send, each within SPOTDRAFT_RETRY_WINDOW).
LEASE_SECONDS = 15 * 60


def holder_id() -> str:
    """This flow run's id, or a fresh id outside Prefect."""
    from store.dead_lettering import current_flow_run

    return current_flow_run()[1] or f"process-{uuid.uuid4()}"


def acquire(engine: Engine, key: str, holder: str) -> bool:
    """Take the lease on `key` for `holder` if nobody holds it (or the holder's lease lapsed).

    Lapses are judged by the database's clock (store.database_now): a worker whose own clock runs
    ahead must not take the leases of others' live runs.
    """
    with engine.begin() as conn:
        now = database_now(conn)
        until = now + timedelta(seconds=LEASE_SECONDS)
        taken = conn.execute(
            record_leases.update()
            .where(record_leases.c.key == key,
                   sa.or_(record_leases.c.holder == holder, record_leases.c.expires_at < now))
            .values(holder=holder, expires_at=until)
        ).rowcount
        if taken:
            return True
    try:
        with engine.begin() as conn:
            conn.execute(record_leases.insert().values(key=key, holder=holder, expires_at=until))
        return True
    except sa.exc.IntegrityError:  # held by another writer, or taken between the two statements
        return False


def release(engine: Engine, key: str, holder: str) -> None:
    with engine.begin() as conn:
        conn.execute(record_leases.delete().where(record_leases.c.key == key, record_leases.c.holder == holder))


@contextlib.contextmanager
def lease(engine: Engine, key: str, holder: str) -> Iterator[bool]:
    """`with lease(...) as held:`: whether this writer holds `key` for the block (released after)."""
    held = acquire(engine, key, holder)
    try:
        yield held
    finally:
        if held:
            release(engine, key, holder)


def create_key(external_id: str) -> str:
    return f"create:{external_id}"


def describe(engine: Engine, key: str) -> str:
    """Who holds `key` and until when, for a message (or that nobody does any more)."""
    with engine.connect() as conn:
        row = conn.execute(sa.select(record_leases).where(record_leases.c.key == key)).first()
    if row is None:
        return "its lease was just released"
    return f"flow run {row.holder}, lease until {row.expires_at:%Y-%m-%d %H:%M} UTC"
