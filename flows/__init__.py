"""The flows people deploy: the contract sync, contract creation from records, review of failures."""

from flows.create import create_contracts
from flows.sync import sync_contracts

__all__ = ["create_contracts", "sync_contracts"]
