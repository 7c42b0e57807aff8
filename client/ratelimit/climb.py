"""The adaptive rate after a cut: back up to a margin under the quota estimated within a few seconds
(concave, as CUBIC comes back after a loss), then a slow linear climb to find a larger quota; after a
lone 429, a small cut, back within 1 / LONE_429_SHARE requests (`Climb.after_lone_429`).

Pure arithmetic on the times it is given. Why slow and linear, not CUBIC's convex probe:
docs/design/rate-limiting.md (on a small bucket or a long window, each overshoot costs a pause).
"""

from __future__ import annotations

from dataclasses import dataclass

MIN_RATE = 0.5  # requests/second: an adaptive rate is never cut below this (botocore's MIN_FILL_RATE)
MARGIN = 0.95  # after a cut, requests leave at this share of the quota estimated: room for the jitter of arrival
CLIMB = 0.005  # per second: past the target, the rate climbs by 0.5% of it each second, to find a larger quota...
CLIMB_UNSURE = 0.03  # ...by 3% while the last two measurements of the quota disagree (or there is one)...
CLIMB_ROUGH = 0.2  # ...by 20% when the cut had no measurement, only a pace known to be too high
RECOVER = 3.0  # seconds from the cut back to the target
CLIMB_FLOOR = 20.0  # requests/second: the climb is scaled as if the target were at least this, so a low one still grows
# A lone 429 (requests kept the pace, the quota never closed since the last cut: a bucket's jitter or a slight
# overshoot) cuts the pace by LONE_CUT and it is back within 1 / LONE_429_SHARE requests, so a 429 in that many
# holds the pace: within budget, not ratcheted far under the quota.
LONE_CUT = 0.03
LONE_429_SHARE = 0.008


@dataclass(frozen=True)
class Climb:
    """The adaptive rate since a cut at `cut_at`: from `start` up to `target` in RECOVER seconds (fast
    at first, slowing as it nears it), then beyond it by `climb` of it a second (of CLIMB_FLOOR at least)."""

    estimate: float  # the quota, as the cut estimated it
    start: float
    target: float
    cut_at: float
    climb: float = CLIMB  # per second, past the target
    recover: float = RECOVER  # seconds from the cut to the climb past the target

    @classmethod
    def after_lone_429(cls, paced: float, now: float) -> Climb:
        """A small cut under the pace a lone 429 met, back to it within 1 / LONE_429_SHARE requests (at that
        pace), then the slow climb beyond it: a lone 429 in about 1 / LONE_429_SHARE requests or more holds
        the pace where it was; more often, it comes down. Not beyond the pace at once: two processes on one
        quota would race, the faster one climbing faster and starving the other."""
        start = max(MIN_RATE, (1 - LONE_CUT) * paced)
        return cls(estimate=paced, start=start, target=max(start, paced), cut_at=now,
                   recover=1 / (LONE_429_SHARE * max(paced, MIN_RATE)))

    def at(self, now: float) -> float:
        t = max(0.0, now - self.cut_at)
        if t < self.recover and self.start < self.target:
            rate = self.target - (self.target - self.start) * (1 - t / self.recover) ** 2
        else:
            rate = self.target + self.climb * max(self.target, CLIMB_FLOOR) * max(0.0, t - self.recover)
        return max(MIN_RATE, rate)
