"""Tasks for the external record a contract is linked to.

Generated from the spec by `make generate` (tools/generate_catalog.py); do not edit by hand.
"""

from __future__ import annotations

from typing import Any

from blocks import SpotDraftCredentials
from client import models as m
from tasks._base import call_operation, spotdraft_task

__all__ = [
    "get_contract_external_metadata",
    "set_contract_external_metadata",
]


@spotdraft_task("get_contract_external_metadata")
def get_contract_external_metadata(credentials: SpotDraftCredentials, contract_id: str) -> dict[str, Any]:
    """The external record a contract is linked to."""
    return call_operation(credentials, "get_contract_external_metadata", path_params={"contract_id": contract_id})


@spotdraft_task("set_contract_external_metadata")
def set_contract_external_metadata(
    credentials: SpotDraftCredentials,
    contract_id: str,
    body: m.ExternalMetadataCreateOrUpdateRequestData | dict[str, Any],
) -> dict[str, Any]:
    """Link a contract to an external record (create or replace)."""
    return call_operation(
        credentials, "set_contract_external_metadata", path_params={"contract_id": contract_id}, body=body
    )
