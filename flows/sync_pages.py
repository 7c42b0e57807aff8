"""One page of a sync pass: listed, enriched with key pointers, written in one transaction (the task
`sync-contracts-page`), and how the pass's checkpoint moves past it. The per-contract sync writes through
the same `enrich` and `store_contracts`.

Whatever is wrong with one record (no id, fields that do not fit, key pointers refused) is that record's
dead letter or a fitted row; the rest of the page is written.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from prefect import task
from prefect.cache_policies import NO_CACHE
from prefect.logging import get_run_logger

import tasks
from blocks import SpotDraftCredentials
from client import SpotDraftError, pages
from client.errors import MalformedResponseError
from flows.common import composite_id_of
from flows.replays import exact_inputs, replays
from store import (
    contracts,
    database_now,
    dead_lettering,
    engine_for,
    fit_row,
    mark_seen,
    sync_passes,
    upsert_each,
    utcnow,
)
from store.sync_passes import Pass

# The pool every key-pointer call of the pass runs on, set by the flow around its pages (Prefect copies
# context variables into the threads of the tasks it submits). A page task run on its own makes its own.
_key_pointer_pool: ContextVar[ThreadPoolExecutor | None] = ContextVar("key_pointer_pool", default=None)


@contextmanager
def shared_key_pointer_pool(concurrency: int) -> Iterator[None]:
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
    # store/sync_passes.py for the one assumption this rests on).
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
    is kept (store.upsert), and is still noted as seen by the pass.
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
            dead_lettering.record(conn, operation="store_contract", target=target, inputs={"record": record},
                                error=MalformedResponseError(f"{target} has no usable id"))
    refused = upsert_each(conn, contracts, rows)
    for row, error in refused:
        dead += 1
        logger.warning("Dead-lettered contract %s: the database refused it: %s", row["composite_id"], error)
        dead_lettering.record(conn, operation="store_contract", target=row["composite_id"],
                            inputs={"record": row["record"]}, error=error)
    for record, _, error in enriched:
        if error is not None:
            dead += 1
            target = composite_id_of(record)
            logger.warning("Dead-lettered key pointers of %s: %s", target, error)
            dead_lettering.record(conn, operation="get_contract_key_pointers", target=target,
                                inputs={"composite_id": target}, error=error)
    done = [composite_id_of(r) for r, _, e in enriched if e is None]
    dead_lettering.resolve(conn, operation="get_contract_key_pointers", targets=done,
                         outcome={"resolved_by": resolved_by})
    # Seen alive and stored: an open question about it (deleted? storable?) is settled.
    refused_ids = {row["id"] for row, _ in refused}
    stored = [row["composite_id"] for row in rows if row["id"] not in refused_ids]
    if pass_id is not None:
        mark_seen(conn, [row["id"] for row in rows if row["id"] not in refused_ids], pass_id)
    for operation in ("get_contract_status", "store_contract"):
        dead_lettering.resolve(conn, operation=operation, targets=stored, outcome={"resolved_by": resolved_by})
    return len(rows) - len(refused), dead, coerced


def advance(engine, pass_: Pass, result: PageResult) -> tuple[Pass, int | None]:
    """Move the checkpoint past `result`'s page, every page before it being written; returns the pass
    (its reference total updated) and the page to read next, or None when the pass has read its last.

    The reference total is the largest any page of this stretch showed (pages were read
    concurrently, so a later page may have been read first): a shrink since then steps back
    (`sync_passes.next_page_after`), and the stretch starts again from the total that showed it.
    """
    next_page = sync_passes.next_page_after(result.page, pass_.page_size, result.total, pass_.page_total,
                                           result.read)
    stepped_back = next_page is not None and next_page <= result.page
    reference = result.total if stepped_back or pass_.page_total is None else max(pass_.page_total, result.total)
    with engine.begin() as conn:
        sync_passes.checkpoint(conn, pass_, next_page=next_page or result.page + 1, page_total=reference)
    return Pass(**{**pass_.__dict__, "page_total": reference}), next_page


# -- how the review retries this flow's dead letters (flows.replays) ------------------------------

@replays("get_contract_key_pointers")
def _replay_key_pointers(credentials, database_url, inputs, payload) -> dict[str, Any]:
    composite_id = exact_inputs(inputs, payload)["composite_id"]
    key_pointers = tasks.get_contract_key_pointers(credentials, composite_id)
    with engine_for(database_url).begin() as conn:
        conn.execute(contracts.update().where(contracts.c.composite_id == composite_id)
                     .values(key_pointers=key_pointers, synced_at=utcnow()))
    return {"composite_id": composite_id, "key_pointers": len(key_pointers or [])}
