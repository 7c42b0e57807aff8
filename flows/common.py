"""What the flows share: the default database, contract ids, the database URL rule, the dead-letter event and state."""

from __future__ import annotations

import re
from typing import Any

import sqlalchemy as sa
from prefect import Flow
from prefect.events import emit_event
from prefect.states import Completed, State

from client.redaction import hide_url_secrets

DEFAULT_DATABASE_URL = "sqlite:///spotdraft.db"
DEAD_LETTER_EVENT = "spotdraft.dead-letters.recorded"

# A database URL's query can carry a password under many names (password, sslpassword, PWD inside an
# odbc_connect string, private_key_file_pwd, "-c password=" in options): any mention is refused.
_PASSWORD_WORD = re.compile(r"pwd|passw", re.IGNORECASE)


def composite_id_of(record: dict[str, Any]) -> str:
    """The T-/H- id the per-contract endpoints take; a bare number is a template (T-) contract."""
    raw = str(record.get("composite_id") or record["id"])
    return raw if raw[:2] in ("T-", "H-") else f"T-{raw}"


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
    r"^(?![^:/?#]+://[^/?#@]*:[^/?#@]*@)"
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


class UrlSafeFlow(Flow):
    """A flow whose parameters are stored with any URL's password masked.

    Prefect stores a run's parameters before the flow's code runs, so the refusal of a database URL
    that carries a password (check_database_url) would come too late for what Prefect keeps, shows
    in the UI and hands to triggers. The flow itself still receives the value as given, and refuses it.
    """

    def serialize_parameters(self, parameters: dict[str, Any]) -> dict[str, Any]:
        def safe(key: str, value: Any) -> Any:
            if key == "database_url" and isinstance(value, str):
                return shown_database_url(value)
            return hide_url_secrets(value) if isinstance(value, str) and "://" in value else value

        return {key: safe(key, value) for key, value in super().serialize_parameters(parameters).items()}


def data_flow(**options: Any):
    """`prefect.flow`, making a UrlSafeFlow."""
    return lambda fn: UrlSafeFlow(fn, **options)


def shown_database_url(database_url: str) -> str:
    """The URL as it may appear in logs, artifacts and stored parameters: any password, in any place, masked."""
    try:
        url = sa.engine.make_url(database_url)
    except (sa.exc.ArgumentError, ValueError):
        return hide_url_secrets(database_url)
    masked = {k: "***" if k in _password_params(url) else v for k, v in url.query.items()}
    return url.set(query=masked).render_as_string(hide_password=True)


def emit_dead_letters(count: int) -> None:
    """Tell Prefect something was given up on; automations route it to the review flow."""
    from prefect.runtime import flow_run

    emit_event(
        event=DEAD_LETTER_EVENT,
        resource={"prefect.resource.id": f"prefect.flow-run.{flow_run.id}", "prefect.resource.name": flow_run.name},
        payload={"flow_run_id": str(flow_run.id), "flow_name": flow_run.flow_name, "count": count},
    )


DEAD_LETTERED = "Dead-lettered"  # the name of a Completed state of a run that gave something up


def finished(message: str, summary: dict[str, Any], dead_lettered: int) -> State:
    """The final state of a data flow (create or sync), its message logged: Completed, named for its
    dead letters if any, which are also announced (emit_dead_letters) for the review's trigger.

    It stays a COMPLETED state, the run did its job: each failure is a dead letter, for the review
    flow. The name is what the Prefect UI shows on the run's badge, in the runs list too, so
    "Dead-lettered" tells an operator at a glance what otherwise hides in a log line; the message
    gives the count and says what to do. The name is fixed, as Prefect's own state names are
    (Cached, Late...), because Prefect names the run's state event after it: an automation can
    match `prefect.flow-run.Dead-lettered`, which a name carrying the count would make impossible.
    A clean run keeps plain "Completed".
    """
    from prefect.logging import get_run_logger

    logger = get_run_logger()
    if dead_lettered:
        message += f"; {dead_lettered} dead-lettered, see the dead_letters table or run review_failed_operations"
        emit_dead_letters(dead_lettered)
        logger.warning(message)
        return Completed(name=DEAD_LETTERED, message=message, data=summary)
    logger.info(message)
    return Completed(message=message, data=summary)
