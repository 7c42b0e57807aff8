"""Tasks for SpotDraft user tasks (to-dos assigned to people).

Generated from the spec by `make generate` (tools/generate_catalog.py); do not edit by hand.
"""

from __future__ import annotations

from typing import Any

from blocks import SpotDraftCredentials
from client import models as m
from tasks._base import call_operation, spotdraft_task

__all__ = [
    "bulk_create_contract_tasks",
    "create_user_task",
]


@spotdraft_task("bulk_create_contract_tasks")
def bulk_create_contract_tasks(
    credentials: SpotDraftCredentials,
    contract_id: int,
    body: m.UserTaskCreateRequestList | list[dict[str, Any]] | None = None,
) -> list[dict[str, Any]]:
    """Create several user tasks on a contract."""
    return call_operation(
        credentials, "bulk_create_contract_tasks", path_params={"contract_id": contract_id}, body=body
    )


@spotdraft_task("create_user_task")
def create_user_task(
    credentials: SpotDraftCredentials, body: m.UserTaskCreateRequest | dict[str, Any]
) -> dict[str, Any]:
    """Create a user task."""
    return call_operation(credentials, "create_user_task", body=body)
