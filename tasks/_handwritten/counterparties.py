"""Counterparty tasks written by hand; tasks.counterparties re-exports them."""

from __future__ import annotations

from typing import Any

from blocks import SpotDraftCredentials
from tasks._base import call_operation, spotdraft_task


# Hand-written: the docstring shows both kinds of filter, built-in and custom field.
@spotdraft_task("list_counterparties")
def list_counterparties(
    credentials: SpotDraftCredentials, page: int = 1, limit: int = 100, **filters: Any
) -> dict[str, Any]:
    """One page of counterparties; filters as `filter__client_email_address` or `filter_custom__<field>`."""
    return call_operation(credentials, "list_counterparties", query={"page": page, "limit": limit, **filters})
