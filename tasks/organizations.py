"""Tasks for the workspace's organization: entities and organization types.

Generated from the spec by `make generate` (tools/generate_catalog.py); do not edit by hand.
"""

from __future__ import annotations

from typing import Any

from blocks import SpotDraftCredentials
from client import models as m
from tasks._base import call_operation, spotdraft_task

__all__ = [
    "create_organization_entity",
    "list_organization_entities",
    "list_organization_types",
]


@spotdraft_task("list_organization_entities")
def list_organization_entities(credentials: SpotDraftCredentials) -> list[dict[str, Any]]:
    """Legal entities of the workspace's organization."""
    return call_operation(credentials, "list_organization_entities")


@spotdraft_task("create_organization_entity")
def create_organization_entity(
    credentials: SpotDraftCredentials, body: m.CreateOrganizationEntityRequest | dict[str, Any]
) -> dict[str, Any]:
    """Add a legal entity to the organization."""
    return call_operation(credentials, "create_organization_entity", body=body)


@spotdraft_task("list_organization_types")
def list_organization_types(
    credentials: SpotDraftCredentials, jurisdiction_iso_code: str | None = None
) -> list[dict[str, Any]]:
    """Organization types, optionally for one jurisdiction."""
    return call_operation(
        credentials, "list_organization_types", query={"jurisdiction_iso_code": jurisdiction_iso_code}
    )
