"""The flows people deploy: the contract sync, contract creation from records, review of failures,
the per-contract sync that webhook events trigger, the webhook's registration, the analytics sync and the
document archive."""

from flows.analytics import sync_analytics
from flows.archive import archive_contracts
from flows.create import create_contracts
from flows.review import review_failed_operations
from flows.sync import sync_contracts
from flows.sync_contract import sync_contract
from flows.webhook_registration import register_webhook, unregister_webhook

__all__ = [
    "archive_contracts",
    "create_contracts",
    "register_webhook",
    "review_failed_operations",
    "sync_analytics",
    "sync_contract",
    "sync_contracts",
    "unregister_webhook",
]
