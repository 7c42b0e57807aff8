"""sync_contracts: SpotDraft -> SQL, incremental, checkpointed per page, one Prefect task per page.

A page is the unit of work: its contracts are listed, enriched with their key pointers, and written
in one transaction. A few pages are in flight at once (PAGES_IN_FLIGHT): the list call of the next
page runs while the key-pointer calls of earlier ones do, and every key-pointer call of the pass
shares one pool of `concurrency` workers, so requests in flight (and connections) stay near that
bound while the client's limiter keeps the pace at SpotDraft's quota (client.ratelimit). The flow
takes page results in page order and moves the checkpoint only over that contiguous prefix: a run
killed at any moment re-reads (and re-upserts) the pages after it, and loses none. Task runs grow
with pages, not with contracts. Whatever is wrong with one contract is that contract's: enrichment
refused (stored without key pointers), fields that do not fit their columns (stored fitted, the
record kept as received), no id or a row the database refuses, a deletion check answered with
anything but 404: each a dead letter, and the run goes on, says so at the end, and the pass
closes. A page that contradicts its own total fails the run; the next resumes.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Annotated, Any

import sqlalchemy as sa
from prefect import task
from prefect.artifacts import create_progress_artifact, create_table_artifact, update_progress_artifact
from prefect.cache_policies import NO_CACHE
from prefect.futures import PrefectFuture
from prefect.logging import get_run_logger
from pydantic import Field

from blocks import SpotDraftCredentials
from client import OPERATIONS_BY_NAME, SpotDraftError, pages
from client.errors import AuthenticationError, MalformedResponseError, NotFoundError
from flows import dead_letters, sync_state
from flows.common import (
    DEFAULT_DATABASE_URL,
    check_database_url,
    composite_id_of,
    data_flow,
    emit_dead_letters,
    finished,
    shown_database_url,
)
from flows.params import database_url_form, form
from flows.store import contracts, database_now, engine_for, fit_row, mark_seen, metadata, upsert_each, utcnow
from flows.sync_state import Pass

PAGES_IN_FLIGHT = 3  # pages listed ahead of the one being finished: the list call never waits on a page

# The pool every key-pointer call of the pass runs on, set by the flow around its pages (Prefect copies
# context variables into the threads of the tasks it submits). A page task run on its own makes its own.
_key_pointer_pool: ContextVar[ThreadPoolExecutor | None] = ContextVar("key_pointer_pool", default=None)


@contextmanager
def _shared_key_pointer_pool(concurrency: int) -> Iterator[None]:
    with ThreadPoolExecutor(max_workers=max(1, concurrency), thread_name_prefix="key-pointers") as pool:
        token = _key_pointer_pool.set(pool)
        try:
            yield
        finally:
            _key_pointer_pool.reset(token)


@contextmanager
def _key_pointer_workers(concurrency: int) -> Iterator[ThreadPoolExecutor]:
    shared = _key_pointer_pool.get()
    if shared is not None:
        yield shared
    else:
        with ThreadPoolExecutor(max_workers=max(1, concurrency)) as own:
            yield own


@dataclass
class PageResult:
    page: int
    read: int
    dead_lettered: int
    total: int
    ids: list[str] = field(default_factory=list)
    written: int = 0  # contract rows stored (a row the database refuses is a dead letter instead)
    coerced: int = 0  # records stored with a field made to fit its column


def _page_of(answer: Any, page: int, limit: int) -> tuple[list[Any], int]:
    """The records and total of a list answer, refusing one that contradicts itself.

    An answer without a results list or a total, or with fewer records than its own total promises
    for this page, would look like the last page: a full refresh would then mark every unread
    contract deleted and move the watermark past them. Raised inside the client's attempt (its
    `check`), such an answer is retried like any malformed one, then fails the page.
    """
    return pages.page_of(answer, page=page, limit=limit)


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


def has_id(record: Any, key: str = "id") -> bool:
    return isinstance(record, dict) and isinstance(record.get(key), int | str) and str(record[key]).strip() != ""


def _contract_row(record: dict[str, Any], key_pointers: Any, read_at: datetime) -> dict[str, Any]:
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
        "read_at": read_at,
    }


@task(name="sync-contracts-page", task_run_name="contracts page {page}", cache_policy=NO_CACHE)
def sync_contracts_page(
    credentials: SpotDraftCredentials, database_url: str, pass_: Pass, page: int, limit: int, concurrency: int
) -> PageResult:
    """List one page, enrich each contract with its key pointers, and write them in one transaction.

    Whatever is wrong with one record (no id, fields that do not fit, key pointers refused) is that
    record's dead letter or a fitted row; the rest of the page is written. The checkpoint is the
    flow's to move (`advance`), once every page before this one is written too.
    """
    logger = get_run_logger()
    client = credentials.get_client()
    # The window ends where the pass started: a contract that changes while the pass runs leaves it
    # (the next pass reads it) and none can enter, so the set being paged only ever shrinks, and
    # every shrink shows in total_results, which next_page_after answers by stepping back (see
    # flows/sync_state.py for the one assumption this rests on).
    query = {"page": page, "limit": limit, **_window(pass_.since, pass_.started_at)}
    read_at = database_now(engine_for(database_url))
    answer = client.call("list_contracts", query=query, logger=logger,
                         check=lambda a: _page_of(a, page, limit))
    records, total = _page_of(answer, page, limit)
    usable = [r for r in records if has_id(r)]
    with _key_pointer_workers(concurrency) as pool:
        enriched = enrich(client, usable, pool, logger)
    with engine_for(database_url).begin() as conn:
        written, dead, coerced = store_contracts(conn, records, enriched, read_at, pass_.id, f"list page {page}",
                                                 logger)
    return PageResult(page, len(records), dead, total, [str(r["id"]) for r in usable], written, coerced)


Enriched = tuple[dict[str, Any], Any, SpotDraftError | None]  # a record, its key pointers, the error getting them


def enrich(client, records: list[dict[str, Any]], pool: ThreadPoolExecutor, logger) -> list[Enriched]:
    """Each record with its key pointers, or with the error that refused them (the record is still stored)."""
    def one(record: dict[str, Any]) -> Enriched:
        try:
            path = {"composite_id": composite_id_of(record)}
            return record, client.call("get_contract_key_pointers", path_params=path, logger=logger), None
        except SpotDraftError as error:
            return record, None, error

    return list(pool.map(one, records))


def store_contracts(
    conn, records: list[Any], enriched: list[Enriched], read_at: datetime, pass_id: str | None, where: str, logger,
    resolved_by: str = "sync_contracts",
) -> tuple[int, int, int]:
    """Write the enriched contracts of one list answer in `conn`'s transaction: (written, dead-lettered, coerced).

    The full sync and the per-contract sync (flows.sync_contract) both write through here. `records`
    is the whole answer: one without a usable id is a dead letter named by its place in `where`. A
    `pass_id` of None (a contract synced on its own) leaves the row's `seen_in_pass` as it was.
    `read_at` is when the read began, by the database's clock: a row stored from a read begun later
    is kept (flows.store.upsert), and is still noted as seen by the pass.
    """
    rows, coerced = [], 0
    for record, key_pointers, error in enriched:
        row = _contract_row(record, key_pointers, read_at)
        # A failed enrichment keeps the key pointers a previous pass stored (the column is left out).
        row, changes = fit_row(contracts, _without_key_pointers(row) if error else row)
        if changes:
            coerced += 1
            logger.warning("Contract %s stored with fields fitted to their columns (raw record kept): %s",
                           row["composite_id"], "; ".join(changes))
        rows.append(row)
    dead = 0
    for index, record in enumerate(records):
        if not has_id(record):
            dead += 1
            target = f"{where} record {index + 1}"
            logger.warning("Dead-lettered %s: it has no usable id", target)
            dead_letters.record(conn, operation="store_contract", target=target, inputs={"record": record},
                                error=MalformedResponseError(f"{target} has no usable id"))
    refused = upsert_each(conn, contracts, rows)
    for row, error in refused:
        dead += 1
        logger.warning("Dead-lettered contract %s: the database refused it: %s", row["composite_id"], error)
        dead_letters.record(conn, operation="store_contract", target=row["composite_id"],
                            inputs={"record": row["record"]}, error=error)
    for record, _, error in enriched:
        if error is not None:
            dead += 1
            target = composite_id_of(record)
            logger.warning("Dead-lettered key pointers of %s: %s", target, error)
            dead_letters.record(conn, operation="get_contract_key_pointers", target=target,
                                inputs={"composite_id": target}, error=error)
    done = [composite_id_of(r) for r, _, e in enriched if e is None]
    dead_letters.resolve(conn, operation="get_contract_key_pointers", targets=done,
                         outcome={"resolved_by": resolved_by})
    # Seen alive and stored: an open question about it (deleted? storable?) is settled.
    refused_ids = {row["id"] for row, _ in refused}
    stored = [row["composite_id"] for row in rows if row["id"] not in refused_ids]
    if pass_id is not None:
        mark_seen(conn, [row["id"] for row in rows if row["id"] not in refused_ids], pass_id)
    for operation in ("get_contract_status", "store_contract"):
        dead_letters.resolve(conn, operation=operation, targets=stored, outcome={"resolved_by": resolved_by})
    return len(rows) - len(refused), dead, coerced


def advance(engine, pass_: Pass, result: PageResult) -> tuple[Pass, int | None]:
    """Move the checkpoint past `result`'s page, every page before it being written; returns the pass
    (its reference total updated) and the page to read next, or None when the pass has read its last.

    The reference total is the largest any page of this stretch showed (pages were read
    concurrently, so a later page may have been read first): a shrink since then steps back
    (`sync_state.next_page_after`), and the stretch starts again from the total that showed it.
    """
    next_page = sync_state.next_page_after(result.page, pass_.page_size, result.total, pass_.page_total,
                                           result.read)
    stepped_back = next_page is not None and next_page <= result.page
    reference = result.total if stepped_back or pass_.page_total is None else max(pass_.page_total, result.total)
    with engine.begin() as conn:
        sync_state.checkpoint(conn, pass_, next_page=next_page or result.page + 1, page_total=reference)
    return Pass(**{**pass_.__dict__, "page_total": reference}), next_page


@dataclass(frozen=True)
class ReferenceList:
    """A list of reference data each sync copies whole into its own table; a new one is one entry in REFERENCE_LISTS.

    The table (flows/store.py) declares the columns: each is the record's field of the same name, besides
    `id` (the record's `key`), `record` (the record as received) and `synced_at`.
    """

    table: str  # in flows.store.metadata; also the summary's figure and the task run's name
    operation: str  # the catalog operation that lists it; a paginated one is read a page per transaction
    items: str  # where its answer holds the records
    key: str = "id"


REFERENCE_LISTS = (
    ReferenceList("templates", "list_templates", items="items"),
    ReferenceList("counterparties", "list_counterparties", items="results"),
)
_COMMON_COLUMNS = {"id", "record", "synced_at"}


def _store_reference(conn, reference: ReferenceList, records: list[Any], where: str) -> tuple[int, int]:
    """Upsert reference records fitted to their columns; returns (written, dead-lettered).

    A record without a usable key, or a row the database still refuses, is a dead letter, counted in
    the run's dead_lettered like a contract's: the run's state and event then say so, and the
    review is started.
    """
    logger, table = get_run_logger(), metadata.tables[reference.table]
    copied = [c.name for c in table.columns if c.name not in _COMMON_COLUMNS]
    now, fitted, dead = utcnow(), [], 0
    for index, item in enumerate(records):
        if not has_id(item, reference.key):
            target = f"{where} item {index + 1}"
            logger.warning("Dead-lettered %s: it has no usable %s", target, reference.key)
            dead_letters.record(conn, operation=reference.operation, target=target, inputs={"record": item},
                                error=MalformedResponseError(f"{target} has no usable {reference.key}"))
            dead += 1
            continue
        row = {**{name: item.get(name) for name in copied}, "id": str(item[reference.key]), "record": item,
               "synced_at": now}
        row, changes = fit_row(table, row)
        if changes:
            logger.warning("%s %s stored with fields fitted to their columns: %s", table.name, row["id"],
                           "; ".join(changes))
        fitted.append(row)
    refused = upsert_each(conn, table, fitted)
    for row, error in refused:
        dead_letters.record(conn, operation=reference.operation, target=f"{table.name} {row['id']}",
                            inputs={"record": row["record"]}, error=error)
    return len(fitted) - len(refused), dead + len(refused)


@task(name="sync-reference-list", task_run_name="{table}", cache_policy=NO_CACHE)
def sync_reference_list(
    credentials: SpotDraftCredentials, database_url: str, table: str, limit: int
) -> tuple[int, int]:
    """Copy one of REFERENCE_LISTS into its table, a transaction per page or answer: (written, dead-lettered).

    A list that cannot be read (after the client's retries), or an answer without its records, is
    the list's dead letter: the contracts this run wrote stand, and the next run reads the list again.
    """
    [reference] = [r for r in REFERENCE_LISTS if r.table == table]
    client, logger, written, dead = credentials.get_client(), get_run_logger(), 0, 0
    target = f"{table} list"
    try:
        if OPERATIONS_BY_NAME[reference.operation].paginated:  # pages.page_of checks each page
            answers = enumerate(client.iter_pages(reference.operation, limit=limit, logger=logger), 1)
        else:
            answers = [(None, client.call(reference.operation, logger=logger,
                                          check=lambda a: _records_of(a, reference)))]
        for page, answer in answers:
            where = target if page is None else f"{table} page {page}"
            with engine_for(database_url).begin() as conn:
                stored, lettered = _store_reference(conn, reference, _records_of(answer, reference), where)
            written, dead = written + stored, dead + lettered
    except SpotDraftError as error:
        logger.warning("Dead-lettered the %s: %s", target, error)
        with engine_for(database_url).begin() as conn:
            dead_letters.record(conn, operation=reference.operation, target=target, inputs={"limit": limit},
                                error=error)
        return written, dead + 1
    with engine_for(database_url).begin() as conn:
        dead_letters.resolve(conn, operation=reference.operation, targets=[target],
                             outcome={"resolved_by": "sync_contracts"})
    return written, dead


def _records_of(answer: Any, reference: ReferenceList) -> list[Any]:
    """The answer's records; an answer without a list where they belong is malformed, not an empty list."""
    records = answer.get(reference.items) if isinstance(answer, dict) else None
    if not isinstance(records, list):
        raise MalformedResponseError(f"the {reference.operation} answer has no {reference.items!r} list")
    return records


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
        position = sync_state.read(engine) or {}
        with engine.begin() as conn:  # one letter per pass: failing again refreshes it
            dead_letters.record(
                conn, operation="list_contracts", target=_pass_target(pass_),
                inputs={"page": position.get("next_page"), "limit": pass_.page_size,
                        "since": pass_.since.isoformat() if pass_.since else None},
                error=error,
            )
        emit_dead_letters(1)
        raise
    deleted = sync_state.finish(engine, pass_, deleted_ids=gone, deletions_read_at=checked_at)
    with engine.begin() as conn:  # the pass read every page: a page failure of it is settled
        dead_letters.resolve(conn, operation="list_contracts", targets=[_pass_target(pass_)],
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

    with _shared_key_pointer_pool(concurrency):
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
        candidates = sync_state.vanished(engine, pass_, present_ids=present)
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


# Not about one contract: with credentials refused, every other check would get the same answer.
_NOT_ABOUT_ONE_CONTRACT = AuthenticationError


def _confirm_deleted_run_name(parameters: dict[str, Any]) -> str:
    count = len(parameters.get("composite_ids") or ())
    return f"confirm {count} deletion{'' if count == 1 else 's'}"


@task(name="confirm-deleted", task_run_name=_confirm_deleted_run_name, cache_policy=NO_CACHE)
def confirm_deleted(
    credentials: SpotDraftCredentials, database_url: str, composite_ids: list[str]
) -> tuple[list[str], int]:
    """Of the contracts a full pass did not see, those SpotDraft answers 404 for: really deleted.

    Paging is not a snapshot: a contract deleted and another created while the pass ran can shift
    a live contract past the pages read. Asking for each one keeps a live contract from ever
    being marked deleted; one the pass missed is read again by the next pass instead. Any other
    answer about one contract (403, 5xx after retries...) is that contract's dead letter: it is
    not marked deleted, and the pass still closes. Returns (deleted ids, dead letters recorded).
    """
    client, logger = credentials.get_client(), get_run_logger()
    gone, unsure = [], []
    for composite_id in composite_ids:
        try:
            client.call("get_contract_status", path_params={"composite_id": composite_id}, logger=logger)
        except NotFoundError:
            gone.append(composite_id)
        except _NOT_ABOUT_ONE_CONTRACT:
            raise
        except SpotDraftError as error:
            logger.warning("Could not tell whether %s was deleted: %s", composite_id, error)
            unsure.append((composite_id, error))
    with engine_for(database_url).begin() as conn:
        for composite_id, error in unsure:
            dead_letters.record(conn, operation="get_contract_status", target=composite_id,
                                inputs={"composite_id": composite_id}, error=error)
    alive = len(composite_ids) - len(gone) - len(unsure)
    if alive:
        logger.warning("%d contract(s) not seen by this pass still exist upstream; the next pass reads them", alive)
    return gone, len(unsure)


@task(name="list-contract-ids", task_run_name="list contract ids", cache_policy=NO_CACHE)
def list_contract_ids(credentials: SpotDraftCredentials, page_size: int) -> set[str] | None:
    """Every contract id upstream (list calls only), or None when pages drifted twice while counting."""
    client, logger = credentials.get_client(), get_run_logger()
    for _ in range(2):
        ids: set[str] = set()
        total = 0
        for answer in client.iter_pages("list_contracts", limit=page_size, logger=logger):
            ids.update(str(r["id"]) for r in answer.get("results") or [] if has_id(r))
            total = int(answer.get("total_results") or 0)
        if len(ids) == total:
            return ids
    logger.warning("Contracts changed while being counted; deletions will be marked on the next full refresh")
    return None


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


def _run_name() -> str:
    from prefect.runtime import flow_run

    full = (flow_run.parameters or {}).get("full_refresh")
    return f"sync-contracts{' full refresh' if full else ''} {utcnow():%Y-%m-%d %H:%M}"


@data_flow(name="sync-contracts", flow_run_name=_run_name, log_prints=False)
def sync_contracts(
    credentials: SpotDraftCredentials = form(
        "SpotDraft credentials", "The credentials Block of the workspace to read from."
    ),
    database_url: str = database_url_form(
        "SQLAlchemy URL of the database to write, e.g. sqlite:///spotdraft.db or postgresql+psycopg://user@host/db.",
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
    overlap_minutes: Annotated[float, Field(ge=0, le=7 * 24 * 60)] = form(
        "Overlap (minutes)",
        "How far before the previous pass's start an incremental pass reads from: room for a clock difference "
        "with SpotDraft and for changes stamped before they became visible (at most a week).",
        10.0,
    ),
    concurrency: Annotated[int, Field(ge=1, le=32)] = form(
        "Concurrent requests",
        "Key-pointer requests in flight at once, for the whole pass (1-32). The pace itself is SpotDraft's "
        "quota, found by the client's rate limiter (or SPOTDRAFT_RATE_LIMIT): this only has to cover the "
        "latency, e.g. 16 reach 200 requests/s at 50 ms.",
        16,
    ),
    reference_data: bool = form(
        "Sync templates and counterparties", "Also copy templates and counterparties on this run.", True
    ),
):
    """Copy SpotDraft contracts (with key pointers), templates and counterparties into a SQL database."""
    logger = get_run_logger()
    started = time.monotonic()
    engine = engine_for(check_database_url(database_url))
    client = credentials.get_client()
    stats_before = client.stats()
    shown_url = shown_database_url(database_url)
    overlap = timedelta(minutes=overlap_minutes)
    progress_id = create_progress_artifact(progress=0.0, key="sync-contracts-progress",
                                           description="Contract pages synced")

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

