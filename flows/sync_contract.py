"""sync_contract: one contract, SpotDraft -> SQL, seconds after SpotDraft says it changed.

The design, and why: docs/design/sync.md (section `flows/sync_contract.py`).
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from typing import Annotated, Any

import sqlalchemy as sa
from prefect.logging import get_run_logger
from prefect.states import Completed
from pydantic import BeforeValidator, Field

from blocks import SpotDraftCredentials
from client import SpotDraftError
from client.contract_ids import CONTRACT_ID, as_text, contract_key
from client.errors import MalformedResponseError, NotFoundError
from flows.common import (
    data_flow,
    database_url_or_default,
    emit_dead_letters,
    finished,
    shown_database_url,
)
from flows.params import OptionalText, credentials_form, database_url_form, form
from flows.replays import exact_inputs, replays
from flows.sync_pages import enrich, has_id, store_contracts
from store import contract_syncs, contracts, database_now, dead_lettering, engine_for, leases, mark_deleted, utcnow
from store.sync_tickets import counters, take_ticket

NOT_LISTED = "not listed"  # the outcome of a run whose contract exists but is not in the list it can read
COVERED = "Covered"  # the name of a Completed run whose change a read of another run had already stored
OPERATION = "sync_contract"  # its dead letters' operation; the review replays them by running it again
TURN_POLL_SECONDS = 0.2  # how often a run waiting for its contract's turn looks again
SETTLE_ROUNDS = 10  # a burst that never quiets is read after this many settle periods anyway
# A run renews its contract's lease while it lives (store.leases.kept): one that died (its process killed) holds
# the contract up for this long at most, one that is merely slow keeps its turn.
LEASE_SECONDS = 30


ContractId = Annotated[str, BeforeValidator(as_text), Field(pattern=CONTRACT_ID.pattern.join("^$"))]


def _wait_for_turn(engine, key: str, ticket: int, holder: str) -> bool:
    """Take the contract's lease (True), or find this run's ticket covered while waiting for it (False).

    A holder that died keeps the lease until it lapses (LEASE_SECONDS); runs wait that long.
    """
    while True:
        if counters(engine, key)[1] >= ticket:
            return False
        if leases.acquire(engine, _lease_key(key), holder, LEASE_SECONDS):
            if counters(engine, key)[1] >= ticket:  # covered between the look and the lease
                leases.release(engine, _lease_key(key), holder)
                return False
            return True
        time.sleep(TURN_POLL_SECONDS)


def _settled(engine, key: str, settle_seconds: float) -> int:
    """The tickets issued once none has been for `settle_seconds` (at most SETTLE_ROUNDS periods)."""
    requested = counters(engine, key)[0]
    for _ in range(SETTLE_ROUNDS if settle_seconds > 0 else 0):
        time.sleep(settle_seconds)
        now = counters(engine, key)[0]
        if now == requested:
            break
        requested = now
    return requested


def _lease_key(key: str) -> str:
    return f"sync-contract:{key}"


def listed_records(client, key: str, logger) -> list[Any]:
    """The list answer's records for this one contract (a record of another contract is not ours to store).

    Asked for by its integer id, whatever kind the caller's composite id said: a wrong T-/H- given by
    hand must not find nothing and cover the runs waiting for the real change.
    """
    answer = client.call("list_contracts", query={"page": 1, "limit": 10, "filter__contract_id": key},
                         logger=logger)
    records = answer.get("results") if isinstance(answer, dict) else None
    if not isinstance(records, list):
        raise MalformedResponseError("the list answer has no results list")

    def same_contract(record: Any) -> bool:
        if not has_id(record):
            return True  # kept: store_contracts makes it a dead letter rather than losing it
        ids = [str(i) for i in (record.get("id"), record.get("contract_id")) if isinstance(i, int | str)]
        return any(CONTRACT_ID.fullmatch(i) and contract_key(i) == key for i in ids)

    return [r for r in records if same_contract(r)]


def _gone_or_hidden(client, engine, key: str, logger) -> dict[str, Any]:
    """The list does not show the contract: marked deleted when SpotDraft answers 404 for it."""
    with engine.connect() as conn:
        composite = conn.execute(sa.select(contracts.c.composite_id).where(
            contracts.c.id.in_([f"T-{key}", f"H-{key}"]))).scalar()
    if composite is None:
        logger.info("Contract %s is not in SpotDraft's list, nor in the database: nothing to store", key)
        return {"outcome": "not found"}
    checked_at = database_now(engine)
    try:
        client.call("get_contract_status", path_params={"composite_id": composite}, logger=logger)
    except NotFoundError:
        with engine.begin() as conn:
            mark_deleted(conn, [composite], checked_at)
        return {"outcome": "marked deleted", "composite_id": composite}
    # It exists, but the list (what the full sync reads too) does not show it to these credentials: the
    # change this run was asked for cannot be read, which is a dead letter (recorded with the run's counters).
    logger.warning("Contract %s exists but SpotDraft's list does not show it; its row is left as it was", composite)
    return {"outcome": NOT_LISTED, "composite_id": composite}


class NotListed(Exception):
    """A contract SpotDraft answers for by id, but that its contract list does not show to these credentials."""


def _run_name(parameters: dict[str, Any]) -> str:
    shown = str(parameters.get("contract_id", ""))[:40]
    return f"sync-contract {shown}"


@data_flow("sync-contract", run_name=_run_name)
def sync_contract(
    credentials: SpotDraftCredentials = credentials_form(),
    contract_id: ContractId = form(
        "Contract id",
        "SpotDraft's id of the contract (123), or its composite id (T-123, H-123). The webhook trigger "
        "passes the id of the event's contract.",
    ),
    database_url: OptionalText = database_url_form(
        "SQLAlchemy URL of the database the sync writes, e.g. postgresql+psycopg://user@host/db."
    ),
    settle_seconds: Annotated[float, Field(ge=0, le=60)] = form(
        "Settle (seconds)",
        "How long no other run for the same contract must have started before this one reads it: a burst of "
        "deliveries is then read once (0-60).",
        2.0,
    ),
):
    """Copy one SpotDraft contract (with its key pointers) into the sync's tables, as the full sync would."""
    logger = get_run_logger()
    key = contract_key(contract_id)
    database_url = database_url_or_default(database_url)
    engine = engine_for(database_url)
    ticket, holder = take_ticket(engine, key), leases.holder_id()
    if not _wait_for_turn(engine, key, ticket, holder):
        message = f"contract {key}: a sync that began after this run was asked for has stored it"
        logger.info(message)
        return Completed(name=COVERED, message=message, data={"contract_id": key, "outcome": "covered"})
    try:
        with leases.kept(engine, _lease_key(key), holder, LEASE_SECONDS):
            return _sync_one(credentials, engine, contract_id, key, logger, database_url, settle_seconds)
    finally:
        leases.release(engine, _lease_key(key), holder)


def _sync_one(credentials, engine, contract_id: str, key: str, logger, database_url: str, settle_seconds: float):
    client = credentials.get_client()
    requested = _settled(engine, key, settle_seconds)  # every ticket up to it was issued before the read below
    target = f"contract {key}"
    read_at = database_now(engine)
    try:
        records = listed_records(client, key, logger)
        if not records:
            summary = _gone_or_hidden(client, engine, key, logger)
            dead = 0
        else:
            with ThreadPoolExecutor(max_workers=2) as pool:
                enriched = enrich(client, [r for r in records if has_id(r)], pool, logger)
    except SpotDraftError as error:
        with engine.begin() as conn:
            dead_lettering.record(conn, operation=OPERATION, target=target, inputs={"contract_id": contract_id},
                                error=error)
        emit_dead_letters(1)
        raise
    with engine.begin() as conn:
        if records:
            written, dead, _ = store_contracts(conn, records, enriched, read_at, None, f"{target} list answer",
                                               logger, resolved_by=OPERATION)
            summary = {"outcome": "stored" if written else "not stored", "written": written}
        conn.execute(contract_syncs.update().where(contract_syncs.c.contract_id == key).values(
            # Runs take turns, but one that outlived its lease may end after a later one: never lower it.
            covered=sa.case((contract_syncs.c.covered < requested, requested), else_=contract_syncs.c.covered),
            synced_at=utcnow(), flow_run_id=dead_lettering.current_flow_run()[1]))
        if summary["outcome"] == NOT_LISTED:
            dead_lettering.record(conn, operation=OPERATION, target=target, inputs={"contract_id": contract_id},
                                error=NotListed(f"{summary['composite_id']} exists, but SpotDraft's contract list does "
                                                "not show it to these credentials, so its changes cannot be read "
                                                "(check the API user's access to it)"))
            dead = 1
        else:
            dead_lettering.resolve(conn, operation=OPERATION, targets=[target], outcome={"resolved_by": OPERATION})
    summary = {"contract_id": key, **summary, "dead_lettered": dead, "database": shown_database_url(database_url)}
    message = f"contract {key}: {summary['outcome']}"
    return finished(message, summary, dead)


# -- how the review retries this flow's dead letters (flows.replays) ------------------------------

@replays(OPERATION)
def _replay_sync_contract(credentials, database_url, inputs, payload) -> dict[str, Any]:
    contract_id = exact_inputs(inputs, payload)["contract_id"]
    state = sync_contract(credentials, contract_id, database_url=database_url, return_state=True)
    return state.result()  # a failed run raises: the letter failed again
