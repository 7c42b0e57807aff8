"""sync_analytics: SpotDraft's analytics tables (the analytics query API) into analytics_<table>, a snapshot each.

Each table is read whole and swapped in at once (flows/analytics_table.py: reading in
client/analytics_reading.py, staging and swap in store/analytics_swap.py), one after the other;
a table that fails is its own dead letter and the others go on. A 501 (the workspace does not have
the feature) ends the run at once: Failed, with one dead letter and what to ask SpotDraft. After the
tables, two artifacts: the headline of how long contracts take (flows/analytics_report.py) and the run's summary.
"""

from __future__ import annotations

import time
from typing import Annotated, Any

from prefect.artifacts import create_table_artifact
from prefect.logging import get_run_logger
from prefect.states import Failed, State
from pydantic import Field

from blocks import SpotDraftCredentials
from client.analytics import FEATURE_FLAG, MAX_ROWS, NOT_ENABLED
from client.analytics_catalog import ALLOWLISTED, TABLES
from client.analytics_reading import OPERATION
from flows.analytics_report import headline, summary_rows
from flows.analytics_table import TableOutcome, sync_analytics_table
from flows.common import (
    data_flow,
    database_url_or_default,
    emit_dead_letters,
    finished,
    shown_database_url,
)
from flows.params import SYNCED_DATABASE, OptionalText, credentials_form, database_url_form, form
from flows.replays import exact_inputs, replays
from store import dead_lettering, engine_for, utcnow

NOT_ENABLED_TARGET = "analytics query API"
NOT_ENABLED_MESSAGE = (f"analytics not enabled for this workspace: ask SpotDraft support to enable {FEATURE_FLAG} "
                       f"({NOT_ENABLED}); no table was changed")


def checked_tables(tables: list[str]) -> list[str]:
    """The tables asked for, each once, in order; a name the catalog does not have is refused before any request."""
    wanted = list(dict.fromkeys(name.strip().lower() for name in tables))
    unknown = [name for name in wanted if name not in TABLES]
    if not wanted or unknown:
        raise ValueError(f"tables: {', '.join(map(repr, unknown)) or 'none given'}; choose from the analytics "
                         f"catalog: {', '.join(TABLES)}")
    return wanted


def _run_name(parameters: dict[str, Any]) -> str:
    return f"sync-analytics {utcnow():%Y-%m-%d %H:%M}"


@data_flow("sync-analytics", run_name=_run_name)
def sync_analytics(
    credentials: SpotDraftCredentials = credentials_form(),
    database_url: OptionalText = database_url_form(SYNCED_DATABASE),
    tables: list[str] = form(
        "Tables", "Analytics catalog tables to copy, each into analytics_<table> (default: the eight the API "
        "allowlists).", list(ALLOWLISTED)),
    user_scoped: bool | None = form(
        "Only contracts the caller may see",
        "Sent as the API's user_scoped: true limits contracts to those the credentials' user may see, false asks "
        "for the whole workspace (Admin role only). Empty: the API's default (true).", None),
    page_rows: Annotated[int, Field(ge=1, le=MAX_ROWS)] = form(
        "Rows per answer", f"Rows asked for per query (1-{MAX_ROWS:,}, the API's cap).", MAX_ROWS),
) -> Any:
    """Copy SpotDraft's analytics tables into SQL, a complete snapshot each, and report how long contracts take."""
    logger = get_run_logger()
    started = time.monotonic()
    wanted = checked_tables(tables)
    database_url = database_url_or_default(database_url)
    engine = engine_for(database_url)
    client = credentials.get_client()
    requests_before = client.stats().get("requests", 0)
    outcomes: list[TableOutcome] = []
    for table in wanted:
        outcome = sync_analytics_table(credentials, database_url, table, user_scoped, page_rows)
        if outcome.not_enabled is not None:
            return _not_enabled(engine, outcome, wanted, user_scoped, page_rows)
        outcomes.append(outcome)
    if any(o.error is None for o in outcomes):  # the API answered: a 501 of an earlier run is over
        with engine.begin() as conn:
            dead_lettering.resolve(conn, operation=OPERATION, targets=[NOT_ENABLED_TARGET],
                                   outcome={"resolved_by": "sync_analytics"})
    rows, covers = headline(engine)
    create_table_artifact(key="sync-analytics-headline", table=rows or [{"contract type": "-", "executed": covers}],
                          description=f"How long contracts take: {covers}")
    create_table_artifact(key="sync-analytics-summary", table=summary_rows(outcomes),
                          description="What this sync_analytics run read into each analytics table")
    dead = sum(o.dead_lettered for o in outcomes)
    summary = {
        "tables": {o.table: {"rows": o.rows, "pages": o.pages, "paging": o.paging, "error": o.error,
                             "taken_at": o.taken_at.isoformat() if o.taken_at else None} for o in outcomes},
        "rows": sum(o.rows for o in outcomes),
        "pages": sum(o.pages for o in outcomes),
        "dead_lettered": dead,
        "requests": client.stats().get("requests", 0) - requests_before,
        "headline": rows,
        "duration_s": round(time.monotonic() - started, 2),
        "database": shown_database_url(database_url),
    }
    synced = [o for o in outcomes if o.error is None]
    logger.info("Headline: %s", covers)
    return finished(f"synced {len(synced)} of {len(outcomes)} analytics tables ({summary['rows']} rows)", summary, dead)


def _not_enabled(engine, outcome: TableOutcome, tables: list[str], user_scoped: bool | None, page_rows: int) -> State:
    """The run's end when the workspace does not have the feature: one letter, Failed, nothing retried."""
    with engine.begin() as conn:
        dead_lettering.record(conn, operation=OPERATION, target=NOT_ENABLED_TARGET,
                              inputs={"tables": tables, "user_scoped": user_scoped, "page_rows": page_rows},
                              error=outcome.not_enabled)
    emit_dead_letters(1)
    get_run_logger().error(NOT_ENABLED_MESSAGE)
    return Failed(message=NOT_ENABLED_MESSAGE)


# -- how the review retries this flow's dead letters (flows.replays) ------------------------------

@replays(OPERATION)
def _replay_analytics(credentials, database_url, inputs, payload) -> dict[str, Any]:
    given = exact_inputs(inputs, payload)
    tables = given.get("tables") or [given["table"]]
    state = sync_analytics(credentials, database_url=database_url, tables=tables, user_scoped=given.get("user_scoped"),
                           page_rows=given.get("page_rows") or MAX_ROWS, return_state=True)
    if state.is_failed():
        raise RuntimeError(state.message or "sync_analytics failed")
    summary = state.result()
    failed = {t: s["error"] for t, s in summary["tables"].items() if s["error"]}
    if failed:
        raise RuntimeError("; ".join(f"{t}: {e}" for t, e in failed.items()))
    return {"tables": {t: s["rows"] for t, s in summary["tables"].items()}}
