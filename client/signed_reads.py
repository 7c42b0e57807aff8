"""A signed storage URL read chunk by chunk by the caller, who writes the bytes wherever it likes.

`SpotDraftClient.download_from_signed_url` streams to a local file; the document archive writes to any
fsspec filesystem (S3, a local folder, ...), so it takes the bytes instead. Everything else is the same:
the request goes through the client's storage client (no SpotDraft header), its `send` (typed errors,
the storage host's error body with the signature kept out, the attempt counted), and its retry policy;
a body broken off midway is a dropped connection, retried like one. The URL is neither logged nor kept.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from typing import TypeVar

import httpx

from client import errors as E
from client import transport
from client.http import SpotDraftClient
from client.retry import AttemptBudget
from client.signed_urls import SIGNED_DOWNLOAD, checked_signed_url

T = TypeVar("T")
CHUNK_BYTES = 1 << 20


def open_signed(client: SpotDraftClient, url: str, budget: AttemptBudget) -> httpx.Response:
    """GET the signed URL, streamed: a 2xx response (the caller closes it), or the status's typed error."""
    checked = checked_signed_url(url, SIGNED_DOWNLOAD)
    return client.send(SIGNED_DOWNLOAD, httpx.Request("GET", checked), budget)


def chunks(response: httpx.Response, budget: AttemptBudget, size: int = CHUNK_BYTES) -> Iterator[bytes]:
    """The body, `size` bytes at a time; a body that breaks off raises ConnectionDropped (retryable)."""
    try:
        yield from response.iter_bytes(size)
    except transport.HTTPX_EXCEPTIONS as exc:
        context = E.ErrorContext(
            operation=SIGNED_DOWNLOAD.name, method="GET", host=response.request.url.netloc.decode(),
            path=response.request.url.path, status=response.status_code, environment="signed storage URL",
            attempts=budget.used, max_attempts=budget.max_attempts,
        )
        raise E.ConnectionDropped(f"the file broke off midway ({type(exc).__name__})", context) from None


def with_retries(client: SpotDraftClient, attempt: Callable[[], T], budget: AttemptBudget,
                 logger: logging.Logger | logging.LoggerAdapter | None = None) -> T:
    """Run `attempt` (which may ask SpotDraft for a fresh URL, then read it) under the client's retry policy,
    as a download safe to repeat: every request of every try counts against `budget`."""
    return client._run_with_retries(SIGNED_DOWNLOAD, attempt, budget, logger, safe=True)
