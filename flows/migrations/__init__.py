"""The sync database's schema history (Alembic revisions in versions/) and how a database is brought up to it.

`upgrade_schema(engine)` runs when a process first uses a database (flows.store.engine_for) and by hand
(`python -m flows.migrate`). It costs one version read when the database is already at this release's
head; otherwise it upgrades under a lock that serialises every process upgrading the same database:

- PostgreSQL: `pg_advisory_xact_lock` taken first in the transaction that runs every revision. A second
  process waits there, then reads the version the first one committed and has nothing to do. PostgreSQL's
  DDL is transactional, so a failed upgrade leaves nothing half done. (Two processes that created the
  tables at once could also collide in pg_type, a unique violation; one at a time they cannot.)
- SQLite: `BEGIN IMMEDIATE` on the connection Alembic uses: the database's one write lock, taken before
  the version is read, held until the upgrade commits. A second process's BEGIN IMMEDIATE waits for it
  (busy_timeout) and then finds the version written. SQLite's DDL is transactional too. A lock file beside
  the database would serialise only processes that agree to use it, and not a database on another path.
- Other databases run the upgrade in one transaction without a cross-process lock.

Databases made before Alembic (releases up to a5da849) have the tables but no version: the baseline
revision adopts them (see versions/0001_baseline.py), so they need no stamping by hand.

A database whose version this release does not know was upgraded by a newer release: SchemaTooNew is
raised before anything is written, rather than Alembic's "Can't locate revision".

The version lives in its own table, spotdraft_alembic_version, so a database shared with another
application's Alembic history (alembic_version) keeps both apart.
"""

from __future__ import annotations

import contextlib
import functools
import logging
from collections.abc import Iterator
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection, Engine

__all__ = ["VERSION_TABLE", "SchemaTooNew", "alembic_config", "current_revisions", "head_revisions",
           "known_revisions", "refuse_too_new", "upgrade_schema"]

VERSION_TABLE = "spotdraft_alembic_version"
SCRIPT_LOCATION = Path(__file__).resolve().parent  # inside the package: works installed, with no alembic.ini

# Any constant would do: the same key in every process is what makes them wait for one another.
_PG_LOCK_KEY = int.from_bytes(b"SpotDrft", "big")

log = logging.getLogger(__name__)


class SchemaTooNew(RuntimeError):
    """The database was upgraded by a newer release of prefect-spotdraft than this one."""


def alembic_config(connection: Connection | None = None) -> Config:
    """Alembic's configuration for our scripts, built in code; env.py runs on `connection` when given."""
    config = Config()
    config.set_main_option("script_location", str(SCRIPT_LOCATION))
    config.set_main_option("file_template", "%%(rev)s_%%(slug)s")  # 0002_add_foo.py: the files sort in order
    config.attributes["connection"] = connection
    return config


@functools.cache
def _scripts() -> ScriptDirectory:
    return ScriptDirectory.from_config(alembic_config())


def head_revisions() -> tuple[str, ...]:
    """The revision(s) this release's schema is at."""
    return tuple(sorted(_scripts().get_heads()))


def known_revisions() -> set[str]:
    """Every revision this release has."""
    return {script.revision for script in _scripts().walk_revisions()}


def current_revisions(connection: Connection) -> tuple[str, ...]:
    """The revision(s) the database is at: () when it has no version (empty, or made before Alembic)."""
    context = MigrationContext.configure(connection, opts={"version_table": VERSION_TABLE})
    return tuple(sorted(context.get_current_heads()))


def refuse_too_new(current: tuple[str, ...]) -> None:
    """Raise SchemaTooNew when the database's revisions (`current_revisions`) include one this release does not know."""
    known = known_revisions()
    unknown = [revision for revision in current if revision not in known]
    if unknown:
        raise SchemaTooNew(
            f"the database's schema is at revision {', '.join(unknown)}, which this release of prefect-spotdraft "
            f"does not know (its newest is {', '.join(head_revisions())}): a newer release upgraded it, and this "
            "release cannot use it. Run that release (or newer) against this database; nothing was changed.")


def upgrade_schema(engine: Engine) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Bring the database to this release's schema. Returns its revisions (before, after).

    Raises SchemaTooNew, before anything is written, when a newer release has upgraded it.
    """
    heads = head_revisions()
    with engine.connect() as conn:
        current = current_revisions(conn)
    refuse_too_new(current)
    if current == heads:
        return current, current
    with _exclusive(engine) as conn:
        current = current_revisions(conn)  # another process may have upgraded it while we waited
        refuse_too_new(current)
        if current != heads:
            command.upgrade(alembic_config(conn), "heads")
    if current != heads:
        log.info("Database schema upgraded from %s to %s", ", ".join(current) or "no version", ", ".join(heads))
    return current, heads


@contextlib.contextmanager
def _exclusive(engine: Engine) -> Iterator[Connection]:
    """A connection in a transaction that no other process upgrading this database is in; committed at the end."""
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK_KEY})
            yield conn
    elif engine.dialect.name == "sqlite":
        # pysqlite opens transactions itself, as plain BEGIN and only before writes; in AUTOCOMMIT it
        # leaves them to us, so the transaction is ours from its first statement, and a write one.
        with engine.connect() as conn:
            conn.execution_options(isolation_level="AUTOCOMMIT")
            conn.exec_driver_sql("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.exec_driver_sql("ROLLBACK")
                raise
            conn.exec_driver_sql("COMMIT")
    else:
        with engine.begin() as conn:
            yield conn
