"""Writes that are not safe to repeat, made safe by looking before writing again.

A create that failed ambiguously (a timeout, a dropped connection or a 5xx after the request went
out) may have created the contract anyway. Before any second POST we look the contract up by its
external metadata id; only if nothing is there do we create. A 409 gets the same look-up: the guide
says to re-fetch the current state before another write. Without an external id nothing can be
looked up, so the create is never repeated after an ambiguous failure.
"""

from __future__ import annotations

import logging
from typing import Any

from pydantic import BaseModel

from client.errors import ConflictError, MalformedResponseError, NotFoundError, SpotDraftError
from client.http import SpotDraftClient
from client.retry import AttemptBudget


def external_id_of(body: Any) -> str | None:
    if isinstance(body, BaseModel):
        body = body.model_dump(mode="json", exclude_none=True)
    ext = body.get("external_metadata") if isinstance(body, dict) else None
    value = ext.get("id") if isinstance(ext, dict) else None
    return str(value) if value not in (None, "") else None


def find_by_external_id(
    client: SpotDraftClient, external_id: str, *, budget: AttemptBudget | None = None, logger=None
) -> dict[str, Any] | None:
    """The contract created with this external metadata id, or None when there is none."""
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
    return next((c for c in found if isinstance(c, dict) and c.get("id") is not None), None)


def create_contract(
    client: SpotDraftClient, body: Any, *, budget: AttemptBudget | None = None,
    logger: logging.Logger | logging.LoggerAdapter | None = None,
) -> dict[str, Any]:
    """Create a contract at most once, reconciling ambiguous failures and conflicts by external id."""
    logger = logger or logging.getLogger("spotdraft.client")
    external_id = external_id_of(body)
    if external_id is None:
        return client.call("create_contract", body=body, budget=budget, logger=logger)

    budget = budget or client.new_budget()

    def reconcile(b: AttemptBudget) -> dict[str, Any] | None:
        found = find_by_external_id(client, external_id, budget=b, logger=logger)
        if found is not None:
            logger.warning(
                "create_contract for external id %s: an earlier attempt had created contract %s; "
                "returning it instead of creating again", external_id, found.get("id"),
            )
        return found

    try:
        created = client.call("create_contract", body=body, budget=budget, logger=logger, reconcile=reconcile)
    except ConflictError as conflict:
        # The guide: re-fetch the current state before any other write. Within the budget only, and
        # the conflict (not a failed look-up) is what the caller hears about.
        if budget.remaining == 0:
            raise
        try:
            found = reconcile(budget)
        except SpotDraftError:
            raise conflict from None
        if found is not None:
            return found
        raise
    if not isinstance(created, dict) or created.get("id") is None:
        raise MalformedResponseError(f"create for external id {external_id!r} answered without a contract id")
    return created
