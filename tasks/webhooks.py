"""Tasks for webhooks.

Generated from the spec by `make generate` (tools/generate_catalog.py); do not edit by hand.
"""

from __future__ import annotations

from typing import Any

from blocks import SpotDraftCredentials
from client import models as m
from tasks._base import call_operation, spotdraft_task

__all__ = [
    "create_webhook",
    "delete_webhook",
    "get_webhook_hmac_key",
    "retrigger_contract_webhooks",
    "send_sample_webhook",
]


@spotdraft_task("retrigger_contract_webhooks")
def retrigger_contract_webhooks(
    credentials: SpotDraftCredentials, body: m.RetriggerLatestWebhooksRequest | dict[str, Any]
) -> dict[str, Any]:
    """Deliver the latest webhook of contracts again."""
    return call_operation(credentials, "retrigger_contract_webhooks", body=body)


@spotdraft_task("create_webhook")
def create_webhook(
    credentials: SpotDraftCredentials, body: m.PublicWebhookCreateRequest | dict[str, Any]
) -> dict[str, Any]:
    """Register a webhook endpoint."""
    return call_operation(credentials, "create_webhook", body=body)


@spotdraft_task("get_webhook_hmac_key")
def get_webhook_hmac_key(credentials: SpotDraftCredentials) -> dict[str, Any]:
    """The key that signs webhook deliveries (returned as a secret)."""
    return call_operation(credentials, "get_webhook_hmac_key")


@spotdraft_task("delete_webhook")
def delete_webhook(credentials: SpotDraftCredentials, webhook_id: int) -> None:
    """Remove a webhook endpoint."""
    call_operation(credentials, "delete_webhook", path_params={"webhook_id": webhook_id})


@spotdraft_task("send_sample_webhook")
def send_sample_webhook(
    credentials: SpotDraftCredentials, body: m.ContractActivityDomainModel | dict[str, Any]
) -> dict[str, Any]:
    """The shape of a webhook delivery (documentation route)."""
    return call_operation(credentials, "send_sample_webhook", body=body)
