"""What an answer says, read safely: the error body (parsed, cut, with secrets masked) and its ids.

An error answer's body is read at most once and may have broken off (a streamed download whose
error body was cut): then there is no body to show, and nothing here raises.
"""

from __future__ import annotations

import json
from typing import Any

import httpx

from client.redaction import redact, scrub_text, storage_error_fields

REQUEST_ID_HEADERS = ("x-request-id", "x-sd-request-id", "x-amzn-requestid", "x-correlation-id")
WORKSPACE_HEADERS = ("x-sd-workspace-id", "x-workspace-id")
BODY_KEEP = 4000  # characters of an error body kept in the error context


def first_header(response: httpx.Response, names: tuple[str, ...]) -> str | None:
    return next((response.headers[n] for n in names if n in response.headers), None)


def body_text(response: httpx.Response) -> str | None:
    """The answer's text, or None when its body was never read or could not be decoded."""
    try:
        return response.text
    except (httpx.ResponseNotRead, httpx.StreamError, httpx.DecodingError, LookupError, ValueError):
        return None


def safe_body(response: httpx.Response) -> Any:
    """The error body, parsed when it is JSON, cut to a readable size, with any secret masked."""
    text = body_text(response)
    if text is None:
        return None
    text = text[:BODY_KEEP]
    try:
        return redact(json.loads(text))
    except ValueError:
        return scrub_text(text) or None


def storage_body(response: httpx.Response) -> Any:
    """What a storage host's error says, without what could repeat the signature it was sent."""
    return storage_error_fields(safe_body(response), str(response.request.url))


def short_detail(body: Any) -> str | None:
    if isinstance(body, dict):
        for key in ("detail", "message", "error", "code"):
            if body.get(key):
                return str(body[key])[:300]
        return json.dumps(body)[:300]
    if isinstance(body, str):
        return " ".join(body.split())[:200] or None
    return None
