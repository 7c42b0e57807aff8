"""The adaptive rate: no limit until the first 429, then one cut per throttling event and a CUBIC
climb back, from an estimate of the quota by what the server let through.

No lock, no clock: the limiter passes `now` (and a request's `sent_at`) under its own lock, so a test
drives it with plain numbers. Why it differs from botocore's adaptive mode: docs/design/rate-limiting.md.
"""

from __future__ import annotations

from client.ratelimit.cubic import BETA, MIN_RATE, CubicRate
from client.ratelimit.measure import SendRate

ESTIMATE_HORIZON = 30.0  # past this since the last cut, answers counted since it say little about the quota
SAME_EVENT = 1.0  # seconds: a 429 this soon after a cut (nothing measured since) is the same throttling event


class AdaptiveRate:
    """What the 429s so far tell of the quota, and the rate to send at now."""

    def __init__(self) -> None:
        self.cubic: CubicRate | None = None  # None until the first 429 (no limit)
        self.last_cut: float | None = None
        self.answered_since_cut = 0
        self.sent = SendRate()
        self.cuts = 0  # throttling events that cut the rate

    def rate(self, now: float) -> float | None:
        """Requests per second allowed at `now`; None while never throttled (no limit)."""
        if self.cubic is None:
            return None
        # Past the estimate, grow only while the requests use it: at most twice the rate they are sent.
        return min(self.cubic.at(now), max(self.cubic.estimate, 2 * self.sent.rate(now)))

    def answered(self, sent_at: float) -> None:
        """A request that left at `sent_at` got an answer other than 429 (the server let it through)."""
        if self.last_cut is None or sent_at >= self.last_cut:
            self.answered_since_cut += 1

    def throttled(self, sent_at: float, now: float) -> CubicRate | None:
        """A request that left at `sent_at` got a 429 at `now`: the rate after the cut, or None when
        this 429 belongs to the throttling event already cut for (nothing cut)."""
        if self.last_cut is not None and (sent_at < self.last_cut or now - self.last_cut < SAME_EVENT
                                          or self.answered_since_cut == 0):
            return None  # in flight when the last cut was made, or too soon to have measured anything: same event
        first = self.last_cut is None or now - self.last_cut > ESTIMATE_HORIZON
        estimate = self.estimate(now)
        # The first estimate is what was being sent, above the quota: cut below it. A later one
        # is what got through, at or below the quota: start from it and probe upwards.
        self.cubic = CubicRate(estimate=estimate, start=BETA * estimate if first else estimate, cut_at=now)
        self.last_cut, self.answered_since_cut = now, 0
        self.cuts += 1
        return self.cubic

    def estimate(self, now: float) -> float:
        """The quota, as well as the last second and the last cut tell it."""
        sent = self.sent.rate(now)
        since = now - self.last_cut if self.last_cut is not None else None
        if since is None or since > ESTIMATE_HORIZON or since <= 0:
            return max(MIN_RATE, sent)  # the first 429: the quota is below what was just sent
        # The server's bucket was empty at the last cut and is empty now: what it let through in
        # between is its refill rate (or less, if it sat full for a while: a safe error).
        let_through = self.answered_since_cut / since
        return max(MIN_RATE, min(sent, let_through) if sent else let_through)
