"""Writes that are not safe to repeat, made safe by looking before writing.

SpotDraft promises no duplicate rule: two POSTs with the same external metadata id make two
contracts. So every create that carries an external id looks the id up FIRST, from every path
(the create flow, the review's replay, the `create_contract` task): an earlier run, an earlier
attempt or a person may have created it already, and nothing we hold locally can prove otherwise.
Only when nothing is there is the contract created; an ambiguous failure of that POST (a timeout,
a dropped connection, a 5xx after the request went out) and a 2xx without an id are reconciled by
the same look-up before anything else happens. A 409 gets the look-up too: the guide says to
re-fetch the current state before another write. Without an external id nothing can be looked
up, so such a create is never repeated after an ambiguous failure.
"""

from __future__ import annotations

import logging
from typing import Any

from client.errors import ConflictError, MalformedResponseError, NotFoundError, SpotDraftError
from client.http import SpotDraftClient
from client.request_builder import external_id_of
from client.retry import AttemptBudget


def find_by_external_id(
    client: SpotDraftClient, external_id: str, *, budget: AttemptBudget | None = None, logger=None
) -> dict[str, Any] | None:
    """The contract created with this external metadata id, or None when there is none.

    The look-up may answer several (SpotDraft keeps no uniqueness); the oldest, i.e. the lowest
    id, is the one every caller settles on, so two callers never pick different contracts.
    """
    try:
        found = client.call(
            "get_contracts_by_external_metadata", path_params={"external_metadata_id": external_id},
            budget=budget, logger=logger,
        )
    except NotFoundError:
        return None
    if isinstance(found, dict):  # tolerate a paginated or a single-object answer
        found = found["results"] if "results" in found else ([found] if found.get("id") is not None else [])
    if not isinstance(found, list):
        raise MalformedResponseError(f"look-up by external id {external_id!r} answered {type(found).__name__}")
    contracts = [c for c in found if isinstance(c, dict) and c.get("id") is not None]
    return min(contracts, key=_id_order) if contracts else None


def _id_order(contract: dict[str, Any]) -> tuple[int, str]:
    raw = str(contract["id"])
    digits = raw.rsplit("-", 1)[-1]
    return (int(digits), raw) if digits.isdigit() else (2**63, raw)


def create_or_find(
    client: SpotDraftClient, body: Any, *, budget: AttemptBudget | None = None,
    logger: logging.Logger | logging.LoggerAdapter | None = None,
) -> tuple[dict[str, Any], bool]:
    """The contract of `body`, created at most once: (contract, True if this call created it).

    With an external id the id is looked up first, and any doubt after the POST (an ambiguous
    failure, a conflict, an answer without an id) is settled by the same look-up.
    """
    logger = logger or logging.getLogger("spotdraft.client")
    external_id = external_id_of(body)
    if external_id is None:
        return client.call("create_contract", body=body, budget=budget, logger=logger), True

    budget = budget or client.new_budget()

    def look_up(b: AttemptBudget) -> dict[str, Any] | None:
        return find_by_external_id(client, external_id, budget=b, logger=logger)

    # The look-up is an operation of its own, with its own budget: the create's budget counts the
    # POST and what reconciles it (the client looks up before any attempt after the first).
    existing = look_up(client.new_budget())
    if existing is not None:
        return existing, False

    def reconcile(b: AttemptBudget) -> dict[str, Any] | None:
        found = look_up(b)
        if found is not None:
            logger.warning(
                "create_contract for external id %s: an earlier attempt had created contract %s; "
                "returning it instead of creating again", external_id, found.get("id"),
            )
        return found

    try:
        created = client.call("create_contract", body=body, budget=budget, logger=logger, reconcile=reconcile)
    except ConflictError as conflict:
        # The guide: re-fetch the current state before any other write. The conflict (not a failed
        # look-up) is what the caller hears about.
        try:
            found = look_up(budget) if budget.remaining else None
        except SpotDraftError:
            raise conflict from None
        if found is not None:
            return found, False
        raise
    if isinstance(created, dict) and created.get("id") is not None:
        return created, True
    # A success without an id: the contract most likely exists. Find it; never report it as failed.
    found = look_up(client.new_budget())
    if found is not None:
        return found, True
    raise MalformedResponseError(f"create for external id {external_id!r} answered without a contract id, "
                                 "and no contract with that external id was found")


def create_contract(
    client: SpotDraftClient, body: Any, *, budget: AttemptBudget | None = None,
    logger: logging.Logger | logging.LoggerAdapter | None = None,
) -> dict[str, Any]:
    """Create a contract at most once (see `create_or_find`); returns the contract, found or new."""
    return create_or_find(client, body, budget=budget, logger=logger)[0]
