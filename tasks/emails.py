"""Tasks for emails SpotDraft sent.

Generated from the spec by `make generate` (tools/generate_catalog.py); do not edit by hand.
"""

from __future__ import annotations

from blocks import SpotDraftCredentials
from tasks._base import call_operation, spotdraft_task

__all__ = [
    "get_rendered_email",
]


@spotdraft_task("get_rendered_email")
def get_rendered_email(credentials: SpotDraftCredentials, email_audit_key: str) -> str:
    """The rendered HTML of a sent email."""
    return call_operation(credentials, "get_rendered_email", path_params={"email_audit_key": email_audit_key})
