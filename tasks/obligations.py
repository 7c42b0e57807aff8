"""Tasks for contract obligations and obligation types.

Generated from the spec by `make generate` (tools/generate_catalog.py); do not edit by hand.
"""

from __future__ import annotations

from typing import Any

from blocks import SpotDraftCredentials
from client import models as m
from tasks._base import call_operation, spotdraft_task

__all__ = [
    "bulk_create_contract_obligations",
    "bulk_update_contract_obligations",
    "create_contract_obligation",
    "delete_contract_obligation",
    "get_contract_obligation",
    "get_obligation_type",
    "list_contract_obligations",
    "list_obligation_types",
    "update_contract_obligation",
]


@spotdraft_task("list_contract_obligations")
def list_contract_obligations(credentials: SpotDraftCredentials, contract_id: int) -> list[dict[str, Any]]:
    """Obligations of a contract."""
    return call_operation(credentials, "list_contract_obligations", path_params={"contract_id": contract_id})


@spotdraft_task("create_contract_obligation")
def create_contract_obligation(
    credentials: SpotDraftCredentials, contract_id: int, body: m.CreateContractObligationPublicRequest | dict[str, Any]
) -> dict[str, Any]:
    """Add an obligation to a contract."""
    return call_operation(
        credentials, "create_contract_obligation", path_params={"contract_id": contract_id}, body=body
    )


@spotdraft_task("bulk_create_contract_obligations")
def bulk_create_contract_obligations(
    credentials: SpotDraftCredentials,
    contract_id: int,
    body: m.CreateContractObligationPublicRequestList | list[dict[str, Any]] | None = None,
) -> list[dict[str, Any]]:
    """Add several obligations to a contract."""
    return call_operation(
        credentials, "bulk_create_contract_obligations", path_params={"contract_id": contract_id}, body=body
    )


@spotdraft_task("bulk_update_contract_obligations")
def bulk_update_contract_obligations(
    credentials: SpotDraftCredentials,
    contract_id: int,
    body: m.PatchedUpdateObligationRequestList | list[dict[str, Any]] | None = None,
) -> list[dict[str, Any]]:
    """Change several obligations of a contract."""
    return call_operation(
        credentials, "bulk_update_contract_obligations", path_params={"contract_id": contract_id}, body=body
    )


@spotdraft_task("get_contract_obligation")
def get_contract_obligation(credentials: SpotDraftCredentials, contract_id: int, obligation_id: int) -> dict[str, Any]:
    """One obligation of a contract."""
    return call_operation(
        credentials, "get_contract_obligation", path_params={"contract_id": contract_id, "obligation_id": obligation_id}
    )


@spotdraft_task("update_contract_obligation")
def update_contract_obligation(
    credentials: SpotDraftCredentials,
    contract_id: int,
    obligation_id: int,
    body: m.PatchedUpdateObligationRequest | dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Change one obligation of a contract."""
    return call_operation(
        credentials,
        "update_contract_obligation",
        path_params={"contract_id": contract_id, "obligation_id": obligation_id},
        body=body,
    )


@spotdraft_task("delete_contract_obligation")
def delete_contract_obligation(credentials: SpotDraftCredentials, contract_id: int, obligation_id: int) -> None:
    """Delete one obligation of a contract."""
    call_operation(
        credentials,
        "delete_contract_obligation",
        path_params={"contract_id": contract_id, "obligation_id": obligation_id},
    )


@spotdraft_task("list_obligation_types")
def list_obligation_types(credentials: SpotDraftCredentials) -> list[dict[str, Any]]:
    """Active obligation types."""
    return call_operation(credentials, "list_obligation_types")


@spotdraft_task("get_obligation_type")
def get_obligation_type(credentials: SpotDraftCredentials, obligation_type_id: int) -> dict[str, Any]:
    """One obligation type."""
    return call_operation(credentials, "get_obligation_type", path_params={"obligation_type_id": obligation_type_id})
