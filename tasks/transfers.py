"""Workspace files end to end: each task is one file moved, in the two steps SpotDraft asks for.

Written by hand (not generated): these chain catalog operations with a transfer to or from the
signed storage URL that SpotDraft hands out. The bytes go straight between this machine and the
storage host, streamed from and to disk, through a client that carries no SpotDraft header; the
signed URL itself (a short-lived key to the object) is neither logged nor returned.

    from tasks.transfers import upload_workspace_file, download_workspace_file
"""

from __future__ import annotations

import os
from typing import Any

from blocks import SpotDraftCredentials
from client import files
from client.errors import ErrorContext, MalformedResponseError
from tasks._base import multi_step_task, run_logger

_UPLOAD, _DOWNLOAD = "start_workspace_file_uploads", "get_workspace_file_download_url"


@multi_step_task("upload_workspace_file", _UPLOAD)
def upload_workspace_file(
    credentials: SpotDraftCredentials,
    file: str | bytes,
    file_name: str | None = None,
    content_type: str | None = None,
) -> dict[str, Any]:
    """Upload one file to the workspace's file store and return its `file_id`.

    `file` is a local path, or the bytes (then give `file_name`); the content type is guessed from
    the name unless given. Asks SpotDraft for an upload URL, then PUTs the bytes there.
    """
    name, ctype = files.describe_upload(file, file_name, content_type)
    client, logger = credentials.get_client(), run_logger()
    answer = client.call(_UPLOAD, body={"files": [{"filename": name, "content_type": ctype}]}, logger=logger)
    slot = _single_slot(answer)
    size = client.upload_to_signed_url(slot["upload_url"], file, content_type=ctype, logger=logger)
    return {"file_id": slot["file_id"], "filename": slot["filename"], "content_type": ctype, "bytes": size}


@multi_step_task("download_workspace_file", _DOWNLOAD)
def download_workspace_file(
    credentials: SpotDraftCredentials, file_id: str, destination: str | os.PathLike[str]
) -> dict[str, Any]:
    """Download a workspace file to `destination` (a file path, or a directory to put it in).

    Asks SpotDraft for a signed download URL, then streams the bytes to disk.
    """
    client, logger = credentials.get_client(), run_logger()
    answer = client.call(_DOWNLOAD, path_params={"file_id": file_id}, logger=logger)
    signed_url = answer.get("signed_url") if isinstance(answer, dict) else None
    if not signed_url:
        raise MalformedResponseError("the answer holds no signed_url", ErrorContext(operation=_DOWNLOAD))
    return client.download_from_signed_url(signed_url, destination, logger=logger)


def _single_slot(answer: Any) -> dict[str, Any]:
    slots = answer.get("files") if isinstance(answer, dict) else None
    if not isinstance(slots, list) or len(slots) != 1 or not {"file_id", "upload_url"} <= set(slots[0]):
        raise MalformedResponseError("expected one upload slot with file_id and upload_url",
                                     ErrorContext(operation=_UPLOAD))
    return slots[0]
