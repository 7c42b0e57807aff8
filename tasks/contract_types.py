"""Tasks for contract types.

Generated from the spec by `make generate` (tools/generate_catalog.py); do not edit by hand.
"""

from __future__ import annotations

from typing import Any

from blocks import SpotDraftCredentials
from client import models as m
from tasks._base import call_operation, spotdraft_task

__all__ = [
    "get_contract_type_access_control",
    "get_contract_type_intake_questionnaire",
    "list_contract_type_entities",
    "list_contract_types",
]


@spotdraft_task("list_contract_types")
def list_contract_types(credentials: SpotDraftCredentials) -> list[dict[str, Any]]:
    """Contract types of the workspace."""
    return call_operation(credentials, "list_contract_types")


@spotdraft_task("get_contract_type_access_control")
def get_contract_type_access_control(
    credentials: SpotDraftCredentials,
    contract_type_id: int,
    body: m.ContractTypeAccessControlListAPIRequest | dict[str, Any],
) -> dict[str, Any]:
    """Who may use a contract type, for the given users."""
    return call_operation(
        credentials, "get_contract_type_access_control", path_params={"contract_type_id": contract_type_id}, body=body
    )


@spotdraft_task("list_contract_type_entities")
def list_contract_type_entities(credentials: SpotDraftCredentials, contract_type_id: int) -> list[dict[str, Any]]:
    """Entities that may contract under a contract type."""
    return call_operation(
        credentials, "list_contract_type_entities", path_params={"contract_type_id": contract_type_id}
    )


@spotdraft_task("get_contract_type_intake_questionnaire")
def get_contract_type_intake_questionnaire(
    credentials: SpotDraftCredentials, contract_type_id: int
) -> list[dict[str, Any]]:
    """The intake form questions of a contract type."""
    return call_operation(
        credentials, "get_contract_type_intake_questionnaire", path_params={"contract_type_id": contract_type_id}
    )
