"""Tasks for key pointers: the metadata values of contracts and their definitions.

Generated from the spec by `make generate` (tools/generate_catalog.py); do not edit by hand.
"""

from __future__ import annotations

from typing import Any

from blocks import SpotDraftCredentials
from client import models as m
from tasks._base import call_operation, spotdraft_task

__all__ = [
    "bulk_update_contract_key_pointers",
    "get_contract_key_pointers",
    "get_key_pointer_field_mapping",
    "list_key_pointer_definitions",
    "update_contract_key_pointer",
]


@spotdraft_task("get_contract_key_pointers")
def get_contract_key_pointers(credentials: SpotDraftCredentials, composite_id: str) -> list[dict[str, Any]]:
    """The key pointers (extracted metadata values) of one contract."""
    return call_operation(credentials, "get_contract_key_pointers", path_params={"composite_id": composite_id})


@spotdraft_task("bulk_update_contract_key_pointers")
def bulk_update_contract_key_pointers(
    credentials: SpotDraftCredentials, composite_id: str, body: m.ContractKeyPointerBulkRequest | dict[str, Any]
) -> list[dict[str, Any]]:
    """Set several key pointer values of a contract."""
    return call_operation(
        credentials, "bulk_update_contract_key_pointers", path_params={"composite_id": composite_id}, body=body
    )


@spotdraft_task("update_contract_key_pointer")
def update_contract_key_pointer(
    credentials: SpotDraftCredentials,
    contract_id: str,
    contract_key_pointer_id: str,
    body: m.PatchedContractKeyPointerUpdateRequest | dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Set one key pointer value of a contract."""
    return call_operation(
        credentials,
        "update_contract_key_pointer",
        path_params={"contract_id": contract_id, "contract_key_pointer_id": contract_key_pointer_id},
        body=body,
    )


@spotdraft_task("list_key_pointer_definitions")
def list_key_pointer_definitions(
    credentials: SpotDraftCredentials, contract_type_id: int, is_external: bool | None = None
) -> list[dict[str, Any]]:
    """Key pointer definitions of a contract type."""
    return call_operation(
        credentials,
        "list_key_pointer_definitions",
        query={"contract_type_id": contract_type_id, "is_external": is_external},
    )


@spotdraft_task("get_key_pointer_field_mapping")
def get_key_pointer_field_mapping(
    credentials: SpotDraftCredentials, body: m.ListFieldNameMappingViewRequest | dict[str, Any] | None = None
) -> dict[str, Any]:
    """Which key pointers template fields map to."""
    return call_operation(credentials, "get_key_pointer_field_mapping", body=body)
