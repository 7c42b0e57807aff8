"""Tasks for who is invited to a contract.

Generated from the spec by `make generate` (tools/generate_catalog.py); do not edit by hand.
"""

from __future__ import annotations

from typing import Any

from blocks import SpotDraftCredentials
from client import models as m
from tasks._base import call_operation, spotdraft_task

__all__ = [
    "invite_to_contract",
    "uninvite_all_from_contract",
    "uninvite_from_contract",
]


@spotdraft_task("invite_to_contract")
def invite_to_contract(
    credentials: SpotDraftCredentials, contract_id: int, body: m.ExternalContractInviteRequest | dict[str, Any]
) -> dict[str, Any]:
    """Give users or roles access to a contract."""
    return call_operation(credentials, "invite_to_contract", path_params={"contract_id": contract_id}, body=body)


@spotdraft_task("uninvite_from_contract")
def uninvite_from_contract(
    credentials: SpotDraftCredentials,
    contract_id: int,
    body: m.ExternalContractUnInviteRequest | dict[str, Any] | None = None,
) -> Any:
    """Take a user's or role's access to a contract away."""
    return call_operation(credentials, "uninvite_from_contract", path_params={"contract_id": contract_id}, body=body)


@spotdraft_task("uninvite_all_from_contract")
def uninvite_all_from_contract(credentials: SpotDraftCredentials, contract_id: int) -> Any:
    """Take every invited user's and role's access away."""
    return call_operation(credentials, "uninvite_all_from_contract", path_params={"contract_id": contract_id})
