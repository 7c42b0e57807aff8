"""Upgrade a sync database's schema by hand, see where it is, or write a new revision.

    python -m flows.migrate [DATABASE_URL]                 upgrade to this release's schema (make migrate)
    python -m flows.migrate upgrade --sql [DATABASE_URL]   print the SQL for an empty database instead
    python -m flows.migrate current [DATABASE_URL]         the database's revision and this release's
    python -m flows.migrate revision -m MESSAGE [--autogenerate] [DATABASE_URL]
                                                           a new file in flows/migrations/versions/

DATABASE_URL defaults to $DATABASE_URL, then to the flows' own default, sqlite:///spotdraft.db. The flows upgrade their
database themselves when they start; this is for doing it ahead of a deployment, or checking. A
password in the URL is never printed. `revision --autogenerate` compares flows.store's tables with
a database at the newest revision: without a URL, a temporary SQLite one (which does not compare
comments: give a PostgreSQL URL when a change touches them).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

import sqlalchemy as sa
from alembic import command

from flows.common import DEFAULT_DATABASE_URL, shown_database_url
from flows.migrations import (
    SchemaTooNew,
    alembic_config,
    current_revisions,
    head_revisions,
    known_revisions,
    upgrade_schema,
)

COMMANDS = ("upgrade", "current", "revision")


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    name = argv.pop(0) if argv and argv[0] in COMMANDS else "upgrade"
    parser = argparse.ArgumentParser(prog=f"python -m flows.migrate {name}", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    # The URL may also come from $DATABASE_URL (as `make migrate DATABASE_URL=...` passes it, unquoted by no shell).
    default_url = os.environ.get("DATABASE_URL") or DEFAULT_DATABASE_URL
    parser.add_argument("database_url", nargs="?", default=None if name == "revision" else default_url)
    if name == "upgrade":
        parser.add_argument("--sql", action="store_true", help="print the SQL instead of running it")
    if name == "revision":
        parser.add_argument("-m", "--message", required=True)
        parser.add_argument("--autogenerate", action="store_true")
    args = parser.parse_args(argv)
    try:
        return {"upgrade": _upgrade, "current": _current, "revision": _revision}[name](args)
    except (SchemaTooNew, sa.exc.SQLAlchemyError, RuntimeError) as error:
        print(f"error: {_one_line(error)}", file=sys.stderr)
        return 1


def _upgrade(args: argparse.Namespace) -> int:
    if args.sql:
        config = alembic_config()
        config.attributes["url"] = args.database_url
        command.upgrade(config, "heads", sql=True)
        return 0
    engine = sa.create_engine(args.database_url)
    try:
        before, after = upgrade_schema(engine)
    finally:
        engine.dispose()
    where = _shown(args.database_url)
    if before == after:
        print(f"{where}: already at {_revisions(after)}, nothing to do")
    else:
        print(f"{where}: upgraded from {_revisions(before)} to {_revisions(after)}")
    return 0


def _current(args: argparse.Namespace) -> int:
    engine = sa.create_engine(args.database_url)
    try:
        with engine.connect() as conn:
            current = current_revisions(conn)
    finally:
        engine.dispose()
    heads = head_revisions()
    state = "up to date" if current == heads else f"this release's is {_revisions(heads)}: run the upgrade"
    print(f"{_shown(args.database_url)}: at {_revisions(current)} ({state})")
    return 0


def _revision(args: argparse.Namespace) -> int:
    rev_id = f"{max(int(r) for r in known_revisions() if r.isdigit()) + 1:04d}"  # 0002, 0003, ...: in order
    if not args.autogenerate:
        command.revision(alembic_config(), message=args.message, rev_id=rev_id)
        return 0
    with tempfile.TemporaryDirectory() as scratch:
        url = args.database_url or f"sqlite:///{Path(scratch) / 'head.db'}"
        engine = sa.create_engine(url)
        try:
            upgrade_schema(engine)  # autogenerate compares with a database at the newest revision
            with engine.connect() as conn:
                command.revision(alembic_config(conn), message=args.message, rev_id=rev_id, autogenerate=True)
        finally:
            engine.dispose()
    return 0


def _revisions(revisions: tuple[str, ...]) -> str:
    return ", ".join(revisions) if revisions else "no version (empty, or made before migrations)"


def _shown(database_url: str) -> str:
    return shown_database_url(database_url)  # a password in the query (?password=) too


def _one_line(error: Exception) -> str:
    """The error's first line: SQLAlchemy appends the statement and a link, which say nothing more here."""
    return str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__


if __name__ == "__main__":
    sys.exit(main())
