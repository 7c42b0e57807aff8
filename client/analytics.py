"""SpotDraft's analytics query API as data: the shape of a catalog table, the endpoint's limits, and its errors.

The tables themselves (columns, GoogleSQL types, keys, the allowlist) are generated from the spec into
client/analytics_catalog.py. What SpotDraft's error codes mean for a caller is here, in one place.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

MAX_ROWS = 5000  # rows per answer; more matched: `truncated` is true
MAX_QUERY_CHARS = 10_000  # characters of SQL per request

# SpotDraft's codes for the endpoint (the spec's table of errors).
NOT_A_SELECT = "SD_PUBLIC_00040"  # 400: not one read-only SELECT
NOT_ALLOWLISTED = "SD_PUBLIC_00041"  # 400: a table outside the allowlist
NOT_PARSED = "SD_PUBLIC_00042"  # 400: could not be parsed or transpiled
EXECUTION_FAILED = "SD_PUBLIC_00043"  # 502: transient, retried
ADMIN_ONLY = "SD_PUBLIC_00044"  # 403: workspace-wide contracts without the Admin role
NOT_ENABLED = "SD_PUBLIC_00045"  # 501: the workspace does not have the feature
FEATURE_FLAG = "PUBLIC_ANALYTICS_QUERY_API"

TYPES = ("INT64", "FLOAT64", "STRING", "DATE", "TIMESTAMP", "BOOL")


@dataclass(frozen=True)
class AnalyticsTable:
    """One table of the analytics catalog: its columns in order with their GoogleSQL types.

    `key` is the column the catalog calls the table's primary key or unique id, if it names one.
    """

    name: str
    columns: tuple[tuple[str, str], ...]
    key: str | None = None
    enums: dict[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.columns)

    def type_of(self, column: str) -> str:
        return dict(self.columns)[column]


def error_code(body: Any) -> str | None:
    """SpotDraft's code (`SD_PUBLIC_000NN`) in an error body, if it gave one."""
    if isinstance(body, dict):
        code = body.get("code")
        return str(code) if code else None
    return None
