"""sync_contracts: SpotDraft -> SQL, incremental, checkpointed per page, one Prefect task per page.

A page is the unit of work: its contracts are listed, enriched with their key pointers (calls
run concurrently over the client's one connection pool), and written with the pass's checkpoint in
one transaction. Task runs grow with pages, not with contracts. A contract whose enrichment fails
is stored without key pointers and becomes a dead letter; the run goes on and says so at the end.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Annotated, Any

import sqlalchemy as sa
from prefect import flow, task
from prefect.artifacts import create_progress_artifact, create_table_artifact, update_progress_artifact
from prefect.cache_policies import NO_CACHE
from prefect.events import emit_event
from prefect.logging import get_run_logger
from prefect.states import Completed
from pydantic import Field

from blocks import SpotDraftCredentials
from client import SpotDraftError
from client.errors import MalformedResponseError, NotFoundError
from flows import dead_letters, sync_state
from flows.params import form
from flows.store import contracts, counterparties, engine_for, templates, upsert, utcnow
from flows.sync_state import Pass

DEFAULT_DATABASE_URL = "sqlite:///spotdraft.db"
DEAD_LETTER_EVENT = "spotdraft.dead-letters.recorded"


@dataclass
class PageResult:
    page: int
    read: int
    dead_lettered: int
    total: int
    next_page: int | None  # None when the pass has read its last page
    ids: list[str] = field(default_factory=list)


def composite_id_of(record: dict[str, Any]) -> str:
    """The T-/H- id the per-contract endpoints take; a bare number is a template (T-) contract."""
    raw = str(record.get("composite_id") or record["id"])
    return raw if raw[:2] in ("T-", "H-") else f"T-{raw}"


def _page_of(answer: Any, page: int) -> tuple[list[dict[str, Any]], int]:
    """The records and total of a list answer, refusing one whose shape would end a pass early.

    An answer without a results list or a total would look like the last page: a full refresh
    would then mark every unread contract deleted and move the watermark past them.
    """
    results = answer.get("results") if isinstance(answer, dict) else None
    total = answer.get("total_results") if isinstance(answer, dict) else None
    if not isinstance(results, list) or not isinstance(total, int) or isinstance(total, bool):
        raise MalformedResponseError(f"list page {page} has no results list or total_results")
    bad = [r for r in results if not isinstance(r, dict) or r.get("id") in (None, "")]
    if bad:
        raise MalformedResponseError(f"list page {page} has {len(bad)} record(s) without an id")
    return results, total


def _window(since: datetime | None, until: datetime) -> dict[str, str]:
    """The list filters of contracts last updated in [since, until) (from the beginning when since is None)."""
    def utc(moment: datetime) -> str:  # RFC 3339 in UTC, to the millisecond (rounded down)
        return moment.replace(tzinfo=None).isoformat(timespec="milliseconds") + "Z"

    window = {"filter__last_updated_on[$lt]": utc(until)}
    if since is not None:
        window["filter__last_updated_on[$gte]"] = utc(since)
    return window


def _without_key_pointers(row: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in row.items() if k != "key_pointers"}


def _contract_row(record: dict[str, Any], key_pointers: Any, pass_id: str) -> dict[str, Any]:
    return {
        "id": str(record["id"]),
        "composite_id": composite_id_of(record),
        "contract_name": record.get("contract_name"),
        "contract_status": record.get("contract_status"),
        "contract_type_id": record.get("contract_type_id"),
        "contract_type_name": record.get("contract_type_name"),
        "counter_party_name": record.get("counter_party_name"),
        "reference_id": record.get("reference_id"),
        "created": record.get("created"),
        "key_pointers": key_pointers,
        "record": record,
        "synced_at": utcnow(),
        "deleted_at": None,
        "seen_in_pass": pass_id,
    }


@task(name="sync-contracts-page", task_run_name="contracts page {page}", cache_policy=NO_CACHE)
def sync_contracts_page(
    credentials: SpotDraftCredentials, database_url: str, pass_: Pass, page: int, limit: int, concurrency: int
) -> PageResult:
    """List one page, enrich each contract with its key pointers, write rows and checkpoint together."""
    logger = get_run_logger()
    client = credentials.get_client()
    # The window ends where the pass started: a contract that changes while the pass runs leaves it
    # (the next pass reads it) and none can enter, so the set being paged only ever shrinks, and
    # every shrink shows in total_results, which next_page_after answers by stepping back (see
    # flows/sync_state.py for the one assumption this rests on).
    query = {"page": page, "limit": limit, **_window(pass_.since, pass_.started_at)}
    records, total = _page_of(client.call("list_contracts", query=query, logger=logger), page)

    def enrich(record: dict[str, Any]) -> tuple[dict[str, Any], Any, SpotDraftError | None]:
        try:
            path = {"composite_id": composite_id_of(record)}
            return record, client.call("get_contract_key_pointers", path_params=path, logger=logger), None
        except SpotDraftError as error:
            return record, None, error

    with ThreadPoolExecutor(max_workers=max(1, concurrency)) as pool:
        enriched = list(pool.map(enrich, records))

    engine = engine_for(database_url)
    failed = [(record, error) for record, _, error in enriched if error is not None]
    with engine.begin() as conn:
        upsert(conn, contracts, [_contract_row(r, kp, pass_.id) for r, kp, e in enriched if e is None])
        # A failed enrichment keeps the key pointers a previous pass stored (the column is left out).
        upsert(conn, contracts, [_without_key_pointers(_contract_row(r, None, pass_.id)) for r, _, e in enriched if e])
        for record, error in failed:
            target = composite_id_of(record)
            logger.warning("Dead-lettered key pointers of %s: %s", target, error)
            dead_letters.record(conn, operation="get_contract_key_pointers", target=target,
                                inputs={"composite_id": target}, error=error)
        done = [composite_id_of(r) for r, _, e in enriched if e is None]
        dead_letters.resolve(conn, operation="get_contract_key_pointers", targets=done,
                             outcome={"resolved_by": "sync_contracts"})
        next_page = sync_state.next_page_after(page, limit, total, pass_.page_total, len(records))
        sync_state.checkpoint(conn, pass_, next_page=next_page or page + 1, page_total=total)
    return PageResult(page, len(records), len(failed), total, next_page, [str(r["id"]) for r in records])


@task(name="sync-templates", cache_policy=NO_CACHE)
def sync_templates(credentials: SpotDraftCredentials, database_url: str) -> int:
    """Copy the workspace's templates (a short, unpaged list) into `templates`."""
    answer = credentials.get_client().call("list_templates", logger=get_run_logger())
    now = utcnow()
    rows = [
        {"id": str(t["id"]), "name": t.get("name"), "contract_type_id": t.get("contract_type_id"),
         "record": t, "synced_at": now}
        for t in answer.get("items") or []
    ]
    with engine_for(database_url).begin() as conn:
        return upsert(conn, templates, rows)


@task(name="sync-counterparties", cache_policy=NO_CACHE)
def sync_counterparties(credentials: SpotDraftCredentials, database_url: str, limit: int) -> int:
    """Copy every counterparty into `counterparties`, a page per transaction."""
    client, written = credentials.get_client(), 0
    for answer in client.iter_pages("list_counterparties", limit=limit, logger=get_run_logger()):
        now = utcnow()
        rows = [
            {"id": str(c["id"]), "name": c.get("name"), "is_individual": c.get("is_individual"),
             "record": c, "synced_at": now}
            for c in answer.get("results") or []
        ]
        with engine_for(database_url).begin() as conn:
            written += upsert(conn, counterparties, rows)
    return written


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
    page_size = pass_.page_size
    logger.info("%s %s into %s", "Resuming" if pass_.resumed else "Starting", _describe(pass_), shown_url)
    page, pages, read, dead = pass_.next_page, 0, 0, 0
    while True:
        try:
            result = sync_contracts_page(credentials, database_url, pass_, page, page_size, concurrency)
        except Exception as error:  # whatever stops the pass is recorded; the checkpoint lets the next run resume
            with engine.begin() as conn:
                dead_letters.record(
                    conn, operation="list_contracts", target=f"sync pass {pass_.id[:8]} page {page}",
                    inputs={"page": page, "limit": page_size,
                            "since": pass_.since.isoformat() if pass_.since else None},
                    error=error,
                )
            emit_dead_letters(1)
            raise
        pages, read, dead = pages + 1, read + result.read, dead + result.dead_lettered
        expected_pages = max(1, -(-result.total // page_size))
        update_progress_artifact(progress_id, progress=min(100.0, 100.0 * min(page, expected_pages) / expected_pages))
        if result.next_page is None:
            break
        page = result.next_page
        pass_ = Pass(**{**pass_.__dict__, "page_total": result.total})

    gone: list[str] = []
    if pass_.full:
        # Pages read before an interruption cannot show what was deleted since; a census can.
        present = list_contract_ids(credentials, page_size) if pass_.resumed else None
        candidates = sync_state.vanished(engine, pass_, present_ids=present)
        gone = confirm_deleted(credentials, candidates) if candidates else []
    deleted = sync_state.finish(engine, pass_, deleted_ids=gone)
    return {"pages": pages, "read": read, "dead": dead, "deleted": deleted}


@task(name="confirm-deleted", cache_policy=NO_CACHE)
def confirm_deleted(credentials: SpotDraftCredentials, composite_ids: list[str]) -> list[str]:
    """Of the contracts a full pass did not see, those SpotDraft answers 404 for: really deleted.

    Paging is not a snapshot: a contract deleted and another created while the pass ran can shift
    a live contract past the pages read. Asking for each one keeps a live contract from ever
    being marked deleted; one the pass missed is read again by the next pass instead.
    """
    client, logger = credentials.get_client(), get_run_logger()
    gone = []
    for composite_id in composite_ids:
        try:
            client.call("get_contract_status", path_params={"composite_id": composite_id}, logger=logger)
        except NotFoundError:
            gone.append(composite_id)
    if len(gone) < len(composite_ids):
        logger.warning("%d contract(s) not seen by this pass still exist upstream; the next pass reads them",
                       len(composite_ids) - len(gone))
    return gone


@task(name="list-contract-ids", cache_policy=NO_CACHE)
def list_contract_ids(credentials: SpotDraftCredentials, page_size: int) -> set[str] | None:
    """Every contract id upstream (list calls only), or None when pages drifted twice while counting."""
    client, logger = credentials.get_client(), get_run_logger()
    for _ in range(2):
        ids: set[str] = set()
        total = 0
        for answer in client.iter_pages("list_contracts", limit=page_size, logger=logger):
            ids.update(str(r["id"]) for r in answer.get("results") or [])
            total = int(answer.get("total_results") or 0)
        if len(ids) == total:
            return ids
    logger.warning("Contracts changed while being counted; deletions will be marked on the next full refresh")
    return None


def _run_name() -> str:
    from prefect.runtime import flow_run

    full = (flow_run.parameters or {}).get("full_refresh")
    return f"sync-contracts{' full refresh' if full else ''} {utcnow():%Y-%m-%d %H:%M}"


@flow(name="sync-contracts", flow_run_name=_run_name, log_prints=False)
def sync_contracts(
    credentials: SpotDraftCredentials = form(
        "SpotDraft credentials", "The credentials Block of the workspace to read from."
    ),
    database_url: str = form(
        "Database URL",
        "SQLAlchemy URL of the database to write, e.g. sqlite:///spotdraft.db or "
        "postgresql+psycopg://user@host/db. Keep passwords out of it: use PGPASSWORD or ~/.pgpass.",
        DEFAULT_DATABASE_URL,
    ),
    full_refresh: bool = form(
        "Full refresh",
        "Re-read every contract instead of those updated since the last pass, and mark contracts that no "
        "longer exist upstream as deleted.",
        False,
    ),
    page_size: Annotated[int, Field(ge=1, le=100)] = form(
        "Page size", "Contracts per page, and so per task run (1-100).", 100
    ),
    overlap_minutes: Annotated[float, Field(ge=0)] = form(
        "Overlap (minutes)",
        "How far before the previous pass's start an incremental pass reads from: room for a clock difference "
        "with SpotDraft and for changes stamped before they became visible.",
        10.0,
    ),
    concurrency: Annotated[int, Field(ge=1, le=32)] = form(
        "Concurrent requests", "Key-pointer requests in flight at once within a page (1-32).", 8
    ),
    reference_data: bool = form(
        "Sync templates and counterparties", "Also copy templates and counterparties on this run.", True
    ),
):
    """Copy SpotDraft contracts (with key pointers), templates and counterparties into a SQL database."""
    logger = get_run_logger()
    started = time.monotonic()
    client = credentials.get_client()
    stats_before = client.stats()
    engine = engine_for(database_url)
    shown_url = sa.engine.make_url(database_url).render_as_string(hide_password=True)
    overlap = timedelta(minutes=overlap_minutes)
    progress_id = create_progress_artifact(progress=0.0, description="Contract pages synced")

    first = sync_state.begin_or_resume(engine, full_refresh=full_refresh, overlap=overlap, page_size=page_size)
    totals = _run_pass(credentials, database_url, first, concurrency, progress_id, shown_url)
    passes = [first]
    if first.resumed:
        # Contracts changed while the pass was interrupted may sit on pages it had already read:
        # a pass from its start (less the overlap) picks them up now rather than on the next run.
        catch_up = sync_state.begin_or_resume(engine, full_refresh=False, overlap=overlap, page_size=page_size)
        more = _run_pass(credentials, database_url, catch_up, concurrency, progress_id, shown_url)
        totals = {k: totals[k] + more[k] for k in totals}
        passes.append(catch_up)
    pages, read, dead, deleted = totals["pages"], totals["read"], totals["dead"], totals["deleted"]
    if first.resumed and first.page_size != page_size:
        logger.info("The resumed pass kept its page size of %d (asked: %d)", first.page_size, page_size)

    reference = {"templates": 0, "counterparties": 0}
    if reference_data:
        reference["templates"] = sync_templates(credentials, database_url)
        reference["counterparties"] = sync_counterparties(credentials, database_url, page_size)
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
        "contracts_written": read,
        "contracts_in_database": stored,
        "marked_deleted": deleted,
        "dead_lettered": dead,
        "templates": reference["templates"],
        "counterparties": reference["counterparties"],
        "requests": stats.get("requests", 0) - stats_before.get("requests", 0),
        "retries": stats.get("retries", 0) - stats_before.get("retries", 0),
        "duration_s": round(time.monotonic() - started, 2),
        "database": shown_url,
    }
    create_table_artifact(
        key="sync-contracts-summary",
        table=[{"metric": k, "value": str(v)} for k, v in summary.items()],
        description="What this sync pass read, wrote and gave up on",
    )
    message = f"synced {read} contracts ({stored} in the database)"
    if dead:
        message += f"; {dead} dead-lettered, see the dead_letters table or run review_failed_operations"
        emit_dead_letters(dead)
        logger.warning(message)
    else:
        logger.info(message)
    return Completed(message=message, data=summary)


def emit_dead_letters(count: int) -> None:
    """Tell Prefect something was given up on; automations route it to the review flow."""
    from prefect.runtime import flow_run

    emit_event(
        event=DEAD_LETTER_EVENT,
        resource={"prefect.resource.id": f"prefect.flow-run.{flow_run.id}", "prefect.resource.name": flow_run.name},
        payload={"flow_run_id": str(flow_run.id), "flow_name": flow_run.flow_name, "count": count},
    )
