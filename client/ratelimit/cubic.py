"""The adaptive rate after a cut, as CUBIC grows a window back after a loss (botocore's `retries/throttling.py`).

Pure arithmetic on the times it is given. Why these constants: docs/design/rate-limiting.md.
"""

from __future__ import annotations

from dataclasses import dataclass

MIN_RATE = 0.5  # requests/second: an adaptive rate is never cut below this (botocore's MIN_FILL_RATE)
BETA = 0.85  # the first cut takes the rate to this share of what was being sent
GROWTH = 0.0028  # per s^3: past the estimate, the rate grows by 0.28% of it after 1 s, 2.2% after 2 s, 7.6% after 3 s
GROWTH_FLOOR = 20.0  # requests/second: growth is scaled as if the estimate were at least this


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
