"""Tasks for clickwraps (recorded acceptance of agreements).

Generated from the spec by `make generate` (tools/generate_catalog.py); do not edit by hand.
"""

from __future__ import annotations

from typing import Any

from blocks import SpotDraftCredentials
from client import models as m
from tasks._base import call_operation, spotdraft_task

__all__ = [
    "execute_clickwrap",
    "get_clickwrap",
    "get_clickwrap_consent_status",
    "preview_clickwrap_agreement",
]


@spotdraft_task("preview_clickwrap_agreement")
def preview_clickwrap_agreement(
    credentials: SpotDraftCredentials, clickwrap_id: int, body: m.ClickwrapAgreementPreviewRequest | dict[str, Any]
) -> str:
    """Render a clickwrap agreement with sample data."""
    return call_operation(
        credentials, "preview_clickwrap_agreement", path_params={"clickwrap_id": clickwrap_id}, body=body
    )


@spotdraft_task("get_clickwrap")
def get_clickwrap(credentials: SpotDraftCredentials, clickwrap_public_id: str) -> dict[str, Any]:
    """One clickwrap and its agreements."""
    return call_operation(credentials, "get_clickwrap", path_params={"clickwrap_public_id": clickwrap_public_id})


@spotdraft_task("get_clickwrap_consent_status")
def get_clickwrap_consent_status(
    credentials: SpotDraftCredentials,
    clickwrap_public_id: str,
    body: m.PublicGetClickwrapConsentStatusRequestData | dict[str, Any],
) -> dict[str, Any]:
    """Whether a user has accepted a clickwrap's agreements."""
    return call_operation(
        credentials, "get_clickwrap_consent_status", path_params={"clickwrap_public_id": clickwrap_public_id}, body=body
    )


@spotdraft_task("execute_clickwrap")
def execute_clickwrap(
    credentials: SpotDraftCredentials, clickwrap_public_id: str, body: m.CreateClickwrapContractRequest | dict[str, Any]
) -> dict[str, Any]:
    """Record a user's acceptance of a clickwrap as a contract."""
    return call_operation(
        credentials, "execute_clickwrap", path_params={"clickwrap_public_id": clickwrap_public_id}, body=body
    )
