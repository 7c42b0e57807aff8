"""The flows people deploy: the contract sync, contract creation from records, review of failures,
the per-contract sync that webhook events trigger, and the webhook's registration.

Imported on first use (PEP 562): `python -m flows.migrate` and the storage modules need no Prefect,
and start in a fraction of a second instead of the seconds importing every flow takes.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # type checkers see the real objects
    from flows.create import create_contracts
    from flows.review import review_failed_operations
    from flows.sync import sync_contracts
    from flows.sync_contract import sync_contract
    from flows.webhook_registration import register_webhook, unregister_webhook

_HOME = {
    "create_contracts": "flows.create",
    "register_webhook": "flows.webhook_registration",
    "review_failed_operations": "flows.review",
    "sync_contract": "flows.sync_contract",
    "sync_contracts": "flows.sync",
    "unregister_webhook": "flows.webhook_registration",
}

__all__ = [
    "create_contracts",
    "register_webhook",
    "review_failed_operations",
    "sync_contract",
    "sync_contracts",
    "unregister_webhook",
]


def __getattr__(name: str) -> Any:
    if name not in _HOME:
        raise AttributeError(f"module 'flows' has no attribute {name!r}")
    value = getattr(importlib.import_module(_HOME[name]), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_HOME})
