"""One writer per upstream record at a time, across runs and workers sharing a database.

SpotDraft has no create-if-absent: a look-up followed by a POST is two steps, and two runs (two
create runs on the same records, a create run and a review's retry) that both look up before either
POSTs would both create. A lease row, taken with one atomic statement in the database the runs
share, makes the look-up, the create, the recording and the send of one record a single writer's
work. A lease lapses after `LEASE_SECONDS` (or the seconds its taker gives), so a run killed while holding
one delays the record's next writer, never blocks it. `kept(...)` renews a short lease while its holder
lives: a holder that dies is replaced within that short time, one that runs long keeps it.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import uuid
from collections.abc import Iterator
from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from store.engine import database_now
from store.tables import record_leases

# Longer than one record's worst case (look-up, create and send, each within SPOTDRAFT_RETRY_WINDOW).
LEASE_SECONDS = 15 * 60

log = logging.getLogger(__name__)


def holder_id() -> str:
    """This flow run's id, or a fresh id outside Prefect."""
    from store.dead_lettering import current_flow_run

    return current_flow_run()[1] or f"process-{uuid.uuid4()}"


def acquire(engine: Engine, key: str, holder: str, seconds: float | None = None) -> bool:
    """Take the lease on `key` for `holder` for `seconds` (LEASE_SECONDS by default) if nobody holds it
    (or the holder's lease lapsed); the holder's own lease is renewed.

    Lapses are judged by the database's clock (store.database_now): a worker whose own clock runs
    ahead must not take the leases of others' live runs.
    """
    with engine.begin() as conn:
        now = database_now(conn)
        until = now + timedelta(seconds=LEASE_SECONDS if seconds is None else seconds)
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


def lapsed_holder(engine: Engine, key: str) -> str | None:
    """Who held `key` until their lease lapsed unreleased (a holder that died, or stalled), else None."""
    with engine.connect() as conn:
        return conn.execute(sa.select(record_leases.c.holder).where(
            record_leases.c.key == key, record_leases.c.expires_at < database_now(conn))).scalar()


def lapsed_keys(engine: Engine, prefix: str) -> list[str]:
    """The keys starting with `prefix` whose holders let their leases lapse unreleased."""
    with engine.connect() as conn:
        return list(conn.execute(sa.select(record_leases.c.key).where(
            record_leases.c.key.startswith(prefix, autoescape=True),
            record_leases.c.expires_at < database_now(conn))).scalars())


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


@contextlib.contextmanager
def kept(engine: Engine, key: str, holder: str, seconds: float) -> Iterator[None]:
    """Renew `holder`'s lease on `key` (taken already) every third of `seconds` until the block ends.

    A thread does it, so a holder busy in one long call keeps its lease; a holder that dies stops renewing
    and its lease lapses `seconds` later. A renewal that fails (the database away for a moment) is tried
    again at the next tick; one that finds the lease taken by another (ours lapsed) stops.
    """
    stop = threading.Event()

    def renew() -> None:
        while not stop.wait(seconds / 3):
            try:
                if not acquire(engine, key, holder, seconds):
                    log.warning("the lease on %s lapsed and was taken by another holder", key)
                    return
            except sa.exc.SQLAlchemyError as error:
                log.warning("could not renew the lease on %s (%s); trying again", key, type(error).__name__)

    renewer = threading.Thread(target=renew, name=f"lease {key}", daemon=True)
    renewer.start()
    try:
        yield
    finally:
        stop.set()
        renewer.join()


def create_key(external_id: str) -> str:
    return f"create:{external_id}"


def describe(engine: Engine, key: str) -> str:
    """Who holds `key` and until when, for a message (or that nobody does any more)."""
    with engine.connect() as conn:
        row = conn.execute(sa.select(record_leases).where(record_leases.c.key == key)).first()
    if row is None:
        return "its lease was just released"
    return f"flow run {row.holder}, lease until {row.expires_at:%Y-%m-%d %H:%M} UTC"
