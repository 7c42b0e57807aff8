"""Tokens from a quota shared with other processes (a Prefect global concurrency limit, fixed rate only).

Requests take tokens in hand; one feeder thread fetches them in batches from the quota, so processes on
the same credentials stay under the rate together without a round trip per request. When the quota
cannot be reached the feeder lets go of it and the process paces itself alone.
Design: docs/design/rate-limiting.md; the Prefect side: docs/design/shared-quota.md.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Protocol

from client.ratelimit.turns import SHARED, NoTurnInTime

log = logging.getLogger("spotdraft.client.ratelimit")

SHARE_AGAIN_AFTER = 60.0  # seconds: a shared quota that failed is not tried again sooner


class SharedQuota(Protocol):
    """A quota other processes draw from too (see blocks/shared_quota.py). `take` blocks until n
    requests may be sent; it raises when the quota cannot be reached, and the limiter then paces
    this process alone."""

    name: str
    batch: int

    def take(self, n: int) -> None: ...


class SharedFeeder:
    """Tokens in hand from a shared quota, and the one thread that fetches them.

    `now` is the limiter's clock (deadlines are on it); `rate` the process's own fixed rate, named
    when the quota fails. Waits on the tokens are real (threading.Condition), bounded by deadlines.
    """

    def __init__(self, rate: float | None, now: Callable[[], float]) -> None:
        self._rate = rate
        self._now = now
        self.quota: SharedQuota | None = None
        self.tokens = 0
        self._wanted = False
        self._failed_at: float | None = None
        lock = threading.Lock()
        self._cond = threading.Condition(lock)  # requests wait here for tokens
        self._feeder_wake = threading.Condition(lock)  # the feeder waits here to be asked

    def share(self, quota: SharedQuota) -> None:
        """Draw tokens from `quota` (unless one is shared already, or one failed SHARE_AGAIN_AFTER ago)."""
        with self._cond:
            failed_at = self._failed_at
            if self.quota is not None or (failed_at is not None and self._now() - failed_at < SHARE_AGAIN_AFTER):
                return
            self.quota, self.tokens = quota, 0
        threading.Thread(target=self._feed, name=f"spotdraft-quota-{quota.name}", daemon=True).start()

    def take(self, deadline: float | None) -> bool:
        """Take a token from the shared quota, waiting at most until `deadline`; False when the quota
        cannot be used (this process then paces alone). NoTurnInTime (SHARED) when none came in time."""
        with self._cond:
            while self.quota is not None and self.tokens == 0:
                self._ask_feeder()
                if deadline is None:
                    self._cond.wait()
                    continue
                left = deadline - self._now()
                # Condition.wait is False when it timed out (on the real clock, also under a fake one).
                if (left <= 0 or not self._cond.wait(left)) and self.quota is not None and self.tokens == 0:
                    raise NoTurnInTime(SHARED, None, self.quota.name)
            if self.quota is None:  # the quota could not be reached: this process paces alone
                return False
            self.tokens -= 1
            if self.tokens <= self.quota.batch // 2:  # fetch the next batch before this one runs out
                self._ask_feeder()
            return True

    def give_back(self) -> None:
        """A request that took a token but cannot leave in time gives it back to the next one."""
        with self._cond:
            if self.quota is not None:
                self.tokens += 1
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
                quota = self.quota
            if quota is None:
                return
            try:
                quota.take(quota.batch)
            except Exception as error:
                log.warning("The shared rate limit %s cannot be used (%s); this process now paces itself alone "
                            "at %g requests/s", quota.name, error, self._rate)
                with self._cond:
                    self.quota, self._failed_at = None, self._now()
                    self._cond.notify_all()
                return
            with self._cond:
                self.tokens += quota.batch
                self._cond.notify_all()
