"""Tasks for counterparties, their addresses and contacts.

Generated from the spec by `make generate` (tools/generate_catalog.py); do not edit by hand.
"""

from __future__ import annotations

from typing import Any

from blocks import SpotDraftCredentials
from client import models as m
from tasks._base import call_operation, spotdraft_task

__all__ = [
    "bulk_update_counterparty_contacts",
    "create_counterparty",
    "create_counterparty_address",
    "create_counterparty_contact",
    "delete_counterparty_contact",
    "get_counterparty",
    "list_counterparties",
    "list_counterparty_addresses",
    "list_counterparty_contacts",
    "update_counterparty",
    "update_counterparty_address",
    "update_counterparty_contact",
]


@spotdraft_task("list_counterparties")
def list_counterparties(
    credentials: SpotDraftCredentials, page: int = 1, limit: int = 100, **filters: Any
) -> dict[str, Any]:
    """One page of counterparties; filters as `filter__client_email_address` or `filter_custom__<field>`."""
    return call_operation(credentials, "list_counterparties", query={"limit": limit, "page": page, **filters})


@spotdraft_task("create_counterparty")
def create_counterparty(
    credentials: SpotDraftCredentials, body: m.CreateCounterPartyAPIRequest | dict[str, Any]
) -> dict[str, Any]:
    """Create a counterparty."""
    return call_operation(credentials, "create_counterparty", body=body)


@spotdraft_task("get_counterparty")
def get_counterparty(credentials: SpotDraftCredentials, counterparty_id: int) -> dict[str, Any]:
    """One counterparty."""
    return call_operation(credentials, "get_counterparty", path_params={"counterparty_id": counterparty_id})


@spotdraft_task("update_counterparty")
def update_counterparty(
    credentials: SpotDraftCredentials,
    counterparty_id: int,
    body: m.PatchedExternalCounterpartyUpdateRequest | dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Change a counterparty."""
    return call_operation(
        credentials, "update_counterparty", path_params={"counterparty_id": counterparty_id}, body=body
    )


@spotdraft_task("list_counterparty_addresses")
def list_counterparty_addresses(
    credentials: SpotDraftCredentials, counterparty_id: int, page: int = 1, limit: int = 100
) -> dict[str, Any]:
    """One page of a counterparty's addresses.

    The answer carries `total_results`, `page`, `limit` and `results`.
    """
    return call_operation(
        credentials,
        "list_counterparty_addresses",
        path_params={"counterparty_id": counterparty_id},
        query={"limit": limit, "page": page},
    )


@spotdraft_task("create_counterparty_address")
def create_counterparty_address(
    credentials: SpotDraftCredentials, counterparty_id: int, body: m.CreateCounterPartyAddressRequest | dict[str, Any]
) -> dict[str, Any]:
    """Add an address to a counterparty."""
    return call_operation(
        credentials, "create_counterparty_address", path_params={"counterparty_id": counterparty_id}, body=body
    )


@spotdraft_task("update_counterparty_address")
def update_counterparty_address(
    credentials: SpotDraftCredentials,
    address_id: int,
    counterparty_id: int,
    body: m.PatchedExternalCounterpartyAddressUpdateRequest | dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Change one address of a counterparty."""
    return call_operation(
        credentials,
        "update_counterparty_address",
        path_params={"address_id": address_id, "counterparty_id": counterparty_id},
        body=body,
    )


@spotdraft_task("list_counterparty_contacts")
def list_counterparty_contacts(
    credentials: SpotDraftCredentials, counterparty_id: int, page: int = 1, limit: int = 100
) -> dict[str, Any]:
    """One page of a counterparty's contacts.

    The answer carries `total_results`, `page`, `limit` and `results`.
    """
    return call_operation(
        credentials,
        "list_counterparty_contacts",
        path_params={"counterparty_id": counterparty_id},
        query={"limit": limit, "page": page},
    )


@spotdraft_task("create_counterparty_contact")
def create_counterparty_contact(
    credentials: SpotDraftCredentials,
    counterparty_id: int,
    body: m.ExternalCounterpartyContactCreateRequest | dict[str, Any],
) -> dict[str, Any]:
    """Add a contact to a counterparty."""
    return call_operation(
        credentials, "create_counterparty_contact", path_params={"counterparty_id": counterparty_id}, body=body
    )


@spotdraft_task("bulk_update_counterparty_contacts")
def bulk_update_counterparty_contacts(
    credentials: SpotDraftCredentials,
    counterparty_id: int,
    body: m.PatchedExternalCounterpartyContactBulkUpdateListRequest | dict[str, Any],
) -> list[dict[str, Any]]:
    """Change several contacts of a counterparty."""
    return call_operation(
        credentials, "bulk_update_counterparty_contacts", path_params={"counterparty_id": counterparty_id}, body=body
    )


@spotdraft_task("update_counterparty_contact")
def update_counterparty_contact(
    credentials: SpotDraftCredentials,
    contact_id: int,
    counterparty_id: int,
    body: m.PatchedExternalCounterpartyContactUpdateRequest | dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Change one contact of a counterparty."""
    return call_operation(
        credentials,
        "update_counterparty_contact",
        path_params={"contact_id": contact_id, "counterparty_id": counterparty_id},
        body=body,
    )


@spotdraft_task("delete_counterparty_contact")
def delete_counterparty_contact(credentials: SpotDraftCredentials, contact_id: int, counterparty_id: int) -> None:
    """Delete one contact of a counterparty."""
    call_operation(
        credentials,
        "delete_counterparty_contact",
        path_params={"contact_id": contact_id, "counterparty_id": counterparty_id},
    )
