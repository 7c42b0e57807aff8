"""Deletions a full pass finds: the contracts it did not see, each confirmed by SpotDraft's 404 before it
is marked deleted (task `confirm-deleted`), and a census of upstream ids for a resumed pass."""

from __future__ import annotations

from typing import Any

from prefect import task
from prefect.cache_policies import NO_CACHE
from prefect.logging import get_run_logger

import tasks
from blocks import SpotDraftCredentials
from client import SpotDraftError
from client.errors import AuthenticationError, NotFoundError
from flows.replays import exact_inputs, replays
from flows.sync_pages import has_id
from store import database_now, dead_lettering, engine_for, mark_deleted

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
            dead_lettering.record(conn, operation="get_contract_status", target=composite_id,
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


# -- how the review retries this flow's dead letters (flows.replays) ------------------------------

@replays("get_contract_status")
def _replay_deletion_check(credentials, database_url, inputs, payload) -> dict[str, Any]:
    """Ask again whether a contract a full refresh did not see is gone: a 404 marks it deleted."""
    composite_id = exact_inputs(inputs, payload)["composite_id"]
    engine = engine_for(database_url)
    checked_at = database_now(engine)
    try:
        status = tasks.get_contract_status(credentials, composite_id).get("contract_status")
    except NotFoundError:
        with engine.begin() as conn:
            mark_deleted(conn, [composite_id], checked_at)
        return {"composite_id": composite_id, "deleted": True}
    return {"composite_id": composite_id, "deleted": False, "status": status}
