"""The SpotDraft client: one pooled httpx.Client per credentials, and one `send` every request goes through.

`call()` has the input checked against the operation's catalog entry (client.request_builder: nothing bad
reaches the wire), and runs the request under the retry policy (client.retry); `send()` is the single
place a request meets the network: it turns any httpx failure into our typed error by one table
(client.transport), any non-2xx answer into the error of its status with the full context (the body
read by client.responses, scrubbed by client.redaction), and counts the attempt. Every SpotDraft request
waits there for its turn at the rate limiter of its credentials (client.ratelimit), retries included.
"""

from __future__ import annotations

import logging
import os
import threading
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import replace
from typing import Any

import httpx
from pydantic import SecretStr

from client import errors as E
from client import pages, ratelimit, request_builder, responses, transport
from client.catalog import OPERATIONS_BY_NAME
from client.operation import Operation
from client.redaction import install_log_filter, register_secret, secret_answer_fields, without_query
from client.regions import Region, check_base_url
from client.retry import AttemptBudget, parse_retry_after, run_with_retries
from client.settings import RateLimitSettings, RetrySettings, TimeoutSettings
from client.signed_urls import STORAGE, SignedUrlTransfers

log = logging.getLogger("spotdraft.client")
install_log_filter()  # httpx's INFO line "HTTP Request: GET <url>" never shows a signed URL's key

# A check of a decoded answer (see `SpotDraftClient.call`): raises MalformedResponseError to refuse it.
AnswerCheck = Callable[[Any], Any]

# Connections per pool: at least the sync's most key-pointer calls in flight (flows.sync.MAX_CONCURRENCY, 128)
# and its pages' list calls (3). A request that waited for a connection after its turn at the rate limiter would
# leave late and bunch up with the next; httpx opens connections only when needed, so a high cap costs nothing idle.
MAX_CONNECTIONS = 136


class SpotDraftClient(SignedUrlTransfers):
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
        max_connections: int = MAX_CONNECTIONS,
        rate_limit: RateLimitSettings | None = None,
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
        # Shared by every client of the process on these credentials and host: one quota, one bucket.
        self.limiter = ratelimit.limiter_for(client_id, secret, self.base_url,
                                             (rate_limit or RateLimitSettings()).rate_limit)
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
        check: AnswerCheck | None = None,
    ) -> Any:
        """Run one operation: validate, send under the retry policy, return the JSON SpotDraft sent.

        `reconcile`, for writes that are not safe to repeat, is called before any second attempt of
        this call; when it returns something other than None, that is the result and nothing is sent
        again. (Whether an earlier call already did the write is the caller's look-up to make first.)
        `stream_to`, for a file answer, is where to write it (see `client.files.download_to`); a
        body that breaks off midway fails that attempt like a dropped connection, so it is retried.
        `check`, given the decoded answer inside each attempt, refuses an answer that contradicts
        itself by raising MalformedResponseError (e.g. `client.pages.page_of`): that attempt fails
        like any malformed answer (retried for operations safe to repeat), with the full context.
        """
        op = self.operation(operation)
        if stream_to is not None and (op.response_kind != "binary" or reconcile is not None):
            raise E.InvalidRequestError(f"stream_to is for operations that answer a file; {op.name} does not",
                                        E.ErrorContext(operation=op.name, method=op.method, path=op.path))
        request = self.build_request(op, path_params=path_params, query=query, body=body, files=files,
                                     headers=headers)
        budget = budget or self.new_budget()
        external_ids = request_builder.external_ids(op, path_params, body)

        last_error: list[E.SpotDraftError] = []

        def attempt() -> Any:
            try:
                # An earlier attempt of this call may have landed. (Attempts before this call, e.g. an
                # earlier Prefect try, are the caller's to look up first: client.writes does.)
                if reconcile is not None and last_error:
                    found = reconcile(budget)
                    if found is not None:
                        return found
                    if budget.remaining == 0 and last_error:  # the look-up spent the last request
                        raise last_error[-1]
                response = self.send(op, request, budget, external_ids)
                if stream_to is not None and op.response_kind == "binary":
                    return self._stream(op, request, response, budget, stream_to)
                answer = self._decode(op, request, response, budget, external_ids)
                self._remember_secrets(op, answer)
                if check is not None:
                    self._check(op, request, response, budget, external_ids, check, answer)
                return answer
            except E.SpotDraftError as error:
                last_error.append(error)
                raise

        return self._run_with_retries(op, attempt, budget, logger, safe=op.safe_to_retry or reconcile is not None)

    def iter_pages(
        self, operation: str | Operation, *, limit: int = 100, page: int = 1, **kwargs: Any
    ) -> Iterator[dict[str, Any]]:
        """Each page of a list operation in turn, until the totals say the last page was read.

        Every answer is checked against itself (`client.pages.page_of`) inside its attempt, so a
        page that contradicts its own total is retried, then raised: never taken for the last page.
        """
        op = self.operation(operation)
        query = dict(kwargs.pop("query", None) or {})
        own_check: AnswerCheck | None = kwargs.pop("check", None)
        while True:
            number = page

            def check(answer: Any, number: int = number) -> None:
                pages.page_of(answer, page=number, limit=limit)
                if own_check is not None:
                    own_check(answer)

            answer = self.call(op, query={**query, "page": number, "limit": limit}, check=check, **kwargs)
            _, total = pages.page_of(answer, page=number, limit=limit)
            yield answer
            if pages.is_last(total, page=number, limit=limit):
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

    # -- building a request (all checks happen in client.request_builder, before anything is sent) -------------
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
        return request_builder.build_request(self._http, op, host=self.host, path_params=path_params,
                                             query=query, body=body, files=files, headers=headers)

    # -- sending ---------------------------------------------------------------------------------------
    def send(
        self, op: Operation, request: httpx.Request, budget: AttemptBudget, external_ids: tuple[str, ...] = ()
    ) -> httpx.Response:
        """Wait for the limiter, send once, count the attempt, and return a 2xx response or raise its typed error.

        A signed storage URL's request goes through the storage client, without SpotDraft's headers,
        and not through the limiter: the storage host is not SpotDraft and does not count against its quota.
        Only the path goes into the error context, never the query: a signed URL's query is its key.
        """
        to_storage = op.version == STORAGE
        sent_at = None if to_storage else self._wait_for_turn(op, request, budget, external_ids)
        budget.take()
        self._count("requests")
        context = self._context(op, request, budget, external_ids)
        try:
            response = (self._storage if to_storage else self._http).send(request, stream=op.response_kind == "binary")
        except transport.HTTPX_EXCEPTIONS as exc:
            raise transport.translate(exc, context) from None
        if sent_at is not None:
            self._tell_limiter(sent_at, response)
        context = self._context(op, request, budget, external_ids, response)
        if response.is_success:
            return response
        if op.response_kind == "binary":
            try:
                response.read()
            except (*transport.HTTPX_EXCEPTIONS, OSError):
                pass  # the status says enough; a broken error body must not hide it (answers reads it as None)
            finally:
                response.close()
        if response.is_redirect or 300 <= response.status_code < 400:
            location = response.headers.get("location")
            url = str(request.url)
            if to_storage:  # a signed URL's query is its key: neither ours nor the Location's is repeated
                url, location = without_query(url), without_query(location)
            raise E.RedirectError(E.RedirectError.likely_cause(url, location), replace(context, location=location))
        body = responses.storage_body(response) if to_storage else responses.safe_body(response)
        cls = E.error_for_status(response.status_code)
        # The server's ask is honoured on a 429 and on any 5xx we may retry (a 503 with Retry-After).
        honoured = cls is E.RateLimitedError or response.status_code in E.RETRYABLE_5XX
        retry_after = parse_retry_after(response.headers.get("retry-after")) if honoured else None
        raise cls(responses.short_detail(body), replace(context, body=body, retry_after=retry_after))

    def _wait_for_turn(self, op: Operation, request: httpx.Request, budget: AttemptBudget,
                       external_ids: tuple[str, ...]) -> float:
        """Wait at the limiter, at most until this operation's window ends. A request whose turn cannot
        come by then (a Retry-After any request got, its pacing slot, or a shared-quota token) fails
        at once, unsent, like its own 429 would: a Retry-After is never cut short, never waited past the window."""
        try:
            return self.limiter.acquire(deadline=self.limiter.now() + budget.window - budget.elapsed())
        except ratelimit.NoTurnInTime as late:
            # The wait it would have needed: with it the retry policy stops at once (the window cannot hold it).
            context = replace(self._context(op, request, budget, external_ids), retry_after=late.wait)
            raise E.RateLimitedError(str(late), context) from None

    def _tell_limiter(self, sent_at: float, response: httpx.Response) -> None:
        if response.status_code == 429:
            self._count("throttled")
            self.limiter.throttled(sent_at, parse_retry_after(response.headers.get("retry-after")))
        else:
            self.limiter.answered(sent_at)

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
        return replace(context, status=response.status_code,
                       request_id=responses.first_header(response, responses.REQUEST_ID_HEADERS),
                       workspace=responses.first_header(response, responses.WORKSPACE_HEADERS))

    def _decode(self, op, request, response: httpx.Response, budget, external_ids) -> Any:
        if op.response_kind == "binary":
            return response  # the caller streams it (see client.files) and closes it
        try:
            if response.status_code == 204 or not response.content:
                return None
            return response.json()
        except (ValueError, httpx.DecodingError):
            context = replace(self._context(op, request, budget, external_ids, response),
                              body=responses.safe_body(response),
                              extra={"content_type": response.headers.get("content-type")})
            raise E.MalformedResponseError(
                f"expected JSON, got {response.headers.get('content-type') or 'no content type'}", context
            ) from None

    def _check(self, op, request, response: httpx.Response, budget, external_ids, check: AnswerCheck,
               answer: Any) -> None:
        """Run the caller's check of a decoded answer; a refusal becomes a malformed answer with context."""
        try:
            check(answer)
        except E.MalformedResponseError as refused:
            context = self._context(op, request, budget, external_ids, response)
            extra = {**context.extra, **refused.context.extra, "check": "the answer contradicts itself"}
            raise E.MalformedResponseError(refused.detail, replace(context, extra=extra)) from None

    @staticmethod
    def _remember_secrets(op: Operation, answer: Any) -> None:
        """Secrets an answer hands out (an embedded signing URL) are scrubbed from any text from now on."""
        fields = secret_answer_fields(op.name)
        if fields and isinstance(answer, dict):
            for name in fields:
                if isinstance(answer.get(name), str):
                    register_secret(answer[name])

    def _run_with_retries(self, op: Operation, attempt, budget: AttemptBudget, logger, safe: bool) -> Any:
        return run_with_retries(op.name, attempt, budget, self.retry_settings, logger or log, safe,
                                on_retry=lambda: self._count("retries"))
