"""Tasks for legal intake requests.

Generated from the spec by `make generate` (tools/generate_catalog.py); do not edit by hand.
"""

from __future__ import annotations

from typing import Any

from blocks import SpotDraftCredentials
from client import models as m
from tasks._base import call_operation, spotdraft_task

__all__ = [
    "create_legal_intake",
    "delete_legal_intake",
    "get_legal_intake",
    "list_legal_intakes",
    "update_legal_intake",
]


@spotdraft_task("list_legal_intakes")
def list_legal_intakes(
    credentials: SpotDraftCredentials,
    page: int | None = None,
    limit: int | None = None,
    query: str | None = None,
    sort: str | None = None,
    **filters: Any,
) -> dict[str, Any]:
    """One page of legal intake requests.

    Filters go as keywords with their wire names, e.g. `**{"filter__status[$ne]": ...}`.
    """
    return call_operation(
        credentials, "list_legal_intakes", query={"limit": limit, "page": page, "query": query, "sort": sort, **filters}
    )


@spotdraft_task("create_legal_intake")
def create_legal_intake(
    credentials: SpotDraftCredentials, body: m.LegalIntakePublicCreateRequest | dict[str, Any]
) -> dict[str, Any]:
    """Open a legal intake request."""
    return call_operation(credentials, "create_legal_intake", body=body)


@spotdraft_task("get_legal_intake")
def get_legal_intake(credentials: SpotDraftCredentials, legal_intake_id: int) -> dict[str, Any]:
    """One legal intake request."""
    return call_operation(credentials, "get_legal_intake", path_params={"legal_intake_id": legal_intake_id})


@spotdraft_task("update_legal_intake")
def update_legal_intake(
    credentials: SpotDraftCredentials,
    legal_intake_id: int,
    body: m.PatchedLegalIntakePublicUpdateRequest | dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Change a legal intake request."""
    return call_operation(
        credentials, "update_legal_intake", path_params={"legal_intake_id": legal_intake_id}, body=body
    )


@spotdraft_task("delete_legal_intake")
def delete_legal_intake(credentials: SpotDraftCredentials, legal_intake_id: int) -> None:
    """Delete a legal intake request."""
    call_operation(credentials, "delete_legal_intake", path_params={"legal_intake_id": legal_intake_id})
