"""One Prefect task per SpotDraft operation, first parameter `credentials`.

    from tasks import get_contract_status
"""

from tasks.contract_metadata import get_contract_key_pointers
from tasks.contracts import (
    create_contract,
    get_contract_status,
    get_contracts_by_external_metadata,
    list_contracts,
)
from tasks.counterparties import list_counterparties
from tasks.templates import list_templates

__all__ = [
    "create_contract",
    "get_contract_key_pointers",
    "get_contract_status",
    "get_contracts_by_external_metadata",
    "list_contracts",
    "list_counterparties",
    "list_templates",
]
