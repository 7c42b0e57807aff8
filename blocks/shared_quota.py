"""One SpotDraft request quota shared by every process on the same credentials (issue 9).

When `SPOTDRAFT_RATE_LIMIT` is set and a Prefect API is configured, the client's rate limiter takes
its tokens from a Prefect global concurrency limit used as a rate limit (a limit with
`slot_decay_per_second`), named after the credentials (`quota_name`, never the secret), so every
flow run and worker on the same credential pair draws from one quota.

Slots are taken in batches with the client's `increment_concurrency_slots(mode="rate_limit")`,
not with `prefect.concurrency.sync.rate_limit()`: that one costs a round trip and emits an event
per call (10 to 14 calls a second against a local SQLite server). The direct call emits no event.

What the server does (prefect/server/models/concurrency_limits_v2.py, and measured), and how we ask:

- A grant sets `active_slots = max(0, active_slots - floor(decay * (now - updated))) + slots` and
  resets `updated`. A 423 changes nothing: even its `denied_slots` bookkeeping is rolled back with
  the refusal, so asking too early costs a round trip but never quota, and leaves no trace that
  anyone waits; its `Retry-After` is only `slots / decay` times a random 0.75 to 1.3.
- Pacing. With `limit == batch` nobody can be granted anything until `batch / rate` seconds after
  a grant, so the process that was just granted waits that long, then asks. Measured alone: about
  97 % of `rate` at one round trip per batch (asking at once: 72 %, nearly 2 round trips a batch).
- Waiting. After a 423 we read the limit (a GET, which writes nothing) and sleep until the slots we
  need are free, at most one batch's time (the "shorter of Retry-After and batch / rate", made
  exact), plus a small random spread.
- Fairness. The process that was just granted knows to the millisecond when the limit frees; a
  refused one loses that race nearly every time (measured before what follows: one of two
  processes got 1 batch in 5 s). So, with company (a read showed someone else's grant within
  CONTENDED_FOR seconds), a process whose batch has decayed does not ask: it reads the limit a
  little later (GIVE_WAY); if someone took the slots, it waits until they have decayed and goes
  next, ahead of the other, who now gives way in turn; if nobody came it asks at once (and after
  ALONE_AFTER such turns it paces alone again). A holder that has no company yet never reads, so
  a process refused twice in a row (or once, after no grant for CONTENDED_FOR seconds) takes the
  slots that are free mid-interval, fewer than it needs: the holder's next request meets a 423,
  and the rest of the batch comes after the holder's next turn. Measured against a local server,
  two processes that both want more than the rate alternate batches (longest wait about 0.5 s) at
  93 to 95 % of the rate and about 10 round trips a second together, a grant and a read per batch;
  three or four reach 80 to 90 %. With a batch of 1 (a rate of 5 a second or less) nothing is free
  mid-interval, and a waiter can lose the race for several seconds.
- Two writes to the limit at the same instant on a SQLite-backed server: the later one waits about
  2 s for SQLite's lock and then succeeds, or fails with SQLITE_BUSY, which the server answers 503,
  and Prefect's client sleeps another 2 s (2 ** 1, with jitter) before retrying. We turn Prefect's
  retries off for our calls (PREFECT_CLIENT_MAX_RETRIES=0 in a settings context of our own) and
  repeat a 503 after a few milliseconds: the refused write was rolled back, and a repeated
  increment could only take slots twice, never exceed the rate. The first 2 s remain: a process
  whose write collides still waits that long (with three or more processes saturating the quota,
  2 to 5 s between batches at times).
- A limit someone made unusable in Prefect (inactive, a capacity of 0, no slot decay or one too slow to
  grant anything within a retry window) is refused with a QuotaUnavailable that names it and the
  `prefect global-concurrency-limit` command that sets it back; it is never overwritten, never waited on.
  Found when the limit is first used, or by the read or refusal that follows a change during a run; the
  limiter then paces its process alone. (A limit made inactive during a run is not seen: Prefect grants
  every request for it without a word, so each process then paces itself alone in effect.)
"""

from __future__ import annotations

import contextlib
import hashlib
import math
import random
import re
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

__all__ = ["PrefectSharedQuota", "QuotaUnavailable", "quota_name", "shared_quota_for"]

T = TypeVar("T")

# Round trips that grant slots, per second, all processes together (see PrefectSharedQuota).
GRANTS_PER_SECOND = 5
# Seconds for one call to the Prefect API. Prefect's default is 60 s per call.
API_TIMEOUT = httpx.Timeout(10.0, connect=5.0)
# Margin on a computed wake-up: the server stamps a grant a little after we send it.
WAKE_MARGIN = 0.002
# A waiting process wakes when the slots it needs are free, plus up to this fraction of a batch's
# time at random, so that waiters rarely write at the same instant.
WAIT_SPREAD = 0.05
# For CONTENDED_FOR seconds after a read showed someone else's grant, a process does not ask the
# moment its batch has decayed: it reads GIVE_WAY later (a fraction of a batch's time, at random,
# at least MIN_GIVE_WAY seconds, longer than a waiter's spread and write), so a waiter goes first.
CONTENDED_FOR = 2.0
GIVE_WAY = (0.15, 0.3)
MIN_GIVE_WAY = 0.025
# ... unless it gave way ALONE_AFTER times in a row for nobody: then it is alone again.
ALONE_AFTER = 2
# Refused this many times in a row (or at once, when it has had no grant for CONTENDED_FOR seconds),
# a process takes what is free mid-interval, so that the holder of the quota meets a 423.
STARVING_AFTER = 2
# A 503 (a write refused by a busy SQLite) is repeated this many times, a few ms apart; a 429, a
# dropped connection or a connection refused after the first answer, TRANSIENT_RETRIES times.
BUSY_RETRIES = 8
TRANSIENT_RETRIES = 2
# A slot decay below this (one slot an hour, the longest SPOTDRAFT_RETRY_WINDOW), and below our own rate,
# is no rate anyone set for SpotDraft: nothing would be granted within any request's window.
MIN_SLOT_DECAY = 1 / 3600

_PREFIX = "spotdraft-rate"
# Prefect refuses a name with / % & > < (prefect.types.names.BANNED_CHARACTERS). Its client puts
# the name unquoted into URL paths (/v2/concurrency_limits/{name}), so we are stricter: letters,
# digits and . _ - for a client id; a region or host is lowercased and may also hold ':' (a port)
# but no '-', so the id always starts after the first '-' that follows the prefix.
_READABLE_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
_READABLE_WHERE = re.compile(r"[a-z0-9.:]{1,64}")
_VALID_NAME = re.compile(r"[A-Za-z0-9._:~-]{1,200}")


class QuotaUnavailable(Exception):
    """The shared quota cannot be used now: the Prefect API is unreachable or refuses the limit.

    The limiter then paces its own process alone. The message names the limit and the cause,
    never a secret (the limit's name is built from the client id only).
    """


def quota_name(client_id: str, where: str) -> str:
    """The limit's name for a credential pair in a region/host: readable (e.g.
    `spotdraft-rate-us-<client id>`), valid as a Prefect name, stable, never containing the client
    secret (it is not an input); an id or host with characters we do not put in a name is replaced
    by a short sha256 of it."""
    if not client_id:
        raise ValueError("client_id is required to name the shared quota")
    where_norm = (where or "").strip().lower()
    if not _READABLE_WHERE.fullmatch(where_norm):
        where_norm = "h" + hashlib.sha256(where_norm.encode()).hexdigest()[:12]
    ident = client_id if _READABLE_ID.fullmatch(client_id) else (
        "sha256-" + hashlib.sha256(client_id.encode()).hexdigest()[:16])
    return f"{_PREFIX}-{where_norm}-{ident}"


def _settings_context() -> SettingsContext:
    from prefect.context import get_settings_context

    return get_settings_context()


def _api_url_of(context: SettingsContext) -> str | None:
    return context.settings.api.url or None


def shared_quota_for(client_id: str, where: str, rate: float) -> PrefectSharedQuota | None:
    """The shared quota when a Prefect API is configured (PREFECT_API_URL set, by environment or
    Prefect profile), else None (the limiter then paces this process alone)."""
    if not _api_url_of(_settings_context()):
        return None
    return PrefectSharedQuota(quota_name(client_id, where), rate)


def _safe_url(url: str) -> str:
    """The URL without user info, query or fragment, for messages."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        if parts.port:
            host = f"{host}:{parts.port}"
        return urlunsplit((parts.scheme, host, parts.path, "", ""))
    except ValueError:
        return "<unparseable URL>"


class PrefectSharedQuota:
    """One SpotDraft quota shared by every process on the same credentials, through a Prefect global concurrency limit.

    Capacity and batch, from `rate` (requests per second, all processes together):

    - `batch = max(1, ceil(rate / 5))`: a grant is one round trip for `batch` slots and the limit
      grants at most `rate` slots a second, so grants cost at most about 5 round trips a second in
      total, whatever the rate and however many processes share it. While several processes want
      more than the rate, each adds about one read of the limit per batch it gets (module docstring).
    - `limit = batch`, `slot_decay_per_second = rate`: the server grants at most `limit + rate * t`
      slots in any t seconds. A limiter that spends or drops its tokens within `batch / rate`
      seconds of their grant then sends at most `limit + batch + rate * t`, about
      `0.4 * rate + rate * t`, requests in any t seconds, however many processes: a burst of 0.4 s
      worth of `rate`, under the one second SpotDraft's bucket tolerates (the sandbox's default
      rate_burst = rate). Tokens kept longer add up across processes. A larger limit would only
      raise the burst, not the rate. (Below 2 requests a second the burst, 2 requests, is more than
      a second's worth: the least that whole slots allow.)
    - The server counts decay in whole slots from the last grant, so each grant loses the fraction
      of a slot that had decayed: the long-run rate is a little under `rate`, never over.
    """

    def __init__(self, name: str, rate: float, *, batch: int | None = None, api_url: str | None = None):
        if not isinstance(name, str) or not _VALID_NAME.fullmatch(name):
            raise ValueError(f"invalid name for a Prefect global concurrency limit: {name!r}")
        if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0 < rate < math.inf:
            raise ValueError(f"rate must be a positive number of requests per second, not {rate!r}")
        if batch is not None and (isinstance(batch, bool) or not isinstance(batch, int) or batch < 1):
            raise ValueError(f"batch must be a positive integer, not {batch!r}")
        self.name: str = name
        self.rate: float = float(rate)
        self.batch: int = batch if batch is not None else max(1, math.ceil(self.rate / GRANTS_PER_SECOND))
        self.limit: int = self.batch  # the global concurrency limit's capacity
        self.grants = 0  # round trips that granted slots
        self.denials = 0  # round trips answered 423
        self.reads = 0  # reads of the limit (after a 423, or to let a waiting process go first)
        # The settings of the caller (PREFECT_API_URL, key, TLS), for the feeder thread too.
        self._caller_context = _settings_context()
        self._api_url = api_url or _api_url_of(self._caller_context)
        self._no_retry_context: SettingsContext | None = None
        self._lock = threading.Lock()
        self._closed = threading.Event()
        self._client: SyncPrefectClient | None = None
        self._upserted = False
        self._connected = False  # a call has had an answer
        self._last_grant_at: float | None = None  # time.monotonic() in the middle of our last grant
        self._last_grant_wall: float | None = None  # time.time() when our last grant was answered
        self._company_seen_at = -math.inf  # time.monotonic() when a read showed someone else's grant
        self._alone_turns = 0  # turns given way since, for nobody
        self._random = random.Random()

    def __repr__(self) -> str:
        return f"PrefectSharedQuota(name={self.name!r}, rate={self.rate!r}, batch={self.batch!r})"

    def __enter__(self) -> PrefectSharedQuota:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- the interface ----------------------------------------------------------------------------

    def take(self, n: int) -> None:
        """Block until n slots (n <= batch) are granted by the shared limit; raise QuotaUnavailable
        when the Prefect API cannot be reached or refuses the limit (anything but a grant or a 423),
        with a message that names the limit and the cause but no secret."""
        if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= self.batch:
            raise ValueError(f"take(n) needs 1 <= n <= batch ({self.batch}), not {n!r}")
        with self._lock:
            client = self._ready()
            self._wait_for_turn(client, n)
            got, ask, refused, recreated = 0, n, 0, False
            while True:
                started = time.monotonic()
                try:
                    response = self._call(
                        "could not be asked for slots",
                        lambda slots=ask: client.increment_concurrency_slots(
                            names=[self.name], slots=slots, mode="rate_limit"),
                    )
                except httpx.HTTPStatusError as exc:
                    if exc.response.status_code == 422:  # the limit changed under us: say how, if we can
                        self._explain_refusal(client, ask, exc)
                    if exc.response.status_code != 423:
                        raise self._unavailable("refused the request for slots", exc) from exc
                    self.denials += 1
                    refused += 1
                    view = self._read(client)
                    if got == 0 and (refused >= STARVING_AFTER or self._newcomer()):
                        # Another process may hold the quota, pacing itself to the millisecond
                        # without knowing that we wait: asking when the limit frees would race it
                        # (and two writes at once cost one of them 2 s on SQLite). Take what is free
                        # in the middle of its interval instead, so that its next request meets a
                        # 423 and it starts giving way.
                        ask = min(view.room, n) or max(1, n // 4)
                        if not view.room:
                            self._sleep_until(view.free_at(ask))
                        continue
                    ask = n - got
                    self._sleep_until(view.free_at(ask) + self._spread(ask))
                    continue
                ended = time.monotonic()
                if not self._names_us(response):
                    # The server grants vacuously when no limit has the name: it was deleted after
                    # we created it. Create it again, once per take.
                    if recreated:
                        raise QuotaUnavailable(f"{self._where()}: the limit vanished again after being re-created")
                    self._upsert(client)
                    recreated = True
                    continue
                self.grants += 1
                got, refused = got + ask, 0
                if got == n:
                    self._last_grant_at, self._last_grant_wall = (started + ended) / 2, time.time()
                    return
                # Part of a batch, taken mid-interval (above). The holder meets its 423 when its
                # interval ends and, having waited, goes next; the rest of ours comes after it.
                ask = n - got
                self._give_way_then_wait(client, (started + ended) / 2 + n / self.rate, ask)

    def close(self) -> None:
        """Close the Prefect client; a take waiting in another thread raises QuotaUnavailable."""
        self._closed.set()
        with self._lock:
            client, self._client = self._client, None
            if client is not None:
                with contextlib.suppress(Exception):  # a broken connection is closed anyway
                    client.__exit__(None, None, None)

    # -- calls to the Prefect API -----------------------------------------------------------------

    def _where(self) -> str:
        url = _safe_url(self._api_url) if self._api_url else "<no Prefect API configured>"
        return f"shared SpotDraft quota {self.name!r} (Prefect global concurrency limit at {url})"

    def _unavailable(self, what: str, exc: BaseException) -> QuotaUnavailable:
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
        return QuotaUnavailable(f"{self._where()} {what}: {cause}")

    def _check_open(self) -> None:
        if self._closed.is_set():
            raise QuotaUnavailable(f"{self._where()}: closed")

    def _sleep_until(self, deadline: float) -> None:
        delay = deadline - time.monotonic()
        if delay > 0:
            self._closed.wait(delay)
        self._check_open()

    def _call(self, what: str, fn: Callable[[], T]) -> T:
        """One call to the Prefect API, without Prefect's own retries (see the module's docstring).

        A 503 is repeated at once, a dropped connection twice; any other HTTP error is raised as
        is (the caller handles 423 and 404), anything else that fails becomes QuotaUnavailable.
        """
        from prefect.exceptions import PrefectException

        busy = transient = 0
        while True:
            self._check_open()
            try:
                with self._no_retry_context.model_copy():  # type: ignore[union-attr]
                    result = fn()
                self._connected = True
                return result
            except httpx.HTTPStatusError as exc:
                self._connected = True
                if exc.response.status_code == 503 and busy < BUSY_RETRIES:
                    busy += 1
                    self._sleep_until(time.monotonic() + self._random.uniform(0.002, 0.01) * busy)
                    continue
                if exc.response.status_code == 429 and transient < TRANSIENT_RETRIES:
                    transient += 1
                    self._sleep_until(time.monotonic() + min(_retry_after(exc.response, 1.0), 10.0))
                    continue
                raise
            except (httpx.TimeoutException, httpx.UnsupportedProtocol, httpx.ProxyError) as exc:
                raise self._unavailable(what, exc) from exc
            except httpx.TransportError as exc:
                # Connection refused, reset or dropped. Never connected: the URL is wrong or the server
                # is down, say so now (httpx has already retried a refused connection three times).
                # Otherwise the server may be restarting; an increment whose answer was lost may have
                # taken slots, and asking again can only under-use the quota.
                if not self._connected or transient >= TRANSIENT_RETRIES:
                    raise self._unavailable(what, exc) from exc
                transient += 1
                self._sleep_until(time.monotonic() + 0.2 * transient)
            except PrefectException:
                raise  # ObjectNotFound, ObjectAlreadyExists: the caller decides
            except (httpx.HTTPError, ValueError) as exc:  # ValueError: a body that is not what Prefect sends
                raise self._unavailable(what, exc) from exc

    def _ready(self) -> SyncPrefectClient:
        """The client, opened on first use, with the limit created or updated once."""
        self._check_open()
        if self._client is None:
            self._client = self._open_client()
        if not self._upserted:
            self._upsert(self._client)
        return self._client

    def _open_client(self) -> SyncPrefectClient:
        # Not prefect's get_client(sync_client=True): it has no api_url parameter, it may hand back
        # the caller's context client (which close() must not close), and with no URL configured
        # it starts an ephemeral server. The configured key is only sent to the configured API.
        from prefect.client.orchestration import SyncPrefectClient
        from prefect.settings import PREFECT_API_AUTH_STRING, PREFECT_API_KEY, PREFECT_CLIENT_MAX_RETRIES

        if not self._api_url:
            raise QuotaUnavailable(f"{self._where()}: no Prefect API URL (set PREFECT_API_URL)")
        settings = self._caller_context.settings
        configured = _api_url_of(self._caller_context)
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
            raise self._unavailable("could not be opened", exc) from exc
        return client

    def _upsert(self, client: SyncPrefectClient) -> None:
        """Create the limit, or update its capacity and decay if they differ (SPOTDRAFT_RATE_LIMIT changed).

        A limit someone made unusable (inactive, a capacity of 0, no or an absurd slot decay: none of
        which any SPOTDRAFT_RATE_LIMIT sets) is refused as it is, before any slot is asked for, not
        overwritten: an operator's setting is theirs to change back (the message says how).
        """
        from prefect.client.schemas.actions import GlobalConcurrencyLimitCreate, GlobalConcurrencyLimitUpdate
        from prefect.exceptions import ObjectAlreadyExists, ObjectNotFound

        def read() -> GlobalConcurrencyLimitResponse:
            return self._call("could not be read", lambda: client.read_global_concurrency_limit_by_name(self.name))

        for attempt in range(3):
            try:
                try:
                    existing = read()
                except ObjectNotFound:
                    self._call("could not be created", lambda: client.create_global_concurrency_limit(
                        GlobalConcurrencyLimitCreate(name=self.name, limit=self.limit,
                                                     slot_decay_per_second=self.rate)))
                else:
                    self._check_usable(existing)
                    if (existing.limit, existing.slot_decay_per_second) != (self.limit, self.rate):
                        self._call("could not be updated", lambda: client.update_global_concurrency_limit(
                            self.name, GlobalConcurrencyLimitUpdate(limit=self.limit,
                                                                    slot_decay_per_second=self.rate)))
                limit = read()
                break
            except (ObjectAlreadyExists, ObjectNotFound) as exc:
                # Another process created (or someone deleted) it between the upsert's read and write.
                if attempt == 2:
                    raise self._unavailable("could not be created or updated", exc) from exc
            except httpx.HTTPStatusError as exc:
                raise self._unavailable("could not be created or updated", exc) from exc
        self._check_usable(limit)
        self._upserted = True

    def _check_usable(self, limit: GlobalConcurrencyLimitResponse) -> None:
        """Refuse a limit that cannot share the rate, with what is wrong and what to do about it: every
        one of these would otherwise share nothing (inactive) or grant nothing, ever (the rest)."""
        decay = limit.slot_decay_per_second
        if not limit.active:  # an inactive limit grants everything, so it shares nothing
            problem = "the limit is inactive in Prefect, so it limits nothing and shares nothing"
            fix = f"enable it (prefect global-concurrency-limit enable {self.name})"
        elif limit.limit <= 0:
            problem = f"the limit's capacity is {limit.limit}, so it can never grant a request"
            fix = f"set its capacity back to {self.limit} ({self._update_command()})"
        elif not (math.isfinite(decay) and decay > 0):
            problem = f"the limit's slot decay is {decay!r} per second, so it is not a rate limit"
            fix = f"set it back to {self._rate_text()} ({self._update_command()})"
        elif decay < min(self.rate, MIN_SLOT_DECAY):
            problem = (f"the limit's slot decay is {decay:g} per second (one request every {1 / decay:,.0f} s), "
                       "so nothing would be granted within any request's retry window")
            fix = f"set it back to {self._rate_text()} ({self._update_command()})"
        else:
            return
        raise QuotaUnavailable(
            f"{self._where()}: {problem}. Someone changed it in Prefect: {fix}, or delete it (prefect "
            f"global-concurrency-limit delete {self.name}) and the next run creates it again from "
            "SPOTDRAFT_RATE_LIMIT. Until then each process paces itself alone at SPOTDRAFT_RATE_LIMIT")

    def _update_command(self) -> str:
        return (f"prefect global-concurrency-limit update {self.name} --limit {self.limit} "
                f"--slot-decay-per-second {self._rate_text()}")

    def _rate_text(self) -> str:
        return str(int(self.rate)) if self.rate.is_integer() else repr(self.rate)

    def _explain_refusal(self, client: SyncPrefectClient, ask: int, exc: httpx.HTTPStatusError) -> None:
        """After a 422 to a request for slots: raise what is wrong with the limit now, when a read says."""
        try:
            limit = self._call("could not be read", lambda: client.read_global_concurrency_limit_by_name(self.name))
        except Exception:  # the 422 itself is raised then
            return
        self._check_usable(limit)
        if limit.limit < ask:
            cause = self._unavailable("refused the request for slots", exc)
            raise QuotaUnavailable(
                f"{cause}. The limit's capacity is {limit.limit}, below the {ask} slots this process asks for "
                f"at once: set it back to {self.limit} ({self._update_command()}), or delete it and the next "
                "run creates it again from SPOTDRAFT_RATE_LIMIT") from exc

    def _names_us(self, response: httpx.Response) -> bool:
        try:
            body: Any = response.json()
        except ValueError as exc:
            raise self._unavailable("answered a request for slots with something else than JSON", exc) from exc
        return isinstance(body, list) and any(isinstance(item, dict) and item.get("name") == self.name for item in body)

    # -- when to ask ------------------------------------------------------------------------------

    def _wait_for_turn(self, client: SyncPrefectClient, n: int) -> None:
        """Before asking for n slots after a grant of ours: nobody can be granted anything before
        our batch has decayed, so wait that long. Alone, ask then. With company (someone else was
        granted lately), let a waiting process go first: look a little later (a read, which costs
        no write) and ask at once if it did not come, else when its batch has decayed."""
        if self._last_grant_at is None:
            return
        free_at = self._last_grant_at + n / self.rate
        if time.monotonic() - self._company_seen_at >= CONTENDED_FOR:
            self._sleep_until(free_at + WAKE_MARGIN)
        elif self._give_way_then_wait(client, free_at, n):  # nobody came: alone again?
            self._alone_turns += 1
            if self._alone_turns >= ALONE_AFTER:
                self._company_seen_at, self._alone_turns = -math.inf, 0

    def _give_way_then_wait(self, client: SyncPrefectClient, free_at: float, n: int) -> bool:
        """Let a waiting process go first: read the limit a little after `free_at`; if someone took
        the slots, wait until n are free again. True when nobody came."""
        self._sleep_until(free_at + self._give_way(n))
        view = self._read(client)
        if view.room < n:
            self._sleep_until(view.free_at(n) + self._spread(n))
        return not view.granted_after(self._last_grant_wall) if self._last_grant_wall is not None else False

    def _spread(self, n: int) -> float:
        return self._random.uniform(0, WAIT_SPREAD * n / self.rate)

    def _give_way(self, n: int) -> float:
        return max(self._random.uniform(*GIVE_WAY) * n / self.rate, MIN_GIVE_WAY)

    def _newcomer(self) -> bool:
        return self._last_grant_at is None or time.monotonic() - self._last_grant_at > CONTENDED_FOR

    def _read(self, client: SyncPrefectClient) -> _LimitView:
        """Read the limit: a GET changes nothing and is not slowed by writers."""
        from prefect.exceptions import ObjectNotFound

        mono_before, wall_before = time.monotonic(), time.time()
        try:
            limit = self._call("could not be read", lambda: client.read_global_concurrency_limit_by_name(self.name))
        except ObjectNotFound:
            self._upsert(client)
            limit = self._call("could not be read", lambda: client.read_global_concurrency_limit_by_name(self.name))
        except httpx.HTTPStatusError as exc:
            raise self._unavailable("could not be read", exc) from exc
        mono_after, wall_after = time.monotonic(), time.time()
        self.reads += 1
        self._check_usable(limit)
        view = _LimitView(limit, (mono_before + mono_after) / 2, (wall_before + wall_after) / 2, mono_after)
        if self._last_grant_wall is None or view.granted_after(self._last_grant_wall):
            self._company_seen_at, self._alone_turns = time.monotonic(), 0  # someone else was granted
        return view


class _LimitView:
    """What a read of the limit says: slots free now, and when k slots will be."""

    def __init__(self, limit: GlobalConcurrencyLimitResponse, mono_mid: float, wall_mid: float, mono_after: float):
        self.decay = limit.slot_decay_per_second
        self.room = max(0, limit.limit - limit.active_slots)
        self._active, self._limit, self._updated = limit.active_slots, limit.limit, limit.updated
        self._mono_mid, self._wall_mid, self._mono_after = mono_mid, wall_mid, mono_after

    def granted_after(self, wall: float) -> bool:
        """Whether the limit's last grant is later than `wall` (time.time()); yes when unknown."""
        return self._updated is None or self._updated.timestamp() > wall

    def free_at(self, k: int) -> float:
        """The time.monotonic() at which k slots fit (unless someone else takes them first)."""
        to_decay = self._active + k - self._limit
        if to_decay <= 0:
            return self._mono_after
        if to_decay > k:  # over capacity (someone lowered the limit): ask again in k slots' time
            return self._mono_after + k / self.decay
        # active_slots is floored, so the wait is in ((to_decay - 1) / decay, to_decay / decay]; the
        # time of the last grant (`updated`) places it within, when our clock agrees with the
        # server's. Clamped, a skewed clock costs at most 1 / decay.
        wait = to_decay / self.decay
        if self._updated is not None:
            progress = self.decay * (self._wall_mid - self._updated.timestamp())  # slots decayed since
            wait -= (progress - math.floor(progress)) / self.decay
        wait = min(max(wait, (to_decay - 1) / self.decay), to_decay / self.decay)
        return self._mono_mid + wait + WAKE_MARGIN


def _retry_after(response: httpx.Response, default: float) -> float:
    try:
        return max(0.0, float(response.headers.get("Retry-After", default)))
    except ValueError:
        return default
