"""Tasks for contract search facets.

Generated from the spec by `make generate` (tools/generate_catalog.py); do not edit by hand.
"""

from __future__ import annotations

from typing import Any

from blocks import SpotDraftCredentials
from tasks._base import call_operation, spotdraft_task

__all__ = [
    "get_facet_options",
    "list_contract_facets",
]


@spotdraft_task("list_contract_facets")
def list_contract_facets(credentials: SpotDraftCredentials, include_options: bool | None = None) -> dict[str, Any]:
    """Search facets available for contracts."""
    return call_operation(credentials, "list_contract_facets", query={"include_options": include_options})


@spotdraft_task("get_facet_options")
def get_facet_options(
    credentials: SpotDraftCredentials, field_name: str, exclude: str | None = None, q: str | None = None
) -> dict[str, Any]:
    """Values one search facet can take."""
    return call_operation(
        credentials, "get_facet_options", path_params={"field_name": field_name}, query={"exclude": exclude, "q": q}
    )
