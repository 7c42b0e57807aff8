"""When to try again, how long to wait, and when to stop: the guide's retry model, in one place.

- Retried: 429 (after its Retry-After), timeouts, dropped connections, 500/502/503/504 and malformed
  2xx answers, but the last four only for operations safe to repeat. A 429, and a request that
  provably never went out (`TransportError.request_sent` is False: only `ConnectError`, see
  client.transport), are retried for every operation: the server did not act on them.
- Never retried: 400, 401, 402, 403, 404, 409, other statuses, redirects, bad input, and any
  ambiguous failure (timeout, drop, protocol error, 5xx) of a write that is not safe to repeat.
- Waits: our own backoff is exponential with full jitter (tenacity's `wait_random_exponential`),
  each wait capped at `max_delay`. A server's `Retry-After` (on a 429, or on a retryable 5xx such
  as a 503) is honoured as given, plus a little jitter: `max_delay` does not cap it.
- Bounds: one `AttemptBudget` per operation counts every request of every layer (client retries,
  reconciliation look-ups, Prefect task retries) against `max_attempts`, and the whole operation
  against `window` seconds. A wait that what is left of the window cannot hold ends the retries at
  once, without sleeping: the server's Retry-After is never cut short, and never outlives the window.
"""

from __future__ import annotations

import logging
import math
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tenacity import RetryCallState, Retrying, retry_if_exception, wait_random_exponential

from client.errors import (
    RETRYABLE_5XX,
    MalformedResponseError,
    RateLimitedError,
    ServerError,
    SpotDraftError,
    TransportError,
)
from client.settings import RetrySettings


@dataclass
class AttemptBudget:
    """Requests allowed for one operation, shared by every layer that may repeat it."""

    max_attempts: int
    window: float
    used: int = 0
    started: float = field(default_factory=time.monotonic)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    @classmethod
    def from_settings(cls, settings: RetrySettings) -> AttemptBudget:
        return cls(max_attempts=settings.max_attempts, window=settings.window)

    def take(self) -> int:
        """Count one request about to be sent; returns its 1-based number."""
        with self._lock:
            self.used += 1
            return self.used

    @property
    def remaining(self) -> int:
        return max(0, self.max_attempts - self.used)

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def can_wait(self, seconds: float) -> bool:
        """Whether one more attempt after `seconds` of waiting still fits in the budget and window."""
        return self.remaining > 0 and self.elapsed() + seconds <= self.window


def is_retryable(error: BaseException, safe_to_retry: bool) -> bool:
    """Whether `error` may be retried for an operation that is (or is not) safe to repeat."""
    if not isinstance(error, SpotDraftError):
        return False
    if isinstance(error, RateLimitedError):
        return True  # refused before processing
    if isinstance(error, TransportError) and not error.request_sent:
        return True  # provably never sent
    if not safe_to_retry:
        return False
    if isinstance(error, ServerError):
        return error.context.status in RETRYABLE_5XX
    return isinstance(error, TransportError | MalformedResponseError)


def may_wait(budget: AttemptBudget, seconds: float) -> bool:
    """Whether to wait `seconds` and try again: only when the budget and the window can hold it."""
    return budget.can_wait(seconds)


class BackoffWait:
    """tenacity wait strategy: our jittered exponential backoff (capped at `max_delay`), or the
    server's Retry-After when given (not capped: only the window decides whether it can be honoured)."""

    def __init__(self, settings: RetrySettings) -> None:
        self.settings = settings
        self._jittered = wait_random_exponential(multiplier=settings.base_delay, max=settings.max_delay)

    def __call__(self, state: RetryCallState) -> float:
        error = state.outcome.exception() if state.outcome else None
        retry_after = getattr(getattr(error, "context", None), "retry_after", None)
        if retry_after is not None:
            # Honour the server's ask; a little jitter keeps many workers from returning in lockstep.
            return retry_after + random.uniform(0, min(self.settings.base_delay, 1.0))
        return self._jittered(state)


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After header: delta-seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        return max(0.0, seconds) if math.isfinite(seconds) else None
    from email.utils import parsedate_to_datetime

    try:
        when = parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError):
        return None
    return max(0.0, when - (now if now is not None else time.time()))


def run_with_retries(operation: str, attempt: Callable[[], Any], budget: AttemptBudget, settings: RetrySettings,
                     logger: logging.Logger | logging.LoggerAdapter, safe: bool,
                     on_retry: Callable[[], None] = lambda: None) -> Any:  # fmt: skip
    """Run `attempt` under the policy (tenacity), each retry logged with its context; the last error is
    raised with the attempts counted and whether an outer layer may still retry it (`extra["retryable"]`)."""

    def may_retry(error: BaseException) -> bool:
        return is_retryable(error, safe)

    def stop(state: RetryCallState) -> bool:
        # max_delay caps our own backoff (BackoffWait); a server's Retry-After is honoured as
        # given, so only the window and the attempt budget decide whether we can wait for it.
        return not may_wait(budget, state.upcoming_sleep)

    def before_sleep(state: RetryCallState) -> None:
        on_retry()
        error = state.outcome.exception()
        c = error.context
        logger.warning(
            "Retrying %s after %s (attempt %d/%d, waiting %.2fs): %s %s%s -> %s, request id %s",
            operation, type(error).__name__, c.attempts, budget.max_attempts, state.upcoming_sleep,
            c.method, c.host, c.path, c.status or "no answer", c.request_id or "none",
        )

    retrying = Retrying(
        retry=retry_if_exception(may_retry), wait=BackoffWait(settings), stop=stop,
        before_sleep=before_sleep, reraise=True,
    )
    try:
        return retrying(attempt)
    except SpotDraftError as error:
        # Whether an outer layer (Prefect's task retries) may still try: same rules, same budget.
        # Only the client can honour a Retry-After, so an error carrying one is never left to Prefect.
        retryable = may_retry(error) and error.context.retry_after is None and budget.can_wait(settings.base_delay)
        raise error.with_context(
            attempts=budget.used, max_attempts=budget.max_attempts,
            extra={**error.context.extra, "retryable": retryable},
        ) from None
