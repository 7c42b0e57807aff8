"""One Prefect global concurrency limit, reached without Prefect's own retries (for `blocks/shared_quota.py`).

Opens the client, creates or updates the limit, refuses one someone made unusable, and turns anything
but an answer into a `QuotaUnavailable` that names the limit and never a secret.
Why calls are made this way (SQLite's busy writes, 503s, no retries): docs/design/shared-quota.md.
"""

from __future__ import annotations

import contextlib
import math
import random
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

import httpx

if TYPE_CHECKING:
    from prefect.client.orchestration import SyncPrefectClient
    from prefect.client.schemas.responses import GlobalConcurrencyLimitResponse
    from prefect.context import SettingsContext

T = TypeVar("T")

# Seconds for one call to the Prefect API. Prefect's default is 60 s per call.
API_TIMEOUT = httpx.Timeout(10.0, connect=5.0)
# A 503 (a write refused by a busy SQLite) is repeated this many times, a few ms apart; a 429, a
# dropped connection or a connection refused after the first answer, TRANSIENT_RETRIES times.
BUSY_RETRIES = 8
TRANSIENT_RETRIES = 2
# A slot decay below this (one slot an hour, the longest SPOTDRAFT_RETRY_WINDOW), and below our own rate,
# is no rate anyone set for SpotDraft: nothing would be granted within any request's window.
MIN_SLOT_DECAY = 1 / 3600


class QuotaUnavailable(Exception):
    """The shared quota cannot be used now: the Prefect API is unreachable or refuses the limit.

    The limiter then paces its own process alone. The message names the limit and the cause,
    never a secret (the limit's name is built from the client id only).
    """


def settings_context() -> SettingsContext:
    from prefect.context import get_settings_context

    return get_settings_context()


def api_url_of(context: SettingsContext) -> str | None:
    return context.settings.api.url or None


def safe_url(url: str) -> str:
    """The URL without user info, query or fragment, for messages."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        if parts.port:
            host = f"{host}:{parts.port}"
        return urlunsplit((parts.scheme, host, parts.path, "", ""))
    except ValueError:
        return "<unparseable URL>"


def retry_after(response: httpx.Response, default: float) -> float:
    try:
        return max(0.0, float(response.headers.get("Retry-After", default)))
    except ValueError:
        return default


class PrefectLimit:
    """The limit `name` (capacity `limit`, slot decay `rate` a second) at the Prefect API of the caller's
    settings (or `api_url`). Not thread-safe: its owner (`PrefectSharedQuota`) calls it under its lock,
    except `closed.set()`, which interrupts its sleeps."""

    def __init__(self, name: str, rate: float, limit: int, *, api_url: str | None, caller_context: SettingsContext,
                 rng: random.Random) -> None:
        self.name, self.rate, self.limit = name, rate, limit
        # The settings of the caller (PREFECT_API_URL, key, TLS), for the feeder thread too.
        self._caller_context = caller_context
        self._api_url = api_url or api_url_of(caller_context)
        self._no_retry_context: SettingsContext | None = None
        self._random = rng
        self.closed = threading.Event()
        self._client: SyncPrefectClient | None = None
        self._upserted = False
        self._connected = False  # a call has had an answer

    def close_client(self) -> None:
        """Close the Prefect client (opened again by the next `ready`, unless closed is set)."""
        client, self._client = self._client, None
        if client is not None:
            with contextlib.suppress(Exception):  # a broken connection is closed anyway
                client.__exit__(None, None, None)

    def where(self) -> str:
        url = safe_url(self._api_url) if self._api_url else "<no Prefect API configured>"
        return f"shared SpotDraft quota {self.name!r} (Prefect global concurrency limit at {url})"

    def unavailable(self, what: str, exc: BaseException) -> QuotaUnavailable:
        cause = type(exc).__name__
        response = getattr(exc, "response", None) if isinstance(exc, httpx.HTTPStatusError) else None
        if isinstance(response, httpx.Response):
            detail = ""
            try:
                body = response.json()
                if isinstance(body, dict):
                    detail = str(body.get("detail") or body.get("exception_message") or "")
            except ValueError:
                pass
            cause = f"HTTP {response.status_code}" + (f": {detail[:300]}" if detail else "")
        elif str(exc):
            cause = f"{cause}: {str(exc)[:300]}"
        return QuotaUnavailable(f"{self.where()} {what}: {cause}")

    def check_open(self) -> None:
        if self.closed.is_set():
            raise QuotaUnavailable(f"{self.where()}: closed")

    def sleep_until(self, deadline: float) -> None:
        delay = deadline - time.monotonic()
        if delay > 0:
            self.closed.wait(delay)
        self.check_open()

    def call(self, what: str, fn: Callable[[], T]) -> T:
        """One call to the Prefect API, without Prefect's own retries (docs/design/shared-quota.md).

        A 503 is repeated at once, a dropped connection twice; any other HTTP error is raised as
        is (the caller handles 423 and 404), anything else that fails becomes QuotaUnavailable.
        """
        from prefect.exceptions import PrefectException

        busy = transient = 0
        while True:
            self.check_open()
            try:
                with self._no_retry_context.model_copy():  # type: ignore[union-attr]
                    result = fn()
                self._connected = True
                return result
            except httpx.HTTPStatusError as exc:
                self._connected = True
                if exc.response.status_code == 503 and busy < BUSY_RETRIES:
                    busy += 1
                    self.sleep_until(time.monotonic() + self._random.uniform(0.002, 0.01) * busy)
                    continue
                if exc.response.status_code == 429 and transient < TRANSIENT_RETRIES:
                    transient += 1
                    self.sleep_until(time.monotonic() + min(retry_after(exc.response, 1.0), 10.0))
                    continue
                raise
            except (httpx.TimeoutException, httpx.UnsupportedProtocol, httpx.ProxyError) as exc:
                raise self.unavailable(what, exc) from exc
            except httpx.TransportError as exc:
                # Connection refused, reset or dropped. Never connected: the URL is wrong or the server
                # is down, say so now (httpx has already retried a refused connection three times).
                # Otherwise the server may be restarting; an increment whose answer was lost may have
                # taken slots, and asking again can only under-use the quota.
                if not self._connected or transient >= TRANSIENT_RETRIES:
                    raise self.unavailable(what, exc) from exc
                transient += 1
                self.sleep_until(time.monotonic() + 0.2 * transient)
            except PrefectException:
                raise  # ObjectNotFound, ObjectAlreadyExists: the caller decides
            except (httpx.HTTPError, ValueError) as exc:  # ValueError: a body that is not what Prefect sends
                raise self.unavailable(what, exc) from exc

    def ready(self) -> SyncPrefectClient:
        """The client, opened on first use, with the limit created or updated once."""
        self.check_open()
        if self._client is None:
            self._client = self.open_client()
        if not self._upserted:
            self.upsert(self._client)
        return self._client

    def open_client(self) -> SyncPrefectClient:
        # Not prefect's get_client(sync_client=True): it has no api_url parameter, it may hand back
        # the caller's context client (which close() must not close), and with no URL configured
        # it starts an ephemeral server. The configured key is only sent to the configured API.
        from prefect.client.orchestration import SyncPrefectClient
        from prefect.settings import PREFECT_API_AUTH_STRING, PREFECT_API_KEY, PREFECT_CLIENT_MAX_RETRIES

        if not self._api_url:
            raise QuotaUnavailable(f"{self.where()}: no Prefect API URL (set PREFECT_API_URL)")
        settings = self._caller_context.settings
        configured = api_url_of(self._caller_context)
        same_api = configured is not None and self._api_url.rstrip("/") == configured.rstrip("/")
        self._no_retry_context = self._caller_context.model_copy(
            update={"settings": settings.copy_with_update(updates={PREFECT_CLIENT_MAX_RETRIES: 0})})
        try:
            with self._no_retry_context.model_copy():
                client = SyncPrefectClient(
                    self._api_url,
                    auth_string=PREFECT_API_AUTH_STRING.value_from(settings) if same_api else None,
                    api_key=PREFECT_API_KEY.value_from(settings) if same_api else None,
                    httpx_settings={"timeout": API_TIMEOUT},
                )
                client.__enter__()
        except Exception as exc:
            raise self.unavailable("could not be opened", exc) from exc
        return client

    def upsert(self, client: SyncPrefectClient) -> None:
        """Create the limit, or update its capacity and decay if they differ (SPOTDRAFT_RATE_LIMIT changed).

        A limit someone made unusable (inactive, a capacity of 0, no or an absurd slot decay: none of
        which any SPOTDRAFT_RATE_LIMIT sets) is refused as it is, before any slot is asked for, not
        overwritten: an operator's setting is theirs to change back (the message says how).
        """
        from prefect.client.schemas.actions import GlobalConcurrencyLimitCreate, GlobalConcurrencyLimitUpdate
        from prefect.exceptions import ObjectAlreadyExists, ObjectNotFound

        def read() -> GlobalConcurrencyLimitResponse:
            return self.call("could not be read", lambda: client.read_global_concurrency_limit_by_name(self.name))

        for attempt in range(3):
            try:
                try:
                    existing = read()
                except ObjectNotFound:
                    self.call("could not be created", lambda: client.create_global_concurrency_limit(
                        GlobalConcurrencyLimitCreate(name=self.name, limit=self.limit,
                                                     slot_decay_per_second=self.rate)))
                else:
                    self.check_usable(existing)
                    if (existing.limit, existing.slot_decay_per_second) != (self.limit, self.rate):
                        self.call("could not be updated", lambda: client.update_global_concurrency_limit(
                            self.name, GlobalConcurrencyLimitUpdate(limit=self.limit,
                                                                    slot_decay_per_second=self.rate)))
                limit = read()
                break
            except (ObjectAlreadyExists, ObjectNotFound) as exc:
                # Another process created (or someone deleted) it between the upsert's read and write.
                if attempt == 2:
                    raise self.unavailable("could not be created or updated", exc) from exc
            except httpx.HTTPStatusError as exc:
                raise self.unavailable("could not be created or updated", exc) from exc
        self.check_usable(limit)
        self._upserted = True

    def check_usable(self, limit: GlobalConcurrencyLimitResponse) -> None:
        """Refuse a limit that cannot share the rate, with what is wrong and what to do about it: every
        one of these would otherwise share nothing (inactive) or grant nothing, ever (the rest)."""
        decay = limit.slot_decay_per_second
        if not limit.active:  # an inactive limit grants everything, so it shares nothing
            problem = "the limit is inactive in Prefect, so it limits nothing and shares nothing"
            fix = f"enable it (prefect global-concurrency-limit enable {self.name})"
        elif limit.limit <= 0:
            problem = f"the limit's capacity is {limit.limit}, so it can never grant a request"
            fix = f"set its capacity back to {self.limit} ({self.update_command()})"
        elif not (math.isfinite(decay) and decay > 0):
            problem = f"the limit's slot decay is {decay!r} per second, so it is not a rate limit"
            fix = f"set it back to {self.rate_text()} ({self.update_command()})"
        elif decay < min(self.rate, MIN_SLOT_DECAY):
            problem = (f"the limit's slot decay is {decay:g} per second (one request every {1 / decay:,.0f} s), "
                       "so nothing would be granted within any request's retry window")
            fix = f"set it back to {self.rate_text()} ({self.update_command()})"
        else:
            return
        raise QuotaUnavailable(
            f"{self.where()}: {problem}. Someone changed it in Prefect: {fix}, or delete it (prefect "
            f"global-concurrency-limit delete {self.name}) and the next run creates it again from "
            "SPOTDRAFT_RATE_LIMIT. Until then each process paces itself alone at SPOTDRAFT_RATE_LIMIT")

    def update_command(self) -> str:
        return (f"prefect global-concurrency-limit update {self.name} --limit {self.limit} "
                f"--slot-decay-per-second {self.rate_text()}")

    def rate_text(self) -> str:
        return str(int(self.rate)) if self.rate.is_integer() else repr(self.rate)

    def explain_refusal(self, client: SyncPrefectClient, ask: int, exc: httpx.HTTPStatusError) -> None:
        """After a 422 to a request for slots: raise what is wrong with the limit now, when a read says."""
        try:
            limit = self.call("could not be read", lambda: client.read_global_concurrency_limit_by_name(self.name))
        except Exception:  # the 422 itself is raised then
            return
        self.check_usable(limit)
        if limit.limit < ask:
            cause = self.unavailable("refused the request for slots", exc)
            raise QuotaUnavailable(
                f"{cause}. The limit's capacity is {limit.limit}, below the {ask} slots this process asks for "
                f"at once: set it back to {self.limit} ({self.update_command()}), or delete it and the next "
                "run creates it again from SPOTDRAFT_RATE_LIMIT") from exc

    def names_us(self, response: httpx.Response) -> bool:
        try:
            body: Any = response.json()
        except ValueError as exc:
            raise self.unavailable("answered a request for slots with something else than JSON", exc) from exc
        return isinstance(body, list) and any(isinstance(item, dict) and item.get("name") == self.name for item in body)

    # -- when to ask ------------------------------------------------------------------------------
