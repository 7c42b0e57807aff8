"""Tasks for workspace users and roles.

Generated from the spec by `make generate` (tools/generate_catalog.py); do not edit by hand.
"""

from __future__ import annotations

from typing import Any

from blocks import SpotDraftCredentials
from client import models as m
from tasks._base import call_operation, spotdraft_task

__all__ = [
    "add_role_members",
    "deactivate_user",
    "invite_user",
    "list_contract_authorized_users",
    "list_roles",
    "list_users",
    "remove_role_members",
    "update_user",
]


@spotdraft_task("list_roles")
def list_roles(credentials: SpotDraftCredentials) -> dict[str, Any]:
    """List the workspace's active roles."""
    return call_operation(credentials, "list_roles")


@spotdraft_task("add_role_members")
def add_role_members(
    credentials: SpotDraftCredentials, role_id: int, body: m.PublicRoleMembersAddRequest | dict[str, Any] | None = None
) -> list[dict[str, Any]]:
    """Add users to a role."""
    return call_operation(credentials, "add_role_members", path_params={"role_id": role_id}, body=body)


@spotdraft_task("remove_role_members")
def remove_role_members(credentials: SpotDraftCredentials, role_id: int) -> None:
    """Remove users from a role (the role stays)."""
    call_operation(credentials, "remove_role_members", path_params={"role_id": role_id})


@spotdraft_task("list_users")
def list_users(
    credentials: SpotDraftCredentials,
    page: int = 1,
    limit: int = 100,
    user_email: str | None = None,
    user_name: str | None = None,
) -> dict[str, Any]:
    """One page of workspace users with their roles.

    The answer carries `total_results`, `page`, `limit` and `results`.
    """
    return call_operation(
        credentials,
        "list_users",
        query={"limit": limit, "page": page, "user_email": user_email, "user_name": user_name},
    )


@spotdraft_task("invite_user")
def invite_user(
    credentials: SpotDraftCredentials, body: m.InviteUserAndAssignRolesPublicRequest | dict[str, Any]
) -> dict[str, Any]:
    """Invite a user to the workspace and give them roles."""
    return call_operation(credentials, "invite_user", body=body)


@spotdraft_task("list_contract_authorized_users")
def list_contract_authorized_users(credentials: SpotDraftCredentials, contract_id: int) -> dict[str, Any]:
    """Users allowed to see one contract."""
    return call_operation(credentials, "list_contract_authorized_users", path_params={"contract_id": contract_id})


@spotdraft_task("update_user")
def update_user(
    credentials: SpotDraftCredentials, user_id: int, body: m.PatchedExternalUserEdit | dict[str, Any] | None = None
) -> dict[str, Any]:
    """Change a user's roles or details."""
    return call_operation(credentials, "update_user", path_params={"user_id": user_id}, body=body)


@spotdraft_task("deactivate_user")
def deactivate_user(credentials: SpotDraftCredentials, user_id: int) -> None:
    """Deactivate a workspace user."""
    call_operation(credentials, "deactivate_user", path_params={"user_id": user_id})
