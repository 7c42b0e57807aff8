"""Tasks for Sidebar.

Generated from the spec by `make generate` (tools/generate_catalog.py); do not edit by hand.
"""

from __future__ import annotations

from typing import Any

from blocks import SpotDraftCredentials
from client import files
from client import models as m
from tasks._base import call_operation, spotdraft_task

__all__ = [
    "run_sidebar_query",
    "upload_sidebar_file",
]


@spotdraft_task("upload_sidebar_file")
def upload_sidebar_file(
    credentials: SpotDraftCredentials,
    file: str | bytes,
    body: m.SidebarFileUploadRequestFields | dict[str, Any],
    file_name: str | None = None,
) -> dict[str, Any]:
    """Upload a file to Sidebar (multipart).

    `file` is a local path, or the bytes (then give `file_name`); it is sent as the multipart
    part `file`, streamed from disk, with the fields of `body` as form fields.
    """
    with files.open_upload(file, file_name) as part:
        return call_operation(credentials, "upload_sidebar_file", body=body, files={"file": part})


@spotdraft_task("run_sidebar_query")
def run_sidebar_query(
    credentials: SpotDraftCredentials, body: m.SidebarQueryRequest | dict[str, Any]
) -> dict[str, Any]:
    """Ask Sidebar a question."""
    return call_operation(credentials, "run_sidebar_query", body=body)
