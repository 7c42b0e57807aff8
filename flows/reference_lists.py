"""Reference data each sync copies whole (templates, counterparties): one entry of REFERENCE_LISTS each,
read a page per transaction by the task `sync-reference-list`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from prefect import task
from prefect.cache_policies import NO_CACHE
from prefect.logging import get_run_logger

from blocks import SpotDraftCredentials
from client import OPERATIONS_BY_NAME, SpotDraftError
from client.errors import MalformedResponseError
from flows.sync_pages import has_id
from store import dead_lettering, engine_for, fit_row, metadata, upsert_each, utcnow


@dataclass(frozen=True)
class ReferenceList:
    """A list of reference data each sync copies whole into its own table; a new one is one entry in REFERENCE_LISTS.

    The table (store/tables.py) declares the columns: each is the record's field of the same name, besides
    `id` (the record's `key`), `record` (the record as received) and `synced_at`.
    """

    table: str  # in store.metadata; also the summary's figure and the task run's name
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
            dead_lettering.record(conn, operation=reference.operation, target=target, inputs={"record": item},
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
        dead_lettering.record(conn, operation=reference.operation, target=f"{table.name} {row['id']}",
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
            dead_lettering.record(conn, operation=reference.operation, target=target, inputs={"limit": limit},
                                error=error)
        return written, dead + 1
    with engine_for(database_url).begin() as conn:
        dead_lettering.resolve(conn, operation=reference.operation, targets=[target],
                             outcome={"resolved_by": "sync_contracts"})
    return written, dead


def _records_of(answer: Any, reference: ReferenceList) -> list[Any]:
    """The answer's records; an answer without a list where they belong is malformed, not an empty list."""
    records = answer.get(reference.items) if isinstance(answer, dict) else None
    if not isinstance(records, list):
        raise MalformedResponseError(f"the {reference.operation} answer has no {reference.items!r} list")
    return records
