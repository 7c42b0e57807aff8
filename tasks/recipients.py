"""Tasks for contract recipients.

Generated from the spec by `make generate` (tools/generate_catalog.py); do not edit by hand.
"""

from __future__ import annotations

from typing import Any

from blocks import SpotDraftCredentials
from tasks._base import call_operation, spotdraft_task

__all__ = [
    "get_recipient_link",
    "list_contract_recipients",
]


@spotdraft_task("list_contract_recipients")
def list_contract_recipients(credentials: SpotDraftCredentials, composite_id: str) -> dict[str, Any]:
    """Recipients of a contract and where each stands."""
    return call_operation(credentials, "list_contract_recipients", path_params={"composite_id": composite_id})


@spotdraft_task("get_recipient_link")
def get_recipient_link(credentials: SpotDraftCredentials, contract_id: int, recipient_email: str) -> dict[str, Any]:
    """The action link (sign, approve...) of one recipient."""
    return call_operation(
        credentials,
        "get_recipient_link",
        path_params={"contract_id": contract_id},
        query={"recipient_email": recipient_email},
    )
