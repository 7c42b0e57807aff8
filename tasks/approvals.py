"""Tasks for contract approvals.

Generated from the spec by `make generate` (tools/generate_catalog.py); do not edit by hand.
"""

from __future__ import annotations

from typing import Any

from blocks import SpotDraftCredentials
from client import models as m
from tasks._base import call_operation, spotdraft_task

__all__ = [
    "create_contract_approvals",
    "list_contract_approvals",
]


@spotdraft_task("list_contract_approvals")
def list_contract_approvals(credentials: SpotDraftCredentials, contract_id: str) -> dict[str, Any]:
    """Approvals of a contract and their state."""
    return call_operation(credentials, "list_contract_approvals", path_params={"contract_id": contract_id})


@spotdraft_task("create_contract_approvals")
def create_contract_approvals(
    credentials: SpotDraftCredentials,
    contract_id: str,
    body: m.ExternalCreateContractApprovalRequestList | dict[str, Any],
) -> list[dict[str, Any]]:
    """Add ad-hoc approvals to a contract and send them."""
    return call_operation(credentials, "create_contract_approvals", path_params={"contract_id": contract_id}, body=body)
