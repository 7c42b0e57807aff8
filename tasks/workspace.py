"""Tasks for workspace settings, files and tags.

Generated from the spec by `make generate` (tools/generate_catalog.py); do not edit by hand.
"""

from __future__ import annotations

from typing import Any

from blocks import SpotDraftCredentials
from client import models as m
from tasks._base import call_operation, spotdraft_task

__all__ = [
    "check_workspace_feature_flags",
    "create_workspace_tags",
    "get_workspace_file_download_url",
    "start_workspace_file_uploads",
]


@spotdraft_task("check_workspace_feature_flags")
def check_workspace_feature_flags(
    credentials: SpotDraftCredentials, body: m.FeatureFlagsCheckRequest | dict[str, Any]
) -> dict[str, Any]:
    """Whether feature flags are on for the workspace."""
    return call_operation(credentials, "check_workspace_feature_flags", body=body)


@spotdraft_task("start_workspace_file_uploads")
def start_workspace_file_uploads(
    credentials: SpotDraftCredentials, body: m.WorkspaceFileUploadInitiationRequest | dict[str, Any]
) -> dict[str, Any]:
    """Reserve workspace files and get their upload URLs."""
    return call_operation(credentials, "start_workspace_file_uploads", body=body)


@spotdraft_task("get_workspace_file_download_url")
def get_workspace_file_download_url(credentials: SpotDraftCredentials, file_id: str) -> dict[str, Any]:
    """A signed URL to download a workspace file."""
    return call_operation(credentials, "get_workspace_file_download_url", path_params={"file_id": file_id})


@spotdraft_task("create_workspace_tags")
def create_workspace_tags(
    credentials: SpotDraftCredentials, body: m.PublicBulkTagCreateRequest | dict[str, Any]
) -> dict[str, Any]:
    """Create workspace tags."""
    return call_operation(credentials, "create_workspace_tags", body=body)
