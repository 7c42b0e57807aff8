"""The SpotDraft API in plain Python: regions, settings, errors, retry policy, catalog, client.

Nothing here imports Prefect; the Block and the tasks are thin layers on top.
"""

from client import errors
from client.catalog import OPERATIONS, OPERATIONS_BY_NAME
from client.errors import ErrorContext, SpotDraftError
from client.http import SpotDraftClient
from client.operation import Operation, Param
from client.regions import Region
from client.retry import AttemptBudget
from client.settings import RateLimitSettings, RetrySettings, TimeoutSettings

__all__ = [
    "OPERATIONS",
    "OPERATIONS_BY_NAME",
    "AttemptBudget",
    "ErrorContext",
    "Operation",
    "Param",
    "RateLimitSettings",
    "Region",
    "RetrySettings",
    "SpotDraftClient",
    "SpotDraftError",
    "TimeoutSettings",
    "errors",
]
