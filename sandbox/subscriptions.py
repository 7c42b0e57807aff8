"""Webhook subscriptions and the workspace's HMAC key: the three webhook operations, for real.

`POST /api/v2.1/public/webhooks/` stores a subscription (PublicWebhookCreateRequest, validated as
the spec describes it), `DELETE /api/v2.1/public/webhooks/{webhook_id}` removes it, and
`GET /api/v2.1/public/webhooks/hmac_key/` answers the workspace's one key, Base64, the same on every
call. The spec has no list operation; tests see subscriptions through `/_sandbox/webhooks`.

One allowance the real service does not make: besides HTTPS, an `http://` URL is accepted when its
host is loopback, so a test can listen without a certificate. Anything else non-HTTPS is refused.
The key is random per sandbox unless given (a test's canary); it is never logged or echoed by the
admin endpoints, only answered by the documented operation, as SpotDraft does.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import re
import threading
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from .data import SandboxState, User
from .wire import Reply, error, json_reply

ACTIVITY_TYPES = (  # the spec's OnlyForActivitiesEnum (the same list as ActivityEnum)
    "CONTRACT_VERSION_UPLOADED", "CONTRACT_APPROVAL_COMPLETED", "CONTRACT_APPROVAL_REQUESTED", "CONTRACT_CREATED",
    "CONTRACT_DATA_UPDATED", "CONTRACT_DELETED", "CONTRACT_EXECUTED", "CONTRACT_MARK_FOR_EXECUTION",
    "CONTRACT_SENT_TO_COUNTERPARTY", "CONTRACT_SIGNATURE_DECLINED", "CONTRACT_SIGNATURE_REQUESTED",
    "CONTRACT_SIGNED", "CONTRACT_UNMARK_FOR_EXECUTION", "POSTMARK_EMAIL_EVENT", "CONTRACT_KEY_POINTER_UPDATION",
    "CONTRACT_KEY_POINTER_CREATION", "SIGNING_EMAIL_DELIVERED", "SIGNING_EMAIL_OPENED",
    "SIGNING_EMAIL_NOT_DELIVERED", "SIGNING_EMAIL_LINK_CLICKED", "REDLINING_EMAIL_DELIVERED",
    "REDLINING_EMAIL_OPENED", "REDLINING_EMAIL_NOT_DELIVERED", "REDLINING_EMAIL_LINK_CLICKED",
    "CONTRACT_SIGNATURE_REQUESTED_NOTIFICATION_SENT", "COUNTER_PARTY_CREATED", "COUNTER_PARTY_UPDATED",
    "COUNTER_PARTY_CONTACT_CREATED", "COUNTER_PARTY_CONTACT_UPDATED", "COUNTER_PARTY_ADDRESS_CREATED",
    "COUNTER_PARTY_ADDRESS_UPDATED", "CONTRACT_ACTIVITY_LOG_COMMENT_CREATED", "CONTRACT_VOIDED",
    "CONTRACT_PROCESS_METRIC_UPDATED", "CONTRACT_EXTERNAL_METADATA_CREATED", "CONTRACT_EXTERNAL_METADATA_UPDATED",
    "CONTRACT_ENTITY_UPDATED",
)  # fmt: skip
KNOWN_ACTIVITIES = frozenset(ACTIVITY_TYPES)
RESERVED_HEADER_PREFIXES = ("x-google-", "x-goog-", "x-gfe-", "x-amz-", "x-ms-", "x-dd-", "x-datadog-", "x-b3-",
                            "x-sd-", "x-spotdraft-")  # fmt: skip
_HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
KEY_BYTES = 64  # as long as SpotDraft's sample key (88 Base64 characters)
FIRST_WEBHOOK_ID = 1


@dataclass
class Subscription:
    id: int
    title: str
    url: str
    activities: tuple[str, ...]
    created_by: User
    created_by_id: int
    description: str | None = None
    custom_headers: dict[str, str] = field(default_factory=dict)
    status: str = "ACTIVE"

    def as_json(self) -> dict[str, Any]:
        """`PublicWebhookResponse`."""
        answer: dict[str, Any] = {
            "id": self.id,
            "title": self.title,
            "only_for_activities": list(self.activities),
            "url": self.url,
            "created_by_user": {"id": self.created_by_id, "name": self.created_by.name, "email": self.created_by.email},
            "custom_headers": dict(self.custom_headers),
            "status": self.status,
        }
        if self.description is not None:
            answer["description"] = self.description
        return answer


class WebhookRegistry:
    """The workspace's subscriptions and key. Thread-safe: the API and the test thread both use it."""

    def __init__(self, state: SandboxState, hmac_key: str | None = None):
        self.state = state
        self._lock = threading.Lock()
        self._subscriptions: dict[int, Subscription] = {}
        self._next_id = FIRST_WEBHOOK_ID
        self._key = b""
        self.set_key(hmac_key if hmac_key is not None else base64.b64encode(os.urandom(KEY_BYTES)).decode())
        self._initial_key = self._key

    def reset(self) -> None:
        """No subscription, ids from the first again, and the key the sandbox started with."""
        with self._lock:
            self._subscriptions.clear()
            self._next_id = FIRST_WEBHOOK_ID
            self._key = self._initial_key

    def __repr__(self) -> str:  # the key stays out of reprs and tracebacks
        return f"WebhookRegistry(subscriptions={len(self._subscriptions)})"

    # ------------------------------------------------------------------ the key

    def set_key(self, hmac_key: str) -> None:
        """Replace the workspace key (Base64 text, as the hmac_key operation answers it)."""
        if not isinstance(hmac_key, str) or not hmac_key:
            raise ValueError("hmac_key must be non-empty Base64 text")
        try:
            raw = base64.b64decode(hmac_key, validate=True)
        except binascii.Error:
            raise ValueError("hmac_key is not valid Base64") from None
        if not raw:
            raise ValueError("hmac_key decodes to no bytes")
        with self._lock:
            self._key = raw

    def sign(self, body: bytes) -> str:
        """X-SD-WEBHOOK-CONTENT-HASH: hex HMAC-SHA512 of the exact body bytes under the decoded key."""
        return hmac.new(self._key, body, hashlib.sha512).hexdigest()

    # ------------------------------------------------------------------ subscriptions

    def matching(self, activity: str) -> list[Subscription]:
        with self._lock:
            return [s for s in self._subscriptions.values() if s.status == "ACTIVE" and activity in s.activities]

    def get(self, webhook_id: int) -> Subscription | None:
        with self._lock:
            return self._subscriptions.get(webhook_id)

    def all(self) -> list[Subscription]:
        with self._lock:
            return list(self._subscriptions.values())

    def add(self, body: dict[str, Any], user: User) -> Subscription:
        """A new subscription from a valid PublicWebhookCreateRequest (see `problems`)."""
        activities = tuple(dict.fromkeys(body["only_for_activities"]))
        headers = {name.strip(): value for name, value in (body.get("custom_headers") or {}).items()}
        with self._lock:
            subscription = Subscription(
                id=self._next_id, title=body["title"], url=body["url"], activities=activities, created_by=user,
                created_by_id=self.state.users.index(user) + 1, description=body.get("description"),
                custom_headers=headers,
            )  # fmt: skip
            self._subscriptions[subscription.id] = subscription
            self._next_id += 1
            return subscription

    def remove(self, webhook_id: int) -> Subscription | None:
        with self._lock:
            return self._subscriptions.pop(webhook_id, None)

    # ------------------------------------------------------------------ the API operations

    def create(self, req, params, route) -> Reply:
        if not req.is_json():
            return _bad("The sandbox accepts webhook creation as application/json only.")
        try:
            body = req.json()
        except ValueError:
            return _bad("JSON parse error: the request body is missing or not valid JSON.")
        if not isinstance(body, dict):
            return _bad("The request body must be a JSON object.")
        found = problems(body)
        if found:
            return _bad(" ".join(f"{name}: {text}" for name, text in found.items()), fields=found)
        return json_reply(201, self.add(body, self.state.user(req.user_email)).as_json())

    def destroy(self, req, params, route) -> Reply:
        raw = params["webhook_id"]
        removed = self.remove(int(raw)) if raw.isdigit() else None
        if removed is None:
            return error(404, "Not found.", status_code=404, code="not_found", message="No such webhook.")
        return Reply(204, [], b"")

    def hmac_key(self, req, params, route) -> Reply:
        with self._lock:
            key = base64.b64encode(self._key).decode()
        return json_reply(200, {"hmac_key": key})


def problems(body: dict[str, Any]) -> dict[str, str]:
    """What is wrong with a PublicWebhookCreateRequest, by field (empty when nothing is)."""
    found: dict[str, str] = {}
    title = body.get("title")
    if not isinstance(title, str) or not title:
        found["title"] = "This field is required and may not be blank."
    if body.get("description") is not None and not isinstance(body["description"], str):
        found["description"] = "Not a valid string."
    activities = body.get("only_for_activities")
    if not isinstance(activities, list) or not activities:
        found["only_for_activities"] = "The list cannot be empty."
    elif unknown := [a for a in activities if a not in KNOWN_ACTIVITIES]:
        found["only_for_activities"] = f"Not valid activity types: {unknown}."
    url_problem = _url_problem(body.get("url"))
    if url_problem:
        found["url"] = url_problem
    header_problem = _headers_problem(body.get("custom_headers"))
    if header_problem:
        found["custom_headers"] = header_problem
    return found


def _url_problem(url: Any) -> str | None:
    if not isinstance(url, str) or not url:
        return "This field is required and may not be blank."
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError:
        return "Enter a valid URL."
    if parts.scheme not in ("https", "http") or not parts.hostname:
        return "Enter a valid URL."
    # The client's own rule for where plain http may go. Imported here, not above: importing the client
    # package loads its whole catalog, which a `python -m sandbox` process otherwise never needs.
    from client.regions import is_loopback

    if parts.scheme == "http" and not is_loopback(parts.hostname):
        return "Non-HTTPS URLs are rejected."
    return None


def _headers_problem(headers: Any) -> str | None:
    if headers is None:
        return None
    if not isinstance(headers, dict):
        return "Expected a dictionary of items."
    for name, value in headers.items():
        trimmed = name.strip()
        if not _HEADER_NAME.match(trimmed) or not trimmed.lower().startswith("x-"):
            return f"{trimmed!r}: custom header names must start with X- (standard HTTP headers are rejected)."
        if trimmed.lower().startswith(RESERVED_HEADER_PREFIXES):
            return f"{trimmed!r}: this header prefix is reserved."
        if not isinstance(value, str) or "\r" in value or "\n" in value:
            return f"{trimmed!r}: the value must be a single-line string."
    return None


def _bad(detail: str, **extra: Any) -> Reply:
    """The 400 shape the spec documents for the webhook operations."""
    return error(400, detail, status_code=400, code="invalid", message=detail, **extra)
