"""Database URLs as the flows take them: the default, the rule that keeps passwords out, and how one is shown.

No Prefect here: the migrate command and the storage layer use it too, and start fast.
"""

from __future__ import annotations

import re

import sqlalchemy as sa

from client.redaction import hide_url_secrets

DEFAULT_DATABASE_URL = "sqlite:///spotdraft.db"


def default_database_url() -> str:
    """The database of a process given none (the webhook receiver, its sync worker): the flows' default."""
    return DEFAULT_DATABASE_URL

# A database URL's query can carry a password under many names (password, sslpassword, PWD inside an
# odbc_connect string, private_key_file_pwd, "-c password=" in options): any mention is refused.
_PASSWORD_WORD = re.compile(r"pwd|passw", re.IGNORECASE)


def check_database_url(database_url: str) -> str:
    """Refuse a database URL that carries a password, before anything is connected or written.

    A flow's parameters are stored by Prefect, shown in the UI and copied into the review runs its
    failures start: a password there is a password everywhere. libpq reads it from PGPASSWORD or
    ~/.pgpass on the worker instead; other drivers have their own equivalents. The error does not
    repeat the URL.
    """
    try:
        url = sa.engine.make_url(database_url)
    except (sa.exc.ArgumentError, ValueError):
        raise ValueError("database_url is not a SQLAlchemy URL (e.g. sqlite:///spotdraft.db or "
                         "postgresql+psycopg://user@host/db)") from None
    in_query = _password_params(url)
    if url.password or in_query:
        where = "after the user name" if url.password else f"in its query ({', '.join(in_query)})"
        raise ValueError(
            f"database_url carries a password {where}; flow parameters are stored and shown by Prefect, so give "
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
