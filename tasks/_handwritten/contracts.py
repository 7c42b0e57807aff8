"""Contract tasks written by hand; tasks.contracts re-exports them."""

from __future__ import annotations

from typing import Any

from blocks import SpotDraftCredentials
from client import writes
from tasks._base import budget_for_this_run, call_operation, run_logger, spotdraft_task


# Hand-written: the docstring shows both spellings of a filter, and the spec's free-text `query`
# parameter stays one of the **filters rather than a keyword of its own.
@spotdraft_task("list_contracts")
def list_contracts(
    credentials: SpotDraftCredentials, page: int = 1, limit: int = 100, **filters: Any
) -> dict[str, Any]:
    """One page of contracts; filters as `filter__last_updated_on[$gte]` or `filter__last_updated_on__gte`."""
    return call_operation(credentials, "list_contracts", query={"page": page, "limit": limit, **filters})


# Hand-written: a create is not safe to repeat, so it goes through the writer that reconciles an
# ambiguous failure by external id instead of a plain call.
@spotdraft_task("create_contract")
def create_contract(credentials: SpotDraftCredentials, body: dict[str, Any]) -> dict[str, Any]:
    """Create a contract; with `external_metadata.id`, an ambiguous failure is reconciled, never re-posted blindly."""
    client = credentials.get_client()
    return writes.create_contract(client, body, budget=budget_for_this_run(client), logger=run_logger())
