"""The rate limiter every SpotDraft request waits at (`SpotDraftClient.send`), retries included.

SpotDraft publishes no number: it answers 429 with `Retry-After`, per credential pair and region.
One limiter per credentials and region, shared by every thread of the process (`limiter_for`):

- **Fixed** (`SPOTDRAFT_RATE_LIMIT` requests per second): requests leave one every 1/rate seconds,
  never faster. With a shared quota (a Prefect global concurrency limit, `blocks/shared_quota.py`),
  each request also needs a token from it; a feeder thread takes them in batches, so processes on
  the same credentials stay under the rate together without a server round trip per request.
- **Adaptive** (unset): no limit until the first 429; then the rate is cut and grows back the way
  CUBIC does (botocore's adaptive retry mode: `botocore/retries/adaptive.py`, `bucket.py`,
  `throttling.py`), with four changes that matter at SpotDraft's Retry-After of whole seconds:
  1. The rate after a cut comes from what the server let through, not only from what was sent:
     between two 429s its bucket went from empty to empty, so the requests answered in between,
     over the time between, is the quota itself (botocore takes the send rate, which at the
     first 429 can be many times the quota, and needs a cut per second of pausing to get there).
  2. One cut per throttling event: the 429s of requests already in flight when the first one came
     back are echoes of the same event and cut nothing (each would otherwise take another 15%).
  3. After that first cut, a cut does not go below the estimate: what got through between two
     429s can only be at or below the quota (the server's bucket may have sat full for a while),
     so the rate restarts there and probes upwards, instead of dropping 15% under a value that is
     already low and losing that much of the quota for every 429.
  4. Growth is scaled by the rate (a probe of the same few percent a second at any quota) with a
     floor, so that at 200/s the probe is gentle and at 1/s it is not glacial.
- **Both**: a 429's Retry-After pauses every thread sharing the limiter, not just the one that got it.
- **Deadlines**: a request waits at most until its operation's retry window ends (`acquire(deadline)`):
  a pause, a pacing slot or a shared-quota token that would come later fails it at once, unsent
  (`NoTurnInTime`), also when the pause began while it was already waiting.

Nothing here imports Prefect. The clock is injectable: the unit tests run on a fake one.
"""

from __future__ import annotations

import hashlib
import logging
import math
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Protocol

log = logging.getLogger("spotdraft.client.ratelimit")

MIN_RATE = 0.5  # requests/second: an adaptive rate is never cut below this (botocore's MIN_FILL_RATE)
BETA = 0.85  # the first cut takes the rate to this share of what was being sent
GROWTH = 0.0028  # per s^3: past the estimate, the rate grows by 0.28% of it after 1 s, 2.2% after 2 s, 7.6% after 3 s
GROWTH_FLOOR = 20.0  # requests/second: growth is scaled as if the estimate were at least this
SEND_WINDOW = 1.0  # seconds over which the send rate is measured
ESTIMATE_HORIZON = 30.0  # past this since the last cut, answers counted since it say little about the quota
SHARE_AGAIN_AFTER = 60.0  # seconds: a shared quota that failed is not tried again sooner
SAME_EVENT = 1.0  # seconds: a 429 this soon after a cut (nothing measured since) is the same throttling event
MAX_PAUSE = 3600.0  # seconds: a longer Retry-After is not believed for every thread (see `throttled`)


class Clock(Protocol):
    def now(self) -> float: ...
    def sleep(self, seconds: float) -> None: ...


class SystemClock:
    now = staticmethod(time.monotonic)
    sleep = staticmethod(time.sleep)


# Why a request's turn could not come before its deadline (NoTurnInTime.cause).
PAUSED = "paused"  # a Retry-After holds every request past it
PACED = "paced"  # its slot at the rate comes after it
SHARED = "shared"  # no token from the shared quota came by then


class NoTurnInTime(Exception):
    """A request's turn cannot come before its deadline (`RateLimiter.acquire`): it was not sent.

    `cause` is PAUSED, PACED or SHARED; `wait` the seconds its turn was still away, when known.
    The client turns it into a RateLimitedError with the request's context (`SpotDraftClient.send`).
    """

    def __init__(self, cause: str, wait: float | None, quota: str = "") -> None:
        self.cause, self.wait, self.quota = cause, wait, quota
        if cause == PAUSED:
            text = (f"SpotDraft asked every request on these credentials to wait {wait or 0:.0f}s (Retry-After), "
                    "longer than this operation's retry window")
        elif cause == PACED:
            text = (f"at the rate set for these credentials this request's turn is {wait or 0:.1f}s away, "
                    "past this operation's retry window")
        else:
            text = (f"no token came from the shared rate limit {quota} (a Prefect global concurrency limit) "
                    "within this operation's retry window")
        super().__init__(text + "; it was not sent")


class SharedQuota(Protocol):
    """A quota other processes draw from too (see blocks/shared_quota.py). `take` blocks until n
    requests may be sent; it raises when the quota cannot be reached, and the limiter then paces
    this process alone."""

    name: str
    batch: int

    def take(self, n: int) -> None: ...


@dataclass(frozen=True)
class CubicRate:
    """The adaptive rate after a cut at `cut_at`: from `start` back up to `estimate` (concave, as CUBIC
    does after a loss), then beyond it (convex) to find out whether the quota grew.

    W(t) = estimate + g (t - K)^3, with W(0) = start, so K = cbrt((estimate - start) / g). The growth
    g is a share of the estimate (a probe of the same few percent a second at any quota), with a
    floor so that a small estimate still grows back in seconds.
    """

    estimate: float
    start: float
    cut_at: float

    @property
    def growth(self) -> float:
        return GROWTH * max(self.estimate, GROWTH_FLOOR)

    @property
    def rise(self) -> float:
        return (max(0.0, self.estimate - self.start) / self.growth) ** (1 / 3)

    def at(self, now: float) -> float:
        return max(MIN_RATE, self.estimate + self.growth * (now - self.cut_at - self.rise) ** 3)


class RateLimiter:
    """A token bucket of one token, refilled at the current rate: requests leave 1/rate apart."""

    def __init__(self, rate: float | None = None, *, clock: Clock | None = None, name: str = "") -> None:
        if rate is not None and not (rate > 0 and math.isfinite(rate)):
            raise ValueError("a fixed rate must be a positive number of requests per second")
        self.fixed_rate = rate
        self.name = name
        self._clock = clock or SystemClock()
        self._lock = threading.Lock()
        self._next_slot = 0.0  # the earliest time the next request may leave
        self._paused_until = 0.0  # a Retry-After holds every thread until then
        self._cubic: CubicRate | None = None  # adaptive: None until the first 429 (no limit)
        self._last_cut: float | None = None
        self._answered_since_cut = 0
        self._sent: deque[float] = deque()  # send times within SEND_WINDOW
        self._first_send: float | None = None
        self.throttles = 0  # 429s seen
        self.cuts = 0  # throttling events that cut the adaptive rate
        # Shared quota (fixed mode only): tokens in hand, and the feeder thread that fetches them.
        self._quota: SharedQuota | None = None
        self._tokens = 0
        self._wanted = False
        self._quota_failed_at: float | None = None
        shared_lock = threading.Lock()
        self._cond = threading.Condition(shared_lock)  # requests wait here for tokens
        self._feeder_wake = threading.Condition(shared_lock)  # the feeder waits here to be asked

    def rate(self) -> float | None:
        """Requests per second allowed now; None while adaptive and never throttled (no limit)."""
        with self._lock:
            return self._rate(self._clock.now())

    def now(self) -> float:
        """The limiter's clock (time.monotonic unless a test injected another): what `acquire`'s deadline is on."""
        return self._clock.now()

    def pause_left(self) -> float:
        """Seconds every request must still wait for a Retry-After (0 when none holds them)."""
        return max(0.0, self._paused_until - self._clock.now())

    def describe(self) -> str:
        """One line for run summaries: the mode and what it knows of the quota."""
        if self.fixed_rate is not None:
            quota = self._quota
            shared = f", shared through the Prefect limit {quota.name}" if quota is not None else ""
            return f"fixed {self.fixed_rate:g}/s{shared}"
        cubic = self._cubic
        return "adaptive, never throttled" if cubic is None else f"adaptive, quota estimated at {cubic.estimate:.1f}/s"

    # -- the send path ----------------------------------------------------------------------------
    def acquire(self, deadline: float | None = None) -> float:
        """Wait for this request's turn; returns the time (on the limiter's clock) it may leave.

        `deadline` (on the limiter's clock: see `now`) is the latest time the
        request may leave: when its turn cannot come by then (a Retry-After pausing everyone past it,
        its pacing slot, or no shared-quota token in time), it raises `NoTurnInTime` as soon as that
        is known, without sleeping to the deadline when the wait is known, and takes no slot.
        Every wait here ends by the deadline: locks are only held for bookkeeping, never across a
        sleep or a call to the shared quota.
        """
        self._check_pause(deadline)  # a pause known now fails the request before it takes a token
        took_token = self._quota is not None and self._take_shared_token(deadline)
        try:
            while True:
                with self._lock:
                    now = self._clock.now()
                    start = self._reserve(now, deadline)
                if start > now:
                    self._clock.sleep(start - now)
                with self._lock:
                    now = self._clock.now()
                    if now >= self._paused_until:  # no 429 paused everyone while this one slept
                        self._note_sent(now)
                        return now
                # A 429 on another thread paused everyone while this one slept: its window may not hold it.
                self._check_pause(deadline)
        except NoTurnInTime:
            if took_token:
                self._return_token()
            raise

    def _check_pause(self, deadline: float | None) -> None:
        if deadline is None:
            return
        with self._lock:
            now, paused_until = self._clock.now(), self._paused_until
        if paused_until > max(deadline, now):
            raise NoTurnInTime(PAUSED, paused_until - now)

    def answered(self, sent_at: float) -> None:
        """A request that left at `sent_at` got an answer other than 429 (the server let it through)."""
        with self._lock:
            if self._last_cut is None or sent_at >= self._last_cut:
                self._answered_since_cut += 1

    def throttled(self, sent_at: float, retry_after: float | None) -> None:
        """A request that left at `sent_at` got a 429: pause everyone for Retry-After, and (adaptive)
        cut the rate, once per throttling event."""
        with self._lock:
            now = self._clock.now()
            self.throttles += 1
            was_paused = now < self._paused_until
            # A Retry-After beyond MAX_PAUSE (a proxy's bug, "1e12") fails the call that got it (no window
            # holds it) but is not believed for everyone: it would stop every run on these credentials.
            if retry_after and 0 < retry_after <= MAX_PAUSE:
                self._paused_until = max(self._paused_until, now + retry_after)
                self._next_slot = max(self._next_slot, self._paused_until)
            if self.fixed_rate is not None:
                warn = not was_paused  # once per event: the rate set is above what SpotDraft allows now
            elif self._last_cut is not None and (sent_at < self._last_cut or now - self._last_cut < SAME_EVENT
                                                 or self._answered_since_cut == 0):
                return  # in flight when the last cut was made, or too soon to have measured anything: same event
            else:
                first = self._last_cut is None or now - self._last_cut > ESTIMATE_HORIZON
                estimate = self._estimate(now)
                # The first estimate is what was being sent, above the quota: cut below it. A later one
                # is what got through, at or below the quota: start from it and probe upwards.
                cubic = self._cubic = CubicRate(estimate=estimate, start=BETA * estimate if first else estimate,
                                                cut_at=now)
                self._last_cut, self._answered_since_cut = now, 0
                self.cuts += 1
        # Logged outside the lock: a slow log handler must not hold up requests waiting at the limiter.
        if self.fixed_rate is not None:
            if warn:
                log.warning("SpotDraft answered 429 at the fixed rate of %g requests/s for %s%s",
                            self.fixed_rate, self.name or "these credentials",
                            f"; all requests paused {retry_after:g}s" if retry_after else "")
            return
        log.info("SpotDraft answered 429%s: pacing %s at %.1f requests/s (quota estimated at %.1f/s)",
                 f" (Retry-After {retry_after:g}s, all requests paused)" if retry_after else "",
                 self.name or "requests", cubic.at(now), estimate)

    # -- sharing one quota across processes (fixed mode) --------------------------------------------
    def share(self, quota: SharedQuota) -> None:
        """Draw every request's token from `quota` too (batches fetched by one feeder thread)."""
        if self.fixed_rate is None:
            raise ValueError("only a fixed rate can be shared: set SPOTDRAFT_RATE_LIMIT")
        with self._cond:
            failed_at = self._quota_failed_at
            if self._quota is not None or (failed_at is not None
                                           and self._clock.now() - failed_at < SHARE_AGAIN_AFTER):
                return
            self._quota, self._tokens = quota, 0
        threading.Thread(target=self._feed, name=f"spotdraft-quota-{quota.name}", daemon=True).start()

    @property
    def shared_quota(self) -> SharedQuota | None:
        return self._quota

    def _take_shared_token(self, deadline: float | None) -> bool:
        """Take a token from the shared quota, waiting at most until `deadline`; False when the quota
        cannot be used (this process then paces alone)."""
        with self._cond:
            while self._quota is not None and self._tokens == 0:
                self._ask_feeder()
                if deadline is None:
                    self._cond.wait()
                    continue
                left = deadline - self._clock.now()
                # Condition.wait is False when it timed out (on the real clock, also under a fake one).
                if (left <= 0 or not self._cond.wait(left)) and self._quota is not None and self._tokens == 0:
                    raise NoTurnInTime(SHARED, None, self._quota.name)
            if self._quota is None:  # the quota could not be reached: this process paces alone
                return False
            self._tokens -= 1
            if self._tokens <= self._quota.batch // 2:  # fetch the next batch before this one runs out
                self._ask_feeder()
            return True

    def _return_token(self) -> None:
        """A request that took a token but cannot leave in time gives it back to the next one."""
        with self._cond:
            if self._quota is not None:
                self._tokens += 1
                self._cond.notify()

    def _ask_feeder(self) -> None:
        """(Lock held.) Only the feeder is woken: waiters waking each other would spin."""
        if not self._wanted:
            self._wanted = True
            self._feeder_wake.notify()

    def _feed(self) -> None:
        while True:
            with self._cond:
                while not self._wanted:
                    self._feeder_wake.wait()
                self._wanted = False
                quota = self._quota
            if quota is None:
                return
            try:
                quota.take(quota.batch)
            except Exception as error:
                log.warning("The shared rate limit %s cannot be used (%s); this process now paces itself alone "
                            "at %g requests/s", quota.name, error, self.fixed_rate)
                with self._cond:
                    self._quota, self._quota_failed_at = None, self._clock.now()
                    self._cond.notify_all()
                return
            with self._cond:
                self._tokens += quota.batch
                self._cond.notify_all()

    # -- internals (called with self._lock held) ------------------------------------------------------
    def _rate(self, now: float) -> float | None:
        if self.fixed_rate is not None:
            return self.fixed_rate
        if self._cubic is None:
            return None
        # Past the estimate, grow only while the requests use it: at most twice the rate they are sent.
        return min(self._cubic.at(now), max(self._cubic.estimate, 2 * self._send_rate(now)))

    def _reserve(self, now: float, deadline: float | None = None) -> float:
        """The time this request may leave, its slot taken; NoTurnInTime (and no slot taken) when
        that is past `deadline`."""
        start = max(now, self._paused_until)
        rate = self._rate(now)
        if rate is not None:
            start = max(start, self._next_slot)
        # A turn that is now is taken, even past the deadline: stopping an operation whose window is spent is
        # the retry policy's to decide, and its last error (a 503, say) says more than this would.
        if deadline is not None and start > max(deadline, now):
            raise NoTurnInTime(PAUSED if self._paused_until > deadline else PACED, start - now)
        if rate is not None:
            self._next_slot = start + 1 / rate
        return start

    def _note_sent(self, now: float) -> None:
        if self._first_send is None:
            self._first_send = now
        self._sent.append(now)
        while self._sent and self._sent[0] < now - SEND_WINDOW:
            self._sent.popleft()

    def _send_rate(self, now: float) -> float:
        while self._sent and self._sent[0] < now - SEND_WINDOW:
            self._sent.popleft()
        if self._first_send is None:
            return 0.0
        return len(self._sent) / max(min(SEND_WINDOW, now - self._first_send), 0.05)

    def _estimate(self, now: float) -> float:
        """The quota, as well as the last second and the last cut tell it."""
        sent = self._send_rate(now)
        since = now - self._last_cut if self._last_cut is not None else None
        if since is None or since > ESTIMATE_HORIZON or since <= 0:
            return max(MIN_RATE, sent)  # the first 429: the quota is below what was just sent
        # The server's bucket was empty at the last cut and is empty now: what it let through in
        # between is its refill rate (or less, if it sat full for a while: a safe error).
        let_through = self._answered_since_cut / since
        return max(MIN_RATE, min(sent, let_through) if sent else let_through)


# -- one limiter per credentials and region, per process ---------------------------------------------------
_limiters: dict[str, RateLimiter] = {}
_limiters_lock = threading.Lock()


def limiter_for(client_id: str, client_secret: str, where: str, rate: float | None) -> RateLimiter:
    """The process's limiter for these credentials at this host (region or base URL) and rate mode."""
    digest = hashlib.sha256("\0".join([client_id, client_secret, where]).encode()).hexdigest()
    key = f"{digest}:{rate if rate is not None else 'adaptive'}"
    with _limiters_lock:
        limiter = _limiters.get(key)
        if limiter is None:
            limiter = _limiters[key] = RateLimiter(rate, name=f"{client_id} at {where}")
        return limiter
