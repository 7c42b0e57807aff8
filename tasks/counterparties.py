"""Tasks for counterparties."""

from __future__ import annotations

from typing import Any

from blocks import SpotDraftCredentials
from tasks._base import call_operation, spotdraft_task


@spotdraft_task("list_counterparties")
def list_counterparties(
    credentials: SpotDraftCredentials, page: int = 1, limit: int = 100, **filters: Any
) -> dict[str, Any]:
    """One page of counterparties."""
    return call_operation(credentials, "list_counterparties", query={"page": page, "limit": limit, **filters})
