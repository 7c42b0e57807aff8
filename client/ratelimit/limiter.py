"""`RateLimiter`: pacing and pauses, the adaptive rate and the shared-quota feeder, composed under one lock.

Threads take turns: one at a time sleeps until the next turn (outside the lock), the others wait on a
condition, so a rate that changes meanwhile applies to the very next request. A simulation on a fake
clock drives `next_turn` and `take_turn` itself instead (tests/support/quota_sim.py).

Each part keeps its own state and is tested on its own; this class only decides which part is asked
when, reads the clock and holds the lock. `limiter_for` gives one limiter per credentials and host.
Design: docs/design/rate-limiting.md.
"""

from __future__ import annotations

import hashlib
import logging
import math
import threading

from client.ratelimit.adaptive import AdaptiveRate
from client.ratelimit.climb import Climb
from client.ratelimit.clock import Clock, SystemClock
from client.ratelimit.feeder import SharedFeeder, SharedQuota
from client.ratelimit.pacing import Pacer
from client.ratelimit.turns import NoTurnInTime

log = logging.getLogger("spotdraft.client.ratelimit")


class RateLimiter:
    """A token bucket of one token, refilled at the current rate: requests leave 1/rate apart.
    Fixed mode: the rate set. Adaptive mode: the rate `AdaptiveRate` finds. Both: a 429 holds every request."""

    def __init__(self, rate: float | None = None, *, clock: Clock | None = None, name: str = "") -> None:
        if rate is not None and not (rate > 0 and math.isfinite(rate)):
            raise ValueError("a fixed rate must be a positive number of requests per second")
        self.fixed_rate = rate
        self.name = name
        self._clock = clock or SystemClock()
        self._lock = threading.Lock()  # held for bookkeeping only, never across a sleep or the shared quota
        self._turns = threading.Condition(self._lock)  # threads waiting while another sleeps to the next turn
        self._sleeper = False  # a thread is sleeping to the next turn
        self._waiting = 0  # threads in `acquire`
        self._pacer = Pacer()
        self._adaptive = AdaptiveRate()  # used when rate is None; sends are measured in either mode
        self._feeder = SharedFeeder(rate, self.now)  # fixed mode only: tokens from a shared quota
        self.throttles = 0  # 429s seen

    @property
    def cuts(self) -> int:
        """Throttling events that cut the adaptive rate (a fixed rate is never cut)."""
        return self._adaptive.cuts if self.fixed_rate is None else 0

    @property
    def climb(self) -> Climb | None:
        """The adaptive rate since the last cut (None before the first 429)."""
        return self._adaptive.climb

    @property
    def _tokens(self) -> int:
        return self._feeder.tokens

    def rate(self) -> float | None:
        """Requests per second allowed now; None while adaptive before the first request."""
        with self._lock:
            return self._rate(self._clock.now())

    def now(self) -> float:
        """The limiter's clock (time.monotonic unless a test injected another): what `acquire`'s deadline is on."""
        return self._clock.now()

    def pause_left(self) -> float:
        """Seconds every request must still wait for a Retry-After (0 when none holds them)."""
        return self._pacer.pause_left(self._clock.now())

    def describe(self) -> str:
        """One line for run summaries: the mode and what it knows of the quota."""
        if self.fixed_rate is not None:
            quota = self._feeder.quota
            shared = f", shared through the Prefect limit {quota.name}" if quota is not None else ""
            return f"fixed {self.fixed_rate:g}/s{shared}"
        climb = self.climb
        return "adaptive, never throttled" if climb is None else f"adaptive, quota estimated at {climb.estimate:.1f}/s"

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
        took_token = self._feeder.quota is not None and self._feeder.take(deadline)
        try:
            with self._turns:
                self._waiting += 1
                try:
                    return self._wait_for_turn(deadline)
                finally:
                    self._waiting -= 1
                    self._turns.notify()  # taken or given up: the next thread sleeps to the next turn
        except NoTurnInTime:
            if took_token:
                self._feeder.give_back()
            raise

    def _wait_for_turn(self, deadline: float | None) -> float:
        """(Lock held.) Sleep to the next turn, or wait while another thread does; take it when it is now."""
        while True:
            now = self._clock.now()
            rate = self._rate(now)
            if self._sleeper:  # another thread sleeps to the next turn: wait behind it
                self._pacer.check(now, rate, deadline, ahead=self._waiting - 1)
                self._turns.wait(None if deadline is None else max(0.001, deadline - now))
                continue
            self._pacer.check(now, rate, deadline)
            start = self._pacer.next_turn(now, rate)
            if start <= now:
                self._take(now, rate)
                return now
            self._sleeper = True
            self._lock.release()
            try:
                self._clock.sleep(start - now)
            finally:
                self._lock.acquire()
                self._sleeper = False

    def next_turn(self) -> float:
        """When the next request may leave (for a caller that sleeps on its own, as a simulation does)."""
        with self._lock:
            now = self._clock.now()
            return self._pacer.next_turn(now, self._rate(now))

    def take_turn(self) -> float | None:
        """The time a request leaves, when its turn is now; None when it is not (yet, or any more)."""
        with self._lock:
            now = self._clock.now()
            rate = self._rate(now)
            if self._pacer.next_turn(now, rate) > now:
                return None
            self._take(now, rate)
            return now

    def _take(self, now: float, rate: float | None) -> None:
        self._pacer.take(now, rate)
        self._adaptive.left(now)

    def _check_pause(self, deadline: float | None) -> None:
        if deadline is None:
            return
        with self._lock:
            self._pacer.check_pause(self._clock.now(), deadline)

    def answered(self, sent_at: float) -> None:
        """A request that left at `sent_at` got an answer other than 429 (the server let it through)."""
        with self._lock:
            self._adaptive.answered(sent_at, self._clock.now())

    def throttled(self, sent_at: float, retry_after: float | None) -> None:
        """A request that left at `sent_at` got a 429: hold everyone as `AdaptiveRate` says (a Retry-After
        over a second for all; a shorter one for a moment, then a probe), and (adaptive) cut the rate,
        once per throttling event. A fixed rate is never cut."""
        with self._lock:
            now = self._clock.now()
            self.throttles += 1
            reaction = self._adaptive.throttled(sent_at, now, retry_after, self._pacer.unused)
            if reaction is not None:
                self._pacer.pause(now, reaction.pause, reaction.probe_hold)
                self._turns.notify_all()  # a thread waiting may now see that its window cannot hold the pause
        # Logged outside the lock: a slow log handler must not hold up requests waiting at the limiter.
        if reaction is None or reaction.cut is None:
            return
        held = f"; all requests held {reaction.pause:.2f}s" if reaction.pause >= 0.01 else ""
        if self.fixed_rate is not None:  # once per event: the rate set is above what SpotDraft allows now
            log.warning("SpotDraft answered 429 at the fixed rate of %g requests/s for %s%s",
                        self.fixed_rate, self.name or "these credentials", held)
        else:
            log.info("SpotDraft answered 429%s: pacing %s at %.1f requests/s (quota estimated at %.1f/s)%s",
                     f" (Retry-After {retry_after:g}s)" if retry_after else "", self.name or "requests",
                     reaction.cut.start, reaction.cut.estimate, held)

    # -- sharing one quota across processes (fixed mode) --------------------------------------------
    def share(self, quota: SharedQuota) -> None:
        """Draw every request's token from `quota` too (batches fetched by one feeder thread)."""
        if self.fixed_rate is None:
            raise ValueError("only a fixed rate can be shared: set SPOTDRAFT_RATE_LIMIT")
        self._feeder.share(quota)

    @property
    def shared_quota(self) -> SharedQuota | None:
        return self._feeder.quota

    def _rate(self, now: float) -> float | None:
        """(Lock held.) The rate at `now`: the fixed one, or the adaptive one (None: no limit)."""
        if self.fixed_rate is not None:
            return self.fixed_rate
        return self._adaptive.rate(now)


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
