"""Workspace files on the object store: a PUT to a signed upload URL and a GET from a signed download URL,
streamed, under the usual retry policy, and never through the rate limiter (the store is not SpotDraft).

`SignedUrlTransfers` is part of `SpotDraftClient` (client/http.py), which gives it `send`, `new_budget`,
`_run_with_retries`, `_context` and `_storage` (an httpx.Client that sends no SpotDraft credentials).
"""

from __future__ import annotations

import logging
import os
from typing import Any

import httpx

from client import errors as E
from client import files, transport
from client.files import FileInput
from client.operation import Operation
from client.regions import check_signed_url
from client.retry import AttemptBudget

# Not catalog operations: the object-store side of workspace files, named for logs and errors.
STORAGE = "storage"  # the `version` of these two, which are not SpotDraft's
SIGNED_UPLOAD = Operation(name="put_to_signed_upload_url", method="PUT", path="{upload_url}", version=STORAGE,
                          family="workspace", operation_id="", safe_to_retry=True)
SIGNED_DOWNLOAD = Operation(name="get_from_signed_download_url", method="GET", path="{signed_url}",
                            version=STORAGE, family="workspace", operation_id="", safe_to_retry=True,
                            response_kind="binary")


def checked_signed_url(url: str, op: Operation) -> str:
    try:
        return check_signed_url(url)
    except ValueError as exc:
        raise E.InvalidRequestError(str(exc), E.ErrorContext(operation=op.name, method=op.method)) from None


class SignedUrlTransfers:
    def upload_to_signed_url(
        self,
        url: str,
        file: FileInput,
        *,
        content_type: str,
        budget: AttemptBudget | None = None,
        logger: logging.Logger | logging.LoggerAdapter | None = None,
    ) -> int:
        """PUT a file's bytes to a signed upload URL, streamed from disk; returns the byte count.

        Repeating the PUT of the same bytes to the same object changes nothing, so every transient
        failure is retried under the usual policy; each attempt reopens the file from the start.
        """
        url = checked_signed_url(url, SIGNED_UPLOAD)
        budget = budget or self.new_budget()

        def attempt() -> int:
            with files.upload_stream(file) as (content, size):
                headers = {"content-type": content_type, "content-length": str(size)}
                request = self._storage.build_request("PUT", url, content=content, headers=headers)
                self.send(SIGNED_UPLOAD, request, budget).close()
            return size

        return self._run_with_retries(SIGNED_UPLOAD, attempt, budget, logger, safe=True)

    def download_from_signed_url(
        self,
        url: str,
        destination: str | os.PathLike[str],
        *,
        budget: AttemptBudget | None = None,
        logger: logging.Logger | logging.LoggerAdapter | None = None,
    ) -> dict[str, Any]:
        """GET a signed download URL and stream the file to `destination` (see `client.files.download_to`)."""
        url = checked_signed_url(url, SIGNED_DOWNLOAD)
        budget = budget or self.new_budget()

        def attempt() -> dict[str, Any]:
            request = self._storage.build_request("GET", url)
            response = self.send(SIGNED_DOWNLOAD, request, budget)
            return self._stream(SIGNED_DOWNLOAD, request, response, budget, destination)

        return self._run_with_retries(SIGNED_DOWNLOAD, attempt, budget, logger, safe=True)

    def _stream(self, op: Operation, request: httpx.Request, response: httpx.Response, budget: AttemptBudget,
                destination: str | os.PathLike[str]) -> dict[str, Any]:
        """Write a streamed file answer to disk; a body broken off midway is a dropped connection."""
        try:
            return files.download_to(response, destination)
        except transport.HTTPX_EXCEPTIONS as exc:  # nothing was left under the final name (download_to's temp file)
            context = self._context(op, request, budget, response=response)
            raise E.ConnectionDropped(f"the file broke off midway ({type(exc).__name__})", context) from None
