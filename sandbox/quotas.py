"""Rate-limit shapes the sandbox can enforce per credential pair: SpotDraft does not document its own.

Each shape is pure arithmetic on the times it is given (`take(now)`: 0 when the request may pass,
else the seconds until one would), so the client's limiter is tested against the same shapes on a
fake clock (tests/support/quota_sim.py) as the sandbox serves over HTTP (`Faults.rate_shape`).

- `TokenBucket`: refills `rate` tokens a second up to `burst` (1 request up to many seconds of the rate).
- `FixedWindow`: at most `limit` requests per window of `window_s`, windows aligned on multiples of it.
- `SlidingWindow`: at most `limit` requests in any `window_s` (a log of the requests let through).
"""

from __future__ import annotations

import math
from collections import deque

SHAPES = ("bucket", "fixed", "sliding")


class TokenBucket:
    """Refills `rate` tokens a second up to `burst`; a request takes one or is told when to retry."""

    def __init__(self, rate: float, burst: float, now: float):
        self.rate, self.burst = rate, burst
        self.tokens, self.stamp = burst, now

    def take(self, now: float) -> float:
        """0 if a token was taken, else the seconds until one will be there."""
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1:
            self.tokens -= 1
            return 0.0
        return (1 - self.tokens) / self.rate


class FixedWindow:
    """At most `limit` requests per window; a window starts at each multiple of `window_s`."""

    def __init__(self, limit: int, window_s: float) -> None:
        self.limit, self.window_s = limit, window_s
        self.window, self.count = -1, 0

    def take(self, now: float) -> float:
        window = math.floor(now / self.window_s)
        if window != self.window:
            self.window, self.count = window, 0
        if self.count < self.limit:
            self.count += 1
            return 0.0
        return (window + 1) * self.window_s - now


class SlidingWindow:
    """At most `limit` requests in any `window_s` seconds."""

    def __init__(self, limit: int, window_s: float) -> None:
        self.limit, self.window_s = limit, window_s
        self.passed: deque[float] = deque()

    def take(self, now: float) -> float:
        while self.passed and self.passed[0] <= now - self.window_s:
            self.passed.popleft()
        if len(self.passed) < self.limit:
            self.passed.append(now)
            return 0.0
        return self.passed[0] + self.window_s - now


Quota = TokenBucket | FixedWindow | SlidingWindow


def quota(shape: str, rate: float, *, burst: float | None = None, window_s: float = 1.0, now: float = 0.0) -> Quota:
    """A quota of `rate` requests/s in `shape`: a bucket of `burst` (default max(1, rate)), or a window
    of `window_s` letting rate * window_s requests through."""
    if shape == "bucket":
        return TokenBucket(rate, burst or max(1.0, rate), now)
    limit = max(1, round(rate * window_s))
    if shape == "fixed":
        return FixedWindow(limit, window_s)
    if shape == "sliding":
        return SlidingWindow(limit, window_s)
    raise ValueError(f"rate_shape must be one of {SHAPES}, not {shape!r}")
