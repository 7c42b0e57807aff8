"""Upgrade a sync database's schema by hand, see where it is, or write a new revision.

The design, and why: docs/design/storage.md (section `store/migrate.py`).
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import tempfile
from pathlib import Path
from typing import NoReturn

import sqlalchemy as sa
from alembic import command

from store.database_url import default_database_url, shown_database_url, with_whole_password
from store.migrations import (
    SchemaTooNew,
    alembic_config,
    current_revisions,
    head_revisions,
    known_revisions,
    refuse_too_new,
    upgrade_schema,
)

COMMANDS = ("upgrade", "current", "revision")
EXAMPLES = "e.g. sqlite:///spotdraft.db or postgresql+psycopg://user@host/db"


class CommandError(Exception):
    """A failure the command explains in its one line on stderr."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        """argparse's usage and message, as one line."""
        self.exit(2, f"error: {message} (see {self.prog} --help)\n")


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    name = argv.pop(0) if argv and argv[0] in COMMANDS else "upgrade"
    parser = _Parser(prog=f"python -m flows.migrate {name}", description=__doc__,
                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("database_url", nargs="?", default=None)
    if name == "upgrade":
        parser.add_argument("--sql", action="store_true", help="print the SQL instead of running it")
    if name == "revision":
        parser.add_argument("-m", "--message", required=True)
        parser.add_argument("--autogenerate", action="store_true")
    args = parser.parse_args(argv)
    url = args.database_url
    # What fails is told in one line on stderr, never as a traceback, and never with the URL's password.
    try:
        if url is None and name != "revision":
            # $DATABASE_URL (as `make migrate DATABASE_URL=...` passes it, unquoted by no shell), else the flows' own
            # default: read here, not for --help, since it makes the default database's directory.
            url = args.database_url = os.environ.get("DATABASE_URL") or default_database_url()
        if url is not None:
            _check_url(url, connects=name == "current" or (name == "upgrade" and not args.sql)
                       or (name == "revision" and args.autogenerate))
        return {"upgrade": _upgrade, "current": _current, "revision": _revision}[name](args)
    except Exception as error:
        print(f"error: {_without_secrets(_explained(error, url), url)}", file=sys.stderr)
        return 1


def _check_url(database_url: str, connects: bool) -> None:
    """Raise CommandError, before anything is connected, for a URL that cannot work here."""
    if not database_url.strip():
        raise CommandError("the database URL is empty: give one (e.g. sqlite:///spotdraft.db), or leave it out "
                           "to use $DATABASE_URL, else the flows' default ($SPOTDRAFT_DATABASE_URL, else "
                           "~/.local/share/spotdraft/spotdraft.db)")
    try:
        url = sa.engine.make_url(database_url)
    except sa.exc.ArgumentError:  # the URL itself is not repeated: where it does not parse, nor is its password
        raise CommandError(f"the database URL is not a SQLAlchemy URL ({EXAMPLES})") from None
    except ValueError as error:
        port = re.fullmatch(r"invalid literal for int\(\) with base 10: (.*)", str(error))
        if port:
            raise CommandError(f"the port {port[1]} in {_shown(database_url)} is not a number") from None
        raise CommandError(f"{_shown(database_url)} is not a valid database URL ({EXAMPLES})") from None
    try:
        dialect = url.get_dialect()
    except sa.exc.NoSuchModuleError:
        raise CommandError(f"SQLAlchemy has no database dialect or driver named {url.drivername!r} (the "
                           f"URL's scheme; {EXAMPLES})") from None
    if not connects:
        return
    try:
        dialect.import_dbapi()
    except ImportError as error:
        raise CommandError(f"the database driver for {url.drivername}:// is not installed here ({error}): "
                           f"install it, or name an installed driver in the URL ({EXAMPLES})") from None
    if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:") \
            and url.query.get("uri") not in ("true", "1"):
        directory = Path(url.database).absolute().parent
        if not directory.is_dir():  # SQLite would say "unable to open database file"; nothing is made
            raise CommandError(f"the directory of the SQLite database does not exist: {directory}")


def _explained(error: Exception, database_url: str | None) -> str:
    if isinstance(error, (CommandError, SchemaTooNew)):
        return str(error)
    where = f" ({_shown(database_url)})" if database_url else ""
    if isinstance(error, sa.exc.DBAPIError):
        if "readonly database" in str(error.orig):
            return (f"the SQLite database{where} is read-only here ({error.orig}): the upgrade writes to it; run "
                    "it as a user who may write the file and its directory")
        return f"{_one_line(error)}{where}"
    if isinstance(error, (sa.exc.SQLAlchemyError, RuntimeError)):
        return _one_line(error)
    return f"{type(error).__name__}: {_one_line(error)}"  # unforeseen: still one line


def _without_secrets(text: str, database_url: str | None) -> str:
    """`text` with the URL's password, and any value in its query that shown_database_url masks, replaced."""
    try:
        url = sa.engine.make_url(database_url or "")
        shown = sa.engine.make_url(_shown(database_url or ""))
    except (sa.exc.ArgumentError, ValueError):
        return text
    password = with_whole_password(url).password
    # All of the password, and each of its @-separated parts (a driver may repeat the tail it took for a host).
    pieces = sorted({password, *password.split("@")}, key=len, reverse=True) if password else []
    secrets = pieces + [value for key, value in url.query.items() if shown.query.get(key) != value]
    for secret in secrets:
        for value in secret if isinstance(secret, tuple) else [secret]:
            if value:
                text = text.replace(str(value), "***")
    return text


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
    refuse_too_new(current)  # as the upgrade would: "run the upgrade" would be wrong
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
