"""The SpotDraft client: one pooled httpx.Client per credentials, and one `send` every request goes through.

`call()` checks the input against the operation's catalog entry (nothing bad reaches the wire),
builds the request, and runs it under the retry policy; `send()` is the single place a request
meets the network, turns any non-2xx or broken answer into a typed error with its full context,
and counts the attempt. A future rate limiter belongs in `send()`.
"""

from __future__ import annotations

import json
import logging
import os
import re
import threading
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import replace
from typing import Any

import httpx
from pydantic import BaseModel, SecretStr, ValidationError
from tenacity import RetryCallState, Retrying, retry_if_exception

from client import errors as E
from client import files
from client.catalog import OPERATIONS_BY_NAME
from client.files import FileInput
from client.operation import Operation
from client.redaction import redact, register_secret, scrub_text
from client.regions import Region, check_base_url, check_signed_url
from client.retry import AttemptBudget, BackoffWait, is_retryable, parse_retry_after
from client.settings import RetrySettings, TimeoutSettings

log = logging.getLogger("spotdraft.client")

_REQUEST_ID_HEADERS = ("x-request-id", "x-sd-request-id", "x-amzn-requestid", "x-correlation-id")
_WORKSPACE_HEADERS = ("x-sd-workspace-id", "x-workspace-id")
_BODY_KEEP = 4000  # characters of an error body kept in the error context
_FILTER_SUFFIX = re.compile(r"^(?P<base>.+?)__(?P<op>eq|ne|gt|gte|lt|lte|in)$")
# Query parameters whose names are open-ended in the spec (custom fields).
_OPEN_QUERY = re.compile(r"^filter_custom__[A-Za-z0-9_]+(\[\$(eq|ne|gt|gte|lt|lte|in)\])?$")


class SpotDraftClient:
    """Talks to one SpotDraft workspace in one region. Thread-safe; reuse it (it holds a connection pool)."""

    def __init__(
        self,
        client_id: str,
        client_secret: SecretStr | str,
        region: Region | str = Region.US,
        user_email: str | None = None,
        base_url: str | None = None,
        *,
        retry: RetrySettings | None = None,
        timeouts: TimeoutSettings | None = None,
        transport: httpx.BaseTransport | None = None,
        max_connections: int = 20,
    ) -> None:
        if not client_id:
            raise ValueError("client_id is required")
        secret = client_secret.get_secret_value() if isinstance(client_secret, SecretStr) else client_secret
        if not secret:
            raise ValueError("client_secret is required")
        register_secret(secret)
        self.region = Region(region)
        self.base_url = check_base_url(base_url) if base_url else self.region.base_url
        self.host = httpx.URL(self.base_url).netloc.decode()
        # What the error context calls the environment: the region, or the override that replaced it.
        self.environment = f"base_url {self.base_url}" if base_url else f"region {self.region.value}"
        self.retry_settings = retry or RetrySettings()
        self._stats: Counter[str] = Counter()
        self._stats_lock = threading.Lock()
        timeouts = timeouts or TimeoutSettings()
        headers = {"client-id": client_id, "client-secret": secret, "accept": "application/json"}
        if user_email:
            headers["user-email"] = user_email
        self._http = httpx.Client(
            base_url=self.base_url,
            headers=headers,
            timeout=httpx.Timeout(timeouts.read, connect=timeouts.connect),
            follow_redirects=False,  # the guide: a redirect is a URL bug to surface, never to follow
            limits=httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections),
            transport=transport,
        )
        # Signed storage URLs (workspace files) get a client of their own, with no SpotDraft header:
        # the storage host is a third party, and the credentials must never travel there.
        self._storage = httpx.Client(
            timeout=httpx.Timeout(timeouts.read, connect=timeouts.connect),
            follow_redirects=False,
            limits=httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections),
            transport=transport,
        )

    # -- lifecycle ---------------------------------------------------------------------------------
    def close(self) -> None:
        self._http.close()
        self._storage.close()

    def __enter__(self) -> SpotDraftClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:  # never shows the secret
        return f"SpotDraftClient(host={self.host!r})"

    def new_budget(self) -> AttemptBudget:
        return AttemptBudget.from_settings(self.retry_settings)

    def stats(self) -> dict[str, int]:
        """Requests sent and retries waited since this client was made (for run summaries)."""
        with self._stats_lock:
            return dict(self._stats)

    def _count(self, what: str) -> None:
        with self._stats_lock:
            self._stats[what] += 1

    # -- the public surface --------------------------------------------------------------------------
    def call(
        self,
        operation: str | Operation,
        *,
        path_params: Mapping[str, Any] | None = None,
        query: Mapping[str, Any] | None = None,
        body: Any = None,
        files: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        budget: AttemptBudget | None = None,
        logger: logging.Logger | logging.LoggerAdapter | None = None,
        reconcile: Callable[[AttemptBudget], Any] | None = None,
        stream_to: str | os.PathLike[str] | None = None,
    ) -> Any:
        """Run one operation: validate, send under the retry policy, return the JSON SpotDraft sent.

        `reconcile`, for writes that are not safe to repeat, is called before any second attempt;
        when it returns something other than None, that is the result and nothing is sent again.
        `stream_to`, for a file answer, is where to write it (see `client.files.download_to`); a
        body that breaks off midway fails that attempt like a dropped connection, so it is retried.
        """
        op = self.operation(operation)
        if stream_to is not None and (op.response_kind != "binary" or reconcile is not None):
            raise E.InvalidRequestError(f"stream_to is for operations that answer a file; {op.name} does not",
                                        E.ErrorContext(operation=op.name, method=op.method, path=op.path))
        request = self.build_request(op, path_params=path_params, query=query, body=body, files=files,
                                     headers=headers)
        budget = budget or self.new_budget()
        external_ids = _external_ids(op, path_params, body)

        last_error: list[E.SpotDraftError] = []

        def attempt() -> Any:
            try:
                # Any earlier attempt of this operation (here or in an earlier Prefect try) may have landed.
                if reconcile is not None and budget.used > 0:
                    found = reconcile(budget)
                    if found is not None:
                        return found
                    if budget.remaining == 0 and last_error:  # the look-up spent the last request
                        raise last_error[-1]
                response = self.send(op, request, budget, external_ids)
                if stream_to is not None and op.response_kind == "binary":
                    return self._stream(op, request, response, budget, stream_to)
                return self._decode(op, request, response, budget, external_ids)
            except E.SpotDraftError as error:
                last_error.append(error)
                raise

        return self._run_with_retries(op, attempt, budget, logger, safe=op.safe_to_retry or reconcile is not None)

    def iter_pages(
        self, operation: str | Operation, *, limit: int = 100, page: int = 1, **kwargs: Any
    ) -> Iterator[dict[str, Any]]:
        """Each page of a list operation in turn, walking `page` until `total_results` is covered."""
        op = self.operation(operation)
        query = dict(kwargs.pop("query", None) or {})
        while True:
            answer = self.call(op, query={**query, "page": page, "limit": limit}, **kwargs)
            yield answer
            results = answer.get("results") or []
            total = answer.get("total_results")
            if not results or len(results) < limit or (isinstance(total, int) and page * limit >= total):
                return
            page += 1

    def iter_results(self, operation: str | Operation, **kwargs: Any) -> Iterator[dict[str, Any]]:
        for answer in self.iter_pages(operation, **kwargs):
            yield from answer.get("results") or []

    @staticmethod
    def operation(operation: str | Operation) -> Operation:
        if isinstance(operation, Operation):
            return operation
        try:
            return OPERATIONS_BY_NAME[operation]
        except KeyError:
            raise E.InvalidRequestError(f"unknown operation {operation!r}") from None

    # -- building a request (all checks happen here, before anything is sent) ------------------------
    def build_request(
        self,
        op: Operation,
        *,
        path_params: Mapping[str, Any] | None = None,
        query: Mapping[str, Any] | None = None,
        body: Any = None,
        files: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Request:
        def refuse(detail: str) -> E.InvalidRequestError:
            return E.InvalidRequestError(detail, E.ErrorContext(operation=op.name, method=op.method,
                                                                host=self.host, path=op.path))

        path_params = dict(path_params or {})
        try:
            path = op.render_path(path_params)
        except KeyError as missing:
            raise refuse(f"missing path parameter {missing.args[0]}") from None
        for name in op.path_params:
            spec = op.param(name)
            if spec and spec.pattern and not re.fullmatch(spec.pattern, str(path_params[name])):
                raise refuse(f"path parameter {name}={path_params[name]!r} does not match {spec.pattern}")
        params = self._check_query(op, query or {}, refuse)
        json_body, data, upload = self._check_body(op, body, files, refuse)
        return self._http.build_request(op.method, path, params=params, json=json_body, data=data,
                                        files=upload, headers=dict(headers or {}))

    def _check_query(self, op: Operation, query: Mapping[str, Any], refuse) -> list[tuple[str, str]]:
        declared = {p.name: p for p in op.params if p.location == "query"}
        params: list[tuple[str, str]] = []
        for name, value in query.items():
            if value is None:
                continue
            wire = name
            if wire not in declared and (m := _FILTER_SUFFIX.match(name)):
                wire = f"{m['base']}[${m['op']}]"  # filter__x__gte=... is filter__x[$gte]=...
            if wire not in declared and not _OPEN_QUERY.match(wire):
                raise refuse(f"unknown query parameter {name!r}")
            spec = declared.get(wire)
            if spec and spec.type == "integer":
                try:
                    value = int(value)
                except (TypeError, ValueError):
                    raise refuse(f"query parameter {name} must be an integer, got {value!r}") from None
                if wire in ("page", "limit") and value < 1:
                    raise refuse(f"query parameter {name} must be >= 1, got {value}")
            if isinstance(value, bool):
                value = "true" if value else "false"
            elif isinstance(value, list | tuple | set):
                value = ",".join(str(v).replace(",", "\\,") for v in value)
            params.append((wire, str(value)))
        missing = [p.name for p in declared.values() if p.required and p.name not in dict(params)]
        if missing:
            raise refuse(f"missing query parameter {', '.join(missing)}")
        return params

    def _check_body(self, op: Operation, body: Any, files: Mapping[str, Any] | None, refuse):
        if body is None and not files:
            if op.body_required:
                raise refuse("a request body is required")
            return None, None, None
        if op.body_kind is None:
            raise refuse(f"{op.method} {op.path} takes no request body")
        if isinstance(body, BaseModel):
            body = body.model_dump(mode="json", exclude_none=True, by_alias=True)
        if op.body_model is not None and body is not None:
            try:
                checked = op.body_model.model_validate(body)
            except ValidationError as exc:
                raise refuse(_describe_validation(exc)) from None
            body = checked.model_dump(mode="json", exclude_unset=True, by_alias=True)
        if op.body_kind == "multipart":
            data = {k: v if isinstance(v, str) else json.dumps(v) for k, v in (body or {}).items()}
            return None, data, dict(files or {})
        return body, None, None

    # -- sending ---------------------------------------------------------------------------------------
    def send(
        self, op: Operation, request: httpx.Request, budget: AttemptBudget, external_ids: tuple[str, ...] = ()
    ) -> httpx.Response:
        """Send once, count the attempt, and return a 2xx response or raise its typed error.

        A signed storage URL's request goes through the storage client, without SpotDraft's headers.
        Only the path goes into the error context, never the query: a signed URL's query is its key.
        """
        budget.take()
        self._count("requests")
        to_storage = op.version == STORAGE
        context = self._context(op, request, budget, external_ids)
        try:
            response = (self._storage if to_storage else self._http).send(request, stream=op.response_kind == "binary")
        except httpx.TimeoutException as exc:
            cls = E.ConnectError if isinstance(exc, httpx.ConnectTimeout | httpx.PoolTimeout) else E.RequestTimeout
            raise cls(type(exc).__name__, context) from None
        except httpx.ConnectError as exc:
            raise E.ConnectError(scrub_text(str(exc)) or type(exc).__name__, context) from None
        except (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError) as exc:
            raise E.ConnectionDropped(scrub_text(str(exc)) or type(exc).__name__, context) from None
        except httpx.DecodingError as exc:  # a body that does not decode (bad gzip): the answer is unusable
            raise E.MalformedResponseError(scrub_text(str(exc)) or type(exc).__name__, context) from None
        except httpx.HTTPError as exc:  # anything else httpx raises (proxy, protocol) is still ours, typed
            raise E.ConnectError(f"{type(exc).__name__}: {scrub_text(str(exc))}", context) from None
        context = self._context(op, request, budget, external_ids, response)
        if response.is_success:
            return response
        if op.response_kind == "binary":
            try:
                response.read()
            except httpx.HTTPError:
                pass  # the status says enough; a broken error body must not hide it
            finally:
                response.close()
        if response.is_redirect or 300 <= response.status_code < 400:
            location = response.headers.get("location")
            url = str(request.url)
            if to_storage:  # a signed URL's query is its key: neither ours nor the Location's is repeated
                url, location = _without_query(url), _without_query(location)
            raise E.RedirectError(E.RedirectError.likely_cause(url, location), replace(context, location=location))
        body = _storage_body(response) if to_storage else _safe_body(response)
        cls = E.error_for_status(response.status_code)
        retry_after = parse_retry_after(response.headers.get("retry-after")) if cls is E.RateLimitedError else None
        raise cls(_short_detail(body), replace(context, body=body, retry_after=retry_after))

    # -- signed storage URLs (workspace files) -------------------------------------------------------
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
        url = _checked_signed_url(url, SIGNED_UPLOAD)
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
        url = _checked_signed_url(url, SIGNED_DOWNLOAD)
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
        except httpx.HTTPError as exc:  # nothing was left under the final name (download_to's temp file)
            context = self._context(op, request, budget, response=response)
            raise E.ConnectionDropped(f"the file broke off midway ({type(exc).__name__})", context) from None

    def _context(self, op: Operation, request: httpx.Request, budget: AttemptBudget,
                 external_ids: tuple[str, ...] = (), response: httpx.Response | None = None) -> E.ErrorContext:
        """What an error of this request carries: where it went, which attempt, and what came back."""
        context = E.ErrorContext(
            operation=op.name, method=request.method, host=request.url.netloc.decode(), path=request.url.path,
            environment="signed storage URL" if op.version == STORAGE else self.environment,
            external_ids=external_ids, attempts=budget.used, max_attempts=budget.max_attempts,
        )
        if response is None:
            return context
        return replace(context, status=response.status_code, request_id=_first_header(response, _REQUEST_ID_HEADERS),
                       workspace=_first_header(response, _WORKSPACE_HEADERS))

    def _decode(self, op, request, response: httpx.Response, budget, external_ids) -> Any:
        if op.response_kind == "binary":
            return response  # the caller streams it (see client.files) and closes it
        try:
            if response.status_code == 204 or not response.content:
                return None
            return response.json()
        except (ValueError, httpx.DecodingError):
            context = replace(self._context(op, request, budget, external_ids, response), body=_safe_body(response),
                              extra={"content_type": response.headers.get("content-type")})
            raise E.MalformedResponseError(
                f"expected JSON, got {response.headers.get('content-type') or 'no content type'}", context
            ) from None

    def _run_with_retries(self, op: Operation, attempt, budget: AttemptBudget, logger, safe: bool) -> Any:
        logger = logger or log
        settings = self.retry_settings

        def may_retry(error: BaseException) -> bool:
            return is_retryable(error, safe)

        def stop(state: RetryCallState) -> bool:
            wait = state.upcoming_sleep
            if wait > settings.max_delay:  # a Retry-After beyond our cap: give up rather than hammer
                return True
            return not budget.can_wait(wait)

        def before_sleep(state: RetryCallState) -> None:
            self._count("retries")
            error = state.outcome.exception()
            c = error.context
            logger.warning(
                "Retrying %s after %s (attempt %d/%d, waiting %.2fs): %s %s%s -> %s, request id %s",
                op.name, type(error).__name__, c.attempts, budget.max_attempts, state.upcoming_sleep,
                c.method, c.host, c.path, c.status or "no answer", c.request_id or "none",
            )

        retrying = Retrying(
            retry=retry_if_exception(may_retry), wait=BackoffWait(settings), stop=stop,
            before_sleep=before_sleep, reraise=True,
        )
        try:
            return retrying(attempt)
        except E.SpotDraftError as error:
            # Whether an outer layer (Prefect's task retries) may still try: same rules, same budget.
            # Only the client can honour a Retry-After, so an error carrying one is never left to Prefect.
            retryable = (
                may_retry(error) and error.context.retry_after is None and budget.can_wait(settings.base_delay)
            )
            raise error.with_context(
                attempts=budget.used, max_attempts=budget.max_attempts,
                extra={**error.context.extra, "retryable": retryable},
            ) from None


# Not catalog operations: the object-store side of workspace files, named for logs and errors.
STORAGE = "storage"  # the `version` of these two, which are not SpotDraft's
SIGNED_UPLOAD = Operation(name="put_to_signed_upload_url", method="PUT", path="{upload_url}", version=STORAGE,
                          family="workspace", operation_id="", safe_to_retry=True)
SIGNED_DOWNLOAD = Operation(name="get_from_signed_download_url", method="GET", path="{signed_url}",
                            version=STORAGE, family="workspace", operation_id="", safe_to_retry=True,
                            response_kind="binary")


def _checked_signed_url(url: str, op: Operation) -> str:
    try:
        return check_signed_url(url)
    except ValueError as exc:
        raise E.InvalidRequestError(str(exc), E.ErrorContext(operation=op.name, method=op.method)) from None


def _first_header(response: httpx.Response, names: tuple[str, ...]) -> str | None:
    return next((response.headers[n] for n in names if n in response.headers), None)


def _safe_body(response: httpx.Response) -> Any:
    """The error body, parsed when it is JSON, cut to a readable size, with any secret masked."""
    text = response.text[:_BODY_KEEP]
    try:
        return redact(json.loads(text))
    except ValueError:
        return scrub_text(text) or None


_XML_FIELD = re.compile(r"<(Code|Message)>([^<]{0,300})</\1>")
# Any query string (after a URL or a bare path), and the signing parameters of S3, GCS, CloudFront
# and Azure wherever they appear: what could repeat a signed URL's key in an error text.
_SIGNED_QUERY = re.compile(r"([^\s?\"'<>]+)\?[^\s\"'<>]*")
_SIGNING_PARAM = re.compile(
    r"(?i)\b(x-amz-[a-z-]+|x-goog-[a-z-]+|signature|sig|googleaccessid|key-pair-id|policy|se|sp|sv|sr)=[^&\s\"'<>]*"
)


def _without_query(url: str | None) -> str | None:
    return url.split("?", 1)[0] if url else url


def _storage_body(response: httpx.Response) -> Any:
    """What a storage host's error says, without what could repeat the signature.

    S3 and GCS error bodies echo the signature and the string signed (`SignatureProvided`,
    `StringToSign`, `CanonicalRequest`); only their `Code` and `Message` are kept, and any URL
    in them loses its query.
    """
    body = _safe_body(response)
    if isinstance(body, dict):
        kept = {k: body[k] for k in ("code", "detail", "message", "error") if isinstance(body.get(k), str)}
    elif isinstance(body, str):
        kept = {k.lower(): v for k, v in _XML_FIELD.findall(body)} or {"detail": body[:200]}
    else:
        return None
    return {k: _scrub_signed(v) for k, v in kept.items()} or None


def _scrub_signed(text: str) -> str:
    return _SIGNING_PARAM.sub(r"\1=[removed]", _SIGNED_QUERY.sub(r"\1?[query removed]", text))


def _short_detail(body: Any) -> str | None:
    if isinstance(body, dict):
        for key in ("detail", "message", "error", "code"):
            if body.get(key):
                return str(body[key])[:300]
        return json.dumps(body)[:300]
    if isinstance(body, str):
        return " ".join(body.split())[:200] or None
    return None


def _describe_validation(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors()[:5]:
        where = ".".join(str(p) for p in err["loc"]) or "body"
        parts.append(f"{where}: {err['msg']}")
    return "invalid body: " + "; ".join(parts)


def _external_ids(op: Operation, path_params: Mapping[str, Any] | None, body: Any) -> tuple[str, ...]:
    """The external metadata keys a call involves, for the error context."""
    ids = []
    if path_params and path_params.get("external_metadata_id"):
        ids.append(str(path_params["external_metadata_id"]))
    if isinstance(body, BaseModel):
        body = body.model_dump(mode="json", exclude_none=True)
    if isinstance(body, dict) and isinstance(body.get("external_metadata"), dict):
        ext = body["external_metadata"].get("id")
        if ext:
            ids.append(str(ext))
    return tuple(ids)
