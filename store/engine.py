"""One engine per database URL per process, its schema brought up to date on first use; the database's clock.

Any database SQLAlchemy supports works; SQLite (the default) and PostgreSQL are tested.
"""

from __future__ import annotations

import threading
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from store.migrations import upgrade_schema
from store.tables import utcnow

_engines: dict[str, Engine] = {}
_engines_lock = threading.Lock()


def engine_for(database_url: str) -> Engine:
    """One engine per URL per process, its database brought to this release's schema on first use.

    The upgrade (store.migrations) is serialised across processes and costs one version read when
    there is nothing to do; a database a newer release upgraded raises SchemaTooNew instead.
    """
    with _engines_lock:
        if database_url not in _engines:
            _engines[database_url] = _upgraded_engine(database_url)
        return _engines[database_url]


def dispose_engine(database_url: str) -> None:
    """Close the pooled connections of the URL's engine, if this process made one (it reconnects on use)."""
    with _engines_lock:
        engine = _engines.get(database_url)
    if engine is not None:
        engine.dispose()


def _upgraded_engine(database_url: str) -> Engine:
    engine = sa.create_engine(database_url, pool_pre_ping=True)
    if engine.dialect.name == "sqlite":

        @sa.event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record):  # durable per-page commits, readers not blocked
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA busy_timeout=30000")  # first: switching to WAL may wait for another process
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=FULL")
            cursor.close()

    upgrade_schema(engine)
    return engine


def database_now(bind: Engine | Connection) -> datetime:
    """Now by the database's clock, naive UTC: for times that runs on different workers compare.

    Which read is newer (`contracts.read_at`) and whether a lease or a claim has lapsed are decided
    between workers; their own clocks may disagree by minutes, the database they share has one.
    PostgreSQL is asked (`clock_timestamp()`, not the transaction's start). A SQLite file is only
    shared by processes of one host, whose clock is the database's. Other dialects: this process's clock.
    """
    if bind.dialect.name != "postgresql":
        return utcnow()
    query = sa.text("SELECT timezone('UTC', clock_timestamp())")
    if isinstance(bind, Connection):
        return bind.execute(query).scalar_one()
    with bind.connect() as conn:
        return conn.execute(query).scalar_one()
