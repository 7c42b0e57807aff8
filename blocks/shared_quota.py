"""One SpotDraft request quota shared by every process on the same credentials (issue 9).

With `SPOTDRAFT_RATE_LIMIT` set and a Prefect API configured, the client's rate limiter takes its tokens
from a Prefect global concurrency limit used as a rate limit, named after the credentials (`quota_name`,
never the secret). Not a Block: the Prefect side of `client.ratelimit.SharedQuota`, which
`SpotDraftCredentials` wires in. How the server grants, how we ask and what was measured:
docs/design/shared-quota.md. The calls to Prefect's API: `blocks/prefect_limit.py`.
"""

from __future__ import annotations

import hashlib
import math
import random
import re
import threading
import time
from typing import TYPE_CHECKING

import httpx

# Names from before the calls to Prefect moved to blocks/prefect_limit.py, kept importable from here.
from blocks.prefect_limit import API_TIMEOUT as API_TIMEOUT
from blocks.prefect_limit import BUSY_RETRIES as BUSY_RETRIES
from blocks.prefect_limit import MIN_SLOT_DECAY as MIN_SLOT_DECAY
from blocks.prefect_limit import TRANSIENT_RETRIES as TRANSIENT_RETRIES
from blocks.prefect_limit import PrefectLimit, QuotaUnavailable
from blocks.prefect_limit import api_url_of as _api_url_of
from blocks.prefect_limit import settings_context as _settings_context

if TYPE_CHECKING:
    from prefect.client.orchestration import SyncPrefectClient
    from prefect.client.schemas.responses import GlobalConcurrencyLimitResponse

__all__ = ["PrefectSharedQuota", "QuotaUnavailable", "quota_name", "shared_quota_for"]

# Round trips that grant slots, per second, all processes together (see PrefectSharedQuota).
GRANTS_PER_SECOND = 5
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

_PREFIX = "spotdraft-rate"
# Prefect refuses a name with / % & > < (prefect.types.names.BANNED_CHARACTERS). Its client puts
# the name unquoted into URL paths (/v2/concurrency_limits/{name}), so we are stricter: letters,
# digits and . _ - for a client id; a region or host is lowercased and may also hold ':' (a port)
# but no '-', so the id always starts after the first '-' that follows the prefix.
_READABLE_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
_READABLE_WHERE = re.compile(r"[a-z0-9.:]{1,64}")
_VALID_NAME = re.compile(r"[A-Za-z0-9._:~-]{1,200}")


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


def shared_quota_for(client_id: str, where: str, rate: float) -> PrefectSharedQuota | None:
    """The shared quota when a Prefect API is configured (PREFECT_API_URL set, by environment or
    Prefect profile), else None (the limiter then paces this process alone)."""
    if not _api_url_of(_settings_context()):
        return None
    return PrefectSharedQuota(quota_name(client_id, where), rate)


class PrefectSharedQuota:
    """One SpotDraft quota shared by every process on the same credentials, through a Prefect global concurrency limit.

    `batch = max(1, ceil(rate / 5))` slots per grant (at most about 5 grants a second, all processes
    together) and `limit = batch`, `slot_decay_per_second = rate`: the server grants at most
    `limit + rate * t` slots in any t seconds, a burst of about 0.4 s worth of `rate`. The long-run
    rate is a little under `rate`, never over. Why: docs/design/shared-quota.md ("Capacity and batch").
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
        self._lock = threading.Lock()
        self._last_grant_at: float | None = None  # time.monotonic() in the middle of our last grant
        self._last_grant_wall: float | None = None  # time.time() when our last grant was answered
        self._company_seen_at = -math.inf  # time.monotonic() when a read showed someone else's grant
        self._alone_turns = 0  # turns given way since, for nobody
        self._random = random.Random()
        # The settings of the caller (PREFECT_API_URL, key, TLS) are taken now, for the feeder thread too.
        self._api = PrefectLimit(self.name, self.rate, self.limit, api_url=api_url,
                                 caller_context=_settings_context(), rng=self._random)

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
            client = self._api.ready()
            self._wait_for_turn(client, n)
            got, ask, refused, recreated = 0, n, 0, False
            while True:
                started = time.monotonic()
                try:
                    response = self._api.call(
                        "could not be asked for slots",
                        lambda slots=ask: client.increment_concurrency_slots(
                            names=[self.name], slots=slots, mode="rate_limit"),
                    )
                except httpx.HTTPStatusError as exc:
                    if exc.response.status_code == 422:  # the limit changed under us: say how, if we can
                        self._api.explain_refusal(client, ask, exc)
                    if exc.response.status_code != 423:
                        raise self._api.unavailable("refused the request for slots", exc) from exc
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
                            self._api.sleep_until(view.free_at(ask))
                        continue
                    ask = n - got
                    self._api.sleep_until(view.free_at(ask) + self._spread(ask))
                    continue
                ended = time.monotonic()
                if not self._api.names_us(response):
                    # The server grants vacuously when no limit has the name: it was deleted after
                    # we created it. Create it again, once per take.
                    if recreated:
                        raise QuotaUnavailable(f"{self._api.where()}: the limit vanished again after being re-created")
                    self._api.upsert(client)
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
        self._api.closed.set()
        with self._lock:
            self._api.close_client()

    def _check_usable(self, limit: GlobalConcurrencyLimitResponse) -> None:
        """Refuse a limit that cannot share the rate, saying what is wrong and how to set it back."""
        self._api.check_usable(limit)

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
            self._api.sleep_until(free_at + WAKE_MARGIN)
        elif self._give_way_then_wait(client, free_at, n):  # nobody came: alone again?
            self._alone_turns += 1
            if self._alone_turns >= ALONE_AFTER:
                self._company_seen_at, self._alone_turns = -math.inf, 0

    def _give_way_then_wait(self, client: SyncPrefectClient, free_at: float, n: int) -> bool:
        """Let a waiting process go first: read the limit a little after `free_at`; if someone took
        the slots, wait until n are free again. True when nobody came."""
        self._api.sleep_until(free_at + self._give_way(n))
        view = self._read(client)
        if view.room < n:
            self._api.sleep_until(view.free_at(n) + self._spread(n))
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
            limit = self._api.call("could not be read", lambda: client.read_global_concurrency_limit_by_name(self.name))
        except ObjectNotFound:
            self._api.upsert(client)
            limit = self._api.call("could not be read", lambda: client.read_global_concurrency_limit_by_name(self.name))
        except httpx.HTTPStatusError as exc:
            raise self._api.unavailable("could not be read", exc) from exc
        mono_after, wall_after = time.monotonic(), time.time()
        self.reads += 1
        self._api.check_usable(limit)
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

