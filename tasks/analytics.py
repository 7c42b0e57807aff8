"""Tasks for the analytics SQL endpoint.

Generated from the spec by `make generate` (tools/generate_catalog.py); do not edit by hand.
"""

from __future__ import annotations

from typing import Any

from blocks import SpotDraftCredentials
from client import models as m
from tasks._base import call_operation, spotdraft_task

__all__ = [
    "run_analytics_query",
]


@spotdraft_task("run_analytics_query")
def run_analytics_query(
    credentials: SpotDraftCredentials, body: m.PublicAnalyticsQueryRequest | dict[str, Any]
) -> dict[str, Any]:
    """Run a read-only SQL query on the workspace's analytics tables."""
    return call_operation(credentials, "run_analytics_query", body=body)
