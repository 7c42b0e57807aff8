"""One analytics table synced (the task `sync-analytics-table`): read whole, typed, staged, swapped in.

What fails is the table's alone: a refusal (400, 403) or a read that cannot be shown whole is the table's
dead letter with SpotDraft's code and message, and the run goes on with the next table. A 502 is retried
by the client first. A read the source changed under is read once more from the start before it gives up.
A 501 (the feature is off for the workspace) is not the table's problem: it is returned to the flow,
which ends the run with one dead letter.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from prefect import task
from prefect.cache_policies import NO_CACHE
from prefect.logging import get_run_logger

from blocks import SpotDraftCredentials
from client import SpotDraftError
from client.analytics import NOT_ENABLED, error_code
from client.analytics_catalog import TABLES
from client.analytics_reading import OPERATION, SourceChanged, TableReader
from store import ANALYTICS_TABLES, database_now, dead_lettering, engine_for
from store.analytics_swap import loading
from store.analytics_values import typed_rows
from store.dead_lettering import current_flow_run

READS = 2  # a read the source changed under is tried once more from the start


@dataclass
class TableOutcome:
    table: str
    rows: int = 0
    pages: int = 0
    paging: str = ""
    taken_at: datetime | None = None
    fitted: int = 0
    dead_lettered: int = 0
    error: str | None = None  # why it was not synced (SpotDraft's code first, when it gave one)
    not_enabled: SpotDraftError | None = None  # the 501 that stops the run


def letter_target(table: str) -> str:
    return f"analytics table {table}"


def is_not_enabled(error: SpotDraftError) -> bool:
    return error.context.status == 501 or error_code(error.context.body) == NOT_ENABLED


def shown_error(error: BaseException) -> str:
    body = getattr(getattr(error, "context", None), "body", None)
    code = error_code(body)
    said = body.get("message") or body.get("detail") if isinstance(body, dict) else None
    return f"{code}: {said}" if code and said else (getattr(error, "detail", None) or str(error))


@task(name="sync-analytics-table", task_run_name="analytics {table}", cache_policy=NO_CACHE)
def sync_analytics_table(credentials: SpotDraftCredentials, database_url: str, table: str, user_scoped: bool | None,
                         page_rows: int) -> TableOutcome:
    """Read one analytics table whole and swap it in as the new snapshot of analytics_<table>, or dead-letter it."""
    logger, client, engine = get_run_logger(), credentials.get_client(), engine_for(database_url)
    error: Exception | None = None
    for attempt in range(1, READS + 1):
        try:
            return _read_and_swap(client, engine, table, user_scoped, page_rows, logger)
        except SourceChanged as changed:
            error = changed
            logger.warning("Analytics table %s changed while it was read (%s)%s", table, changed.detail,
                           "; reading it again" if attempt < READS else "")
        except SpotDraftError as refused:
            if is_not_enabled(refused):
                return TableOutcome(table, not_enabled=refused, error=shown_error(refused))
            error = refused
            break
    assert error is not None
    logger.warning("Dead-lettered analytics table %s: %s", table, shown_error(error))
    with engine.begin() as conn:
        dead_lettering.record(conn, operation=OPERATION, target=letter_target(table),
                              inputs={"table": table, "user_scoped": user_scoped, "page_rows": page_rows}, error=error)
    return TableOutcome(table, dead_lettered=1, error=shown_error(error))


def _read_and_swap(client, engine, table: str, user_scoped: bool | None, page_rows: int, logger) -> TableOutcome:
    spec = TABLES[table]
    taken_at = database_now(engine)
    reader = TableReader(client, spec, user_scoped, page_rows, logger)
    fitted = 0
    with loading(engine, ANALYTICS_TABLES[table]) as load:
        for page in reader.pages():
            rows, changes = typed_rows(spec, page)
            if changes:
                fitted += len(changes)
                logger.warning("Analytics table %s: %d value(s) stored fitted to their columns, e.g. %s", table,
                               len(changes), changes[0])
            load.add(rows)
            del page, rows  # not held while the next page is read: one page in memory at a time
        stored = load.swap(taken_at=taken_at, pages=reader.pages_read, paging=reader.paging, user_scoped=user_scoped,
                           flow_run_id=current_flow_run()[1])
    logger.info("Analytics table %s: %d rows in %d page(s), %s", table, stored, reader.pages_read, reader.paging)
    with engine.begin() as conn:
        dead_lettering.resolve(conn, operation=OPERATION, targets=[letter_target(table)],
                               outcome={"resolved_by": "sync_analytics"})
    return TableOutcome(table, rows=stored, pages=reader.pages_read, paging=reader.paging, taken_at=taken_at,
                        fitted=fitted)
