"""Every way a SpotDraft call can fail, as one tree (modelled on httpx's `_exceptions.py`).

The design, and why: docs/design/errors-and-records.md (section `client/errors.py`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Any, ClassVar


@dataclass(frozen=True)
class ErrorContext:
    """What the guide says to log to reconstruct a failed request, without its secrets."""

    operation: str | None = None
    method: str | None = None
    host: str | None = None
    path: str | None = None
    status: int | None = None
    request_id: str | None = None
    workspace: str | None = None
    environment: str | None = None
    external_ids: tuple[str, ...] = ()
    attempts: int = 0
    max_attempts: int | None = None
    body: Any = None
    location: str | None = None
    retry_after: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["external_ids"] = list(self.external_ids)
        return data


class SpotDraftError(Exception):
    """Base of every error raised by the client."""

    advice: ClassVar[str] = "SpotDraft call failed"
    transient: ClassVar[bool] = False

    def __init__(self, detail: str | None = None, context: ErrorContext | None = None) -> None:
        self.detail = detail
        self.context = context or ErrorContext()
        super().__init__(self._render())

    # Pickling rebuilds from (detail, context): Prefect persists exceptions in failed states.
    def __reduce__(self):
        return (self.__class__, (self.detail, self.context))

    def with_context(self, **changes: Any) -> SpotDraftError:
        """A copy of this error with some context fields changed (attempt counts, operation...)."""
        return self.__class__(self.detail, replace(self.context, **changes))

    @property
    def attempts(self) -> int:
        return self.context.attempts

    def _render(self) -> str:
        c = self.context
        head = f"{self.advice}: {self.detail}" if self.detail else self.advice
        where = " ".join(p for p in (c.method, f"{c.host or ''}{c.path or ''}") if p)
        facts = []
        if where.strip():
            facts.append(where + (f" -> {c.status}" if c.status else ""))
        if c.operation:
            facts.append(f"operation {c.operation}")
        if c.request_id:
            facts.append(f"request id {c.request_id}")
        if c.external_ids:
            facts.append("external ids " + ", ".join(c.external_ids))
        if c.attempts:
            facts.append(f"attempt {c.attempts}" + (f"/{c.max_attempts}" if c.max_attempts else ""))
        return head + (f" [{'; '.join(facts)}]" if facts else "")


class InvalidRequestError(SpotDraftError, ValueError):
    advice = "Request refused before sending; fix the input"


class TransportError(SpotDraftError):
    advice = "No complete answer from SpotDraft"
    transient = True
    # Whether the request may have reached the server: decides if a write can be repeated blindly.
    request_sent: ClassVar[bool] = True


class ConnectError(TransportError):
    advice = "Could not connect to SpotDraft; check the region/base_url and the network"
    request_sent = False


class RequestTimeout(TransportError):
    advice = "SpotDraft did not answer in time"


class ConnectionDropped(TransportError):
    advice = "The connection to SpotDraft broke before the answer arrived"


class ExchangeFailed(TransportError):
    advice = "The HTTP exchange with SpotDraft failed (protocol, proxy or transport error); it may have been sent"


class RedirectError(SpotDraftError):
    advice = "Unexpected redirect, not followed (credentials would be replayed to the Location)"

    @staticmethod
    def likely_cause(request_url: str, location: str | None) -> str:
        """Name which of the guide's two known causes the redirect looks like."""
        if not location:
            return "the answer named no Location"
        req_scheme, _, req_rest = request_url.partition("://")
        loc_scheme, _, loc_rest = location.partition("://")
        if req_scheme == "http" and loc_scheme == "https":
            return f"it looks like http:// instead of https://; use {location}"
        req_path = req_rest.partition("/")[2].split("?")[0] if "://" in request_url else request_url
        loc_path = (loc_rest.partition("/")[2] if "://" in location else location.lstrip("/")).split("?")[0]
        if req_path.rstrip("/") == loc_path.rstrip("/") and req_path != loc_path:
            want = "with" if loc_path.endswith("/") else "without"
            return f"it looks like a trailing-slash mismatch: the documented path is {want} a trailing slash"
        return f"Location is {location}; check the host and the documented path"


class MalformedResponseError(SpotDraftError):
    advice = "SpotDraft answered success but not with the JSON promised (a proxy page?)"
    transient = True


class HTTPStatusError(SpotDraftError):
    advice = "SpotDraft answered with an error status"


class BadRequestError(HTTPStatusError):
    advice = "Invalid request body or parameters; validate the request shape, required fields and workspace ids"


class AuthenticationError(HTTPStatusError):
    advice = "Missing or invalid credentials; check client-id, client-secret and the region/environment"


class BusinessRuleError(HTTPStatusError):
    advice = "Refused by a business rule or the contract's workflow state; change the state, not the request"


class PermissionDeniedError(HTTPStatusError):
    advice = "Authenticated but not allowed; confirm workspace access, role, permissions and user-email"


class NotFoundError(HTTPStatusError):
    advice = "Not found or not visible; check the region, path, API version, workspace and identifiers"


class ConflictError(HTTPStatusError):
    advice = "Conflicting resource state; re-fetch the current state before writing again"


class RateLimitedError(HTTPStatusError):
    advice = "Rate limited; backing off with jitter"
    transient = True


class ServerError(HTTPStatusError):
    advice = "SpotDraft or upstream infrastructure error; retried only if the operation is safe to repeat"
    transient = True


class UnexpectedStatusError(HTTPStatusError):
    advice = "Unexpected error status from SpotDraft; see the response body"


STATUS_ERRORS: dict[int, type[HTTPStatusError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    402: BusinessRuleError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    429: RateLimitedError,
}

# Only these 5xx are the guide's "selected 5xx": a 501 or 505 will not fix itself.
RETRYABLE_5XX = frozenset({500, 502, 503, 504})


def error_for_status(status: int) -> type[HTTPStatusError]:
    if status in STATUS_ERRORS:
        return STATUS_ERRORS[status]
    if status >= 500:
        return ServerError
    return UnexpectedStatusError


__all__ = [
    "RETRYABLE_5XX",
    "AuthenticationError",
    "BadRequestError",
    "BusinessRuleError",
    "ConflictError",
    "ConnectError",
    "ConnectionDropped",
    "ErrorContext",
    "ExchangeFailed",
    "HTTPStatusError",
    "InvalidRequestError",
    "MalformedResponseError",
    "NotFoundError",
    "PermissionDeniedError",
    "RateLimitedError",
    "RedirectError",
    "RequestTimeout",
    "ServerError",
    "SpotDraftError",
    "TransportError",
    "UnexpectedStatusError",
    "error_for_status",
]
