"""Tasks for comments on a contract's activity log.

Generated from the spec by `make generate` (tools/generate_catalog.py); do not edit by hand.
"""

from __future__ import annotations

from typing import Any

from blocks import SpotDraftCredentials
from client import models as m
from tasks._base import call_operation, spotdraft_task

__all__ = [
    "add_contract_comment",
    "list_contract_comments",
]


@spotdraft_task("list_contract_comments")
def list_contract_comments(
    credentials: SpotDraftCredentials, contract_id: int, page: int = 1, limit: int = 100
) -> dict[str, Any]:
    """One page of comments on a contract's activity log.

    The answer carries `total_results`, `page`, `limit` and `results`.
    """
    return call_operation(
        credentials,
        "list_contract_comments",
        path_params={"contract_id": contract_id},
        query={"limit": limit, "page": page},
    )


@spotdraft_task("add_contract_comment")
def add_contract_comment(
    credentials: SpotDraftCredentials, contract_id: int, body: m.ExternalCreateContractCommentRequest | dict[str, Any]
) -> dict[str, Any]:
    """Post a comment on a contract's activity log."""
    return call_operation(credentials, "add_contract_comment", path_params={"contract_id": contract_id}, body=body)
