"""sync_contracts: SpotDraft -> SQL, incremental, checkpointed per page, one Prefect task per page.

The design, and why: docs/design/sync.md (section `flows/sync.py`).
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from typing import Annotated, Any

import sqlalchemy as sa
from prefect.artifacts import create_progress_artifact, create_table_artifact, update_progress_artifact
from prefect.futures import PrefectFuture
from prefect.logging import get_run_logger
from pydantic import Field

from blocks import SpotDraftCredentials
from client.errors import MalformedResponseError
from flows.common import (
    data_flow,
    database_url_or_default,
    emit_dead_letters,
    finished,
    shown_database_url,
)
from flows.deletions import confirm_deleted, list_contract_ids
from flows.params import SYNCED_DATABASE, OptionalText, credentials_form, database_url_form, form
from flows.reference_lists import REFERENCE_LISTS, sync_reference_list
from flows.replays import replays
from flows.sync_pages import advance, shared_key_pointer_pool, sync_contracts_page
from store import contracts, database_now, dead_lettering, engine_for, sync_passes, utcnow
from store.sync_passes import Pass

PAGES_IN_FLIGHT = 3  # pages listed ahead of the one being finished: the list call never waits on a page
# Key-pointer calls in flight. By Little's law the pace is at most concurrency / latency: 64 reach 200 requests/s
# at 300 ms an answer (16 reached 53). Each holds a connection of the client's pool (client.http.MAX_CONNECTIONS).
DEFAULT_CONCURRENCY = 64
MAX_CONCURRENCY = 128


def _describe(pass_: Pass) -> str:
    kind = "full" if pass_.full else f"incremental since {pass_.since:%Y-%m-%d %H:%M:%S}"
    return f"{'resumed ' if pass_.resumed else ''}{kind} pass {pass_.id[:8]}"


def _run_pass(
    credentials: SpotDraftCredentials, database_url: str, pass_: Pass, concurrency: int, progress_id: Any,
    shown_url: str,
) -> dict[str, int]:
    """Read one pass page by page from its checkpoint, then close it. Returns its counts."""
    logger = get_run_logger()
    engine = engine_for(database_url)
    logger.info("%s %s into %s", "Resuming" if pass_.resumed else "Starting", _describe(pass_), shown_url)
    counts = {"pages": 0, "read": 0, "written": 0, "dead": 0}
    try:  # whatever stops the pass is recorded; the checkpoint lets the next run resume
        pass_, gone, checked_at = _read_pages_and_deletions(credentials, database_url, pass_, concurrency,
                                                            progress_id, counts)
    except Exception as error:
        position = sync_passes.read(engine) or {}
        with engine.begin() as conn:  # one letter per pass: failing again refreshes it
            dead_lettering.record(
                conn, operation="list_contracts", target=_pass_target(pass_),
                inputs={"page": position.get("next_page"), "limit": pass_.page_size,
                        "since": pass_.since.isoformat() if pass_.since else None},
                error=error,
            )
        emit_dead_letters(1)
        raise
    deleted = sync_passes.finish(engine, pass_, deleted_ids=gone, deletions_read_at=checked_at)
    with engine.begin() as conn:  # the pass read every page: a page failure of it is settled
        dead_lettering.resolve(conn, operation="list_contracts", targets=[_pass_target(pass_)],
                             outcome={"resolved_by": "sync_contracts", "pass": pass_.id})
    return {**counts, "deleted": deleted}


def _read_pages_and_deletions(
    credentials: SpotDraftCredentials, database_url: str, pass_: Pass, concurrency: int, progress_id: Any,
    counts: dict[str, int],
) -> tuple[Pass, list[str], datetime | None]:
    """Every page of the pass from its checkpoint, then (for a full pass) the deletions it found and when
    the checks that confirmed them began.

    Step-backs are bounded: a total that keeps changing (each answer true on its own) would
    otherwise page for ever; past the bound the pass fails and the next run resumes it.
    """
    engine, step_backs = engine_for(database_url), 0
    page = pass_.next_page  # the page to finish next, in order
    in_flight: dict[int, PrefectFuture] = {}  # pages page, page+1, ... listed ahead
    known_pages = _pages_in(pass_.page_total, pass_.page_size)  # None until a total is known

    def submit(number: int) -> None:
        in_flight[number] = sync_contracts_page.submit(credentials, database_url, pass_, number, pass_.page_size,
                                                       concurrency)

    with shared_key_pointer_pool(concurrency):
        try:
            while True:
                ahead = page + len(in_flight)
                if page not in in_flight:
                    submit(page)
                    ahead = page + 1
                while known_pages and len(in_flight) < PAGES_IN_FLIGHT and ahead <= known_pages:
                    submit(ahead)
                    ahead += 1
                result = in_flight.pop(page).result()
                for key, value in (("pages", 1), ("read", result.read), ("written", result.written),
                                   ("dead", result.dead_lettered)):
                    counts[key] += value
                pass_, next_page = advance(engine, pass_, result)
                known_pages = _pages_in(result.total, pass_.page_size)
                update_progress_artifact(progress_id, progress=min(100.0, 100.0 * min(page, known_pages) / known_pages))
                if next_page is None:
                    break
                if next_page <= page:  # pages listed ahead may have missed what slid back: list them again
                    step_backs += 1
                    if step_backs > max(MIN_STEP_BACKS, known_pages):
                        raise MalformedResponseError(f"total_results kept changing between pages ({step_backs} "
                                                     f"step-backs in one run, last total {result.total}); "
                                                     "the next run resumes")
                    _finish_all(in_flight)
                page = next_page
        finally:
            _finish_all(in_flight)  # no page is left writing behind the pass's back

    gone: list[str] = []
    checked_at = None
    if pass_.full:
        # Pages read before an interruption cannot show what was deleted since; a census can.
        present = list_contract_ids(credentials, pass_.page_size) if pass_.resumed else None
        candidates = sync_passes.vanished(engine, pass_, present_ids=present)
        if candidates:
            checked_at = database_now(engine)
            gone, unsure = confirm_deleted(credentials, database_url, candidates)
            counts["dead"] += unsure
    return pass_, gone, checked_at


MIN_STEP_BACKS = 10  # step-backs a run allows a pass at least, however few its pages


def _pages_in(total: int | None, page_size: int) -> int | None:
    return None if total is None else max(1, -(-total // page_size))


def _finish_all(in_flight: dict[int, PrefectFuture]) -> None:
    """Wait for pages still in flight (their rows are upserts: written twice is written once); forget them."""
    for future in in_flight.values():
        future.wait()
    in_flight.clear()


def _pass_target(pass_: Pass) -> str:
    return f"sync pass {pass_.id[:8]}"


def summary_table(summary: dict[str, Any]) -> list[dict[str, str]]:
    """The run's summary as the rows of its table artifact: every figure, on one page of the Prefect UI.

    The UI shows a table artifact ten rows a page; the related figures share a row so that all of
    them fit on the first. The pass's description says when it was resumed.
    """
    rows = {
        "pass": summary["pass"],
        "pages": summary["pages"],
        "contracts": f"read {summary['contracts_read']}, written {summary['contracts_written']}, "
                     f"in database {summary['contracts_in_database']}, marked deleted {summary['marked_deleted']}",
        "dead-lettered": summary["dead_lettered"],
        "reference data": ", ".join(f"{r.table} {summary[r.table]}" for r in REFERENCE_LISTS),
        "requests": f"{summary['requests']} (retries {summary['retries']}, throttled 429 {summary['throttled_429']})",
        "rate limit": summary["rate_limit"],
        "duration": f"{summary['duration_s']} s",
        "database": summary["database"],
    }
    return [{"metric": metric, "value": str(value)} for metric, value in rows.items()]


def _run_name(parameters: dict[str, Any]) -> str:
    return f"sync-contracts{' full refresh' if parameters.get('full_refresh') else ''} {utcnow():%Y-%m-%d %H:%M}"


@data_flow("sync-contracts", run_name=_run_name)
def sync_contracts(
    credentials: SpotDraftCredentials = credentials_form(),
    database_url: OptionalText = database_url_form(SYNCED_DATABASE),
    full_refresh: bool = form(
        "Full refresh",
        "Re-read every contract instead of those updated since the last pass, and mark contracts that no "
        "longer exist upstream as deleted.",
        False,
    ),
    page_size: Annotated[int, Field(ge=1, le=100)] = form(
        "Page size", "Contracts per page, and so per task run (1-100).", 100
    ),
    overlap_minutes: Annotated[float, Field(ge=0, le=7 * 24 * 60)] = form(
        "Overlap (minutes)",
        "How far before the previous pass's start an incremental pass reads from: room for a clock difference "
        "with SpotDraft and for changes stamped before they became visible (at most a week).",
        10.0,
    ),
    concurrency: Annotated[int, Field(ge=1, le=MAX_CONCURRENCY)] = form(
        "Concurrent requests",
        f"Key-pointer requests in flight at once, for the whole pass (1-{MAX_CONCURRENCY}). The pace itself is "
        "SpotDraft's quota, found by the client's rate limiter (or SPOTDRAFT_RATE_LIMIT): this only has to "
        "cover the latency (quota x seconds per answer), e.g. 64 reach 200 requests/s at 300 ms. With a fixed "
        "rate under concurrency / SPOTDRAFT_RETRY_WINDOW, lower it: a request whose turn is further away "
        "than its retry window fails unsent.",
        DEFAULT_CONCURRENCY,
    ),
    reference_data: bool = form(
        "Sync templates and counterparties", "Also copy templates and counterparties on this run.", True
    ),
):
    """Copy SpotDraft contracts (with key pointers), templates and counterparties into a SQL database."""
    logger = get_run_logger()
    started = time.monotonic()
    database_url = database_url_or_default(database_url)
    engine = engine_for(database_url)
    client = credentials.get_client()
    stats_before = client.stats()
    shown_url = shown_database_url(database_url)
    overlap = timedelta(minutes=overlap_minutes)
    progress_id = create_progress_artifact(progress=0.0, key="sync-contracts-progress",
                                           description="Contract pages synced")

    first = sync_passes.begin_or_resume(engine, full_refresh=full_refresh, overlap=overlap, page_size=page_size)
    totals = _run_pass(credentials, database_url, first, concurrency, progress_id, shown_url)
    passes = [first]
    if first.resumed:
        # Contracts changed while the pass was interrupted may sit on pages it had already read:
        # a pass from its start (less the overlap) picks them up now rather than on the next run.
        catch_up = sync_passes.begin_or_resume(engine, full_refresh=False, overlap=overlap, page_size=page_size)
        more = _run_pass(credentials, database_url, catch_up, concurrency, progress_id, shown_url)
        totals = {k: totals[k] + more[k] for k in totals}
        passes.append(catch_up)
    pages, read, written, dead, deleted = (totals[k] for k in ("pages", "read", "written", "dead", "deleted"))
    if first.resumed and first.page_size != page_size:
        logger.info("The resumed pass kept its page size of %d (asked: %d)", first.page_size, page_size)

    reference = {r.table: 0 for r in REFERENCE_LISTS}
    if reference_data:
        for table in reference:
            reference[table], lettered = sync_reference_list(credentials, database_url, table, page_size)
            dead += lettered
    with engine.connect() as conn:
        stored = conn.execute(
            sa.select(sa.func.count()).select_from(contracts).where(contracts.c.deleted_at.is_(None))
        ).scalar_one()

    stats = client.stats()
    summary = {
        "pass": " then ".join(_describe(p) for p in passes),
        "resumed": first.resumed,
        "pages": pages,
        "contracts_read": read,
        "contracts_written": written,
        "contracts_in_database": stored,
        "marked_deleted": deleted,
        "dead_lettered": dead,
        **reference,
        "requests": stats.get("requests", 0) - stats_before.get("requests", 0),
        "retries": stats.get("retries", 0) - stats_before.get("retries", 0),
        "throttled_429": stats.get("throttled", 0) - stats_before.get("throttled", 0),
        "rate_limit": client.limiter.describe(),
        "duration_s": round(time.monotonic() - started, 2),
        "database": shown_url,
    }
    create_table_artifact(
        key="sync-contracts-summary",
        table=summary_table(summary),
        description="What this sync pass read, wrote and gave up on",
    )
    message = f"synced {read} contracts ({stored} in the database)"
    return finished(message, summary, dead)


# -- how the review retries this flow's dead letters (flows.replays) ------------------------------

@replays("list_contracts")
def _replay_sync(credentials, database_url, inputs, payload) -> dict[str, Any]:
    summary = sync_contracts(credentials, database_url=database_url, return_state=True).result()
    return {"sync": summary["pass"], "contracts_read": summary["contracts_read"]}
