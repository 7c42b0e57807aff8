"""Dips in a process's requests: a full garbage collection stops every thread 0.2 to 0.35 s (the sync at 200/s left
10 to 15% of its turns unused so), a page boundary, a process whose requests stop for up to a second every few
seconds. Turns go unused, and a 429 after them is measured from what got through since the last cut
(`AdaptiveRate._estimate`, the idle case). Simulated on a fake clock (tests/support/quota_sim.py).
"""

from __future__ import annotations

import pytest

from tests.support.clocks import FakeClock
from tests.support.quota_sim import GARBAGE_COLLECTIONS, Pauses, RecordingLimiter, Shape, simulate

LONGER = {"length_s": (0.2, 1.0), "gap_s": (2.0, 5.0)}  # a process whose requests stop up to a second
SHARE_429_CEILING = 0.025  # as on every shape without dips (test_quota_shapes.py)
ESTIMATE_FLOOR = 0.92  # of the quota, for every measured estimate once the limiter has settled
SETTLED_S = 20.0


class Cuts(RecordingLimiter):
    """A limiter that keeps each cut: (when, how the quota was known, the estimate)."""

    def __init__(self, clock: FakeClock) -> None:
        super().__init__(clock)
        self.estimates: list[tuple[float, str, float]] = []

    def throttled(self, sent_at: float, retry_after: float | None) -> None:
        cuts = self.cuts
        super().throttled(sent_at, retry_after)
        if self.cuts != cuts and self.climb is not None:
            self.estimates.append((self.now(), self._adaptive.kind, self.climb.estimate))


@pytest.mark.xfail(strict=True, reason=(
    "known, not yet fixed: the turns a garbage collection leaves unused are counted as the quota's time, and every "
    "measured estimate comes out at 171-174/s against 200. Measuring over the time requests were there instead "
    "(tried: 190-194/s) cost the bench's fixed 1 s window at 50/s 0.02-0.09 of its efficiency, and a tenfold drop "
    "with garbage collections 1-2 points more 429s (test_quota_drops.py), so it was taken back"))
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_garbage_collections_do_not_drag_the_estimate_under_a_window(seed):
    """On a sliding window at 200/s (the sync's trace), the turns a garbage collection leaves unused should not
    count as the quota's."""
    shape = Shape(kind="sliding", rate=200)
    clock = FakeClock()
    limiter = Cuts(clock)
    start = clock.t
    simulate(shape, 120 * 200, workers=64, limiter=limiter, clock=clock, seed=seed,
             dips=Pauses(1, **GARBAGE_COLLECTIONS, start=start, seed=seed))
    measured = [estimate for at, kind, estimate in limiter.estimates if kind == "measured" and at - start > SETTLED_S]
    print(f"{shape.name}, seed {seed}: measured estimates {[round(e) for e in measured]}")
    assert measured and min(measured) >= ESTIMATE_FLOOR * shape.rate


SHAPES = [Shape(rate=rate, **kind) for rate in (50, 200)
          for kind in ({"kind": "bucket", "burst_s": 0.2}, {"kind": "bucket", "burst_s": 1.0},
                       {"kind": "bucket", "burst_s": 0.0}, {"kind": "fixed"}, {"kind": "sliding"})]
DIPS = {"garbage collections": GARBAGE_COLLECTIONS, "dips of up to a second": LONGER}


@pytest.mark.parametrize("dips", list(DIPS), ids=list(DIPS))
@pytest.mark.parametrize("shape", SHAPES, ids=[s.name for s in SHAPES])
def test_with_dips_in_the_requests_few_429s_on_any_shape(shape, dips):
    clock = FakeClock()
    requests = int(60 * shape.rate)
    outcome = simulate(shape, requests, workers=64, clock=clock, dips=Pauses(1, **DIPS[dips], start=clock.t))
    print(f"{shape.name}, {dips}: efficiency {outcome.efficiency:.2f}, 429s {100 * outcome.share_429:.1f}%")
    assert outcome.answered == requests
    assert outcome.share_429 <= SHARE_429_CEILING
