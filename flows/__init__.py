"""The flows people deploy: the contract sync, contract creation from records, review of failures."""

from flows.create import create_contracts
from flows.review import review_failed_operations
from flows.sync import sync_contracts

__all__ = ["create_contracts", "review_failed_operations", "sync_contracts"]
