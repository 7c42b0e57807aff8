"""Database URLs as the flows take them: the default, the rule that keeps passwords out, and how one is shown.

No Prefect here: the migrate command and the storage layer use it too, and start fast.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import sqlalchemy as sa

from client.redaction import hide_url_secrets

DATABASE_URL_VARIABLE = "SPOTDRAFT_DATABASE_URL"


def default_database_url() -> str:
    """The database of a flow given none: $SPOTDRAFT_DATABASE_URL, else the SQLite file spotdraft.db in the
    user's data directory (data_directory(), created here if missing).

    Never a relative path: a worker runs each flow in a directory of its own (a temporary one, a fresh
    clone, a container's), where a relative sqlite:///spotdraft.db would be a new, empty database each time.
    """
    configured = os.environ.get(DATABASE_URL_VARIABLE, "").strip()
    if configured:
        return check_database_url(configured, name=DATABASE_URL_VARIABLE)
    directory = data_directory()
    directory.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{directory / 'spotdraft.db'}"


def data_directory() -> Path:
    """$XDG_DATA_HOME/spotdraft, else ~/.local/share/spotdraft (the XDG base directory rule, on every system)."""
    base = os.environ.get("XDG_DATA_HOME", "")
    if not os.path.isabs(base):  # the specification says to ignore a relative one
        base = str(Path.home() / ".local" / "share")
    return Path(base) / "spotdraft"


def database_url_or_default(database_url: str | None) -> str:
    """The database a flow writes: the URL it was given (a run's or a deployment's parameter), else
    default_database_url(); refused if it carries a password (check_database_url)."""
    return check_database_url(database_url) if database_url else default_database_url()


# A database URL's query can carry a password under many names (password, sslpassword, PWD inside an
# odbc_connect string, private_key_file_pwd, "-c password=" in options): any mention is refused.
_PASSWORD_WORD = re.compile(r"pwd|passw", re.IGNORECASE)


def check_database_url(database_url: str, name: str = "database_url") -> str:
    """Refuse a database URL that carries a password, before anything is connected or written.

    A flow's parameters are stored by Prefect, shown in the UI and copied into the review runs its
    failures start: a password there is a password everywhere. libpq reads it from PGPASSWORD or
    ~/.pgpass on the worker instead; other drivers have their own equivalents. The same holds for the
    default from the environment (`name` says which was given), which the flows pass on to their tasks.
    The error does not repeat the URL.
    """
    try:
        url = sa.engine.make_url(database_url)
    except (sa.exc.ArgumentError, ValueError):
        raise ValueError(f"{name} is not a SQLAlchemy URL (e.g. sqlite:///spotdraft.db or "
                         "postgresql+psycopg://user@host/db)") from None
    in_query = _password_params(url)
    if url.password or in_query:
        where = "after the user name" if url.password else f"in its query ({', '.join(in_query)})"
        raise ValueError(
            f"{name} carries a password {where}; flow parameters are stored and shown by Prefect, so give "
            "the password to the worker instead: PGPASSWORD or ~/.pgpass for PostgreSQL (the URL keeps user, "
            f"host and database: {shown_database_url(database_url)})"
        )
    return database_url


# The same rule for the deployment's parameter form and the server's check of a run's parameters (a
# JSON-schema pattern, in both the UI's and Python's regex dialect): no password after the user name,
# none in the query. The server then refuses such a run before storing it.
DATABASE_URL_PATTERN = (
    r"^(?![^:/?#]+://[^:/]*:[^@]*@)"  # as SQLAlchemy reads a password: any text (/, ?, # too) up to an @
    r"(?![^?#]*\?.*([pP][wW][dD]|[pP][aA][sS][sS][wW]))"
    r".*$"
)


def _password_params(url: sa.engine.URL) -> list[str]:
    """The query parameters of a database URL whose name or (decoded) value mentions a password."""
    found = []
    for key, value in url.query.items():
        values = value if isinstance(value, tuple) else (value,)
        if _PASSWORD_WORD.search(key) or any(_PASSWORD_WORD.search(str(v)) for v in values):
            found.append(key)
    return sorted(found)


def shown_database_url(database_url: str) -> str:
    """The URL as it may appear in logs, artifacts and stored parameters: any password, in any place, masked."""
    try:
        url = sa.engine.make_url(database_url)
    except (sa.exc.ArgumentError, ValueError):
        return hide_url_secrets(database_url)
    masked = {k: "***" if k in _password_params(url) else v for k, v in url.query.items()}
    return with_whole_password(url).set(query=masked).render_as_string(hide_password=True)


def with_whole_password(url: sa.engine.URL) -> sa.engine.URL:
    """The URL with all of an unencoded-@ password as its password (`user:Sec@ret@host`: SQLAlchemy ends the
    password at the first @ and takes `ret@host` for the host, which would show the password's tail)."""
    if url.password is not None and url.host and "@" in url.host:
        tail, host = url.host.rsplit("@", 1)
        return url.set(password=f"{url.password}@{tail}", host=host)
    return url
