"""The sync database's schema history (Alembic revisions in versions/) and how a database is brought up to it.

The design, and why: docs/design/storage.md (section `store/migrations/__init__.py`).
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
