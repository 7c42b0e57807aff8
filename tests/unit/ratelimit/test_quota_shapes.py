"""The adaptive limiter against every quota shape of the benchmark's matrix, simulated on a fake clock
(tests/support/quota_sim.py): 64 workers, arrival jitter, the client's own retry waits.

The shapes are unknown to the client, as SpotDraft's is: token buckets from one request to a second of
the rate, fixed windows of 1 s and 60 s, a sliding window of 1 s, with and without Retry-After, 50 and
300 ms answers, at 20, 50 and 200 requests/s; and two processes on one quota, neither told it. The target
is 0.9 of the quota with at most 2% 429s on every shape (0.85 for two processes); the floors asserted here
are what the limiter holds today on all of them (figures printed with -s).
`make bench` measures the same shapes over HTTP, with dlt and a naive client beside it.
"""

from __future__ import annotations

import pytest

from client.ratelimit import RateLimiter
from tests.support.clocks import FakeClock
from tests.support.quota_sim import Shape, simulate, simulate_processes

SHAPES = [
    Shape(rate=rate, **kind)
    for rate in (20, 50, 200)
    for kind in (
        {"kind": "bucket", "burst_s": 1.0},
        {"kind": "bucket", "burst_s": 0.2},
        {"kind": "bucket", "burst_s": 0.0},  # a bucket of one request
        {"kind": "fixed"},
        {"kind": "sliding"},
        {"kind": "fixed", "window_s": 60.0},
        {"kind": "bucket", "burst_s": 0.2, "retry_after": False},
        {"kind": "fixed", "retry_after": False},
        {"kind": "fixed", "window_s": 60.0, "retry_after": False},
        {"kind": "bucket", "burst_s": 0.2, "latency_s": 0.3},
        {"kind": "fixed", "latency_s": 0.3},
    )
]
EFFICIENCY_FLOOR = 0.78
JITTER_BOUND_FLOOR = 0.64  # where `jitter_bound`: the best fixed pace reaches about 0.67 there (adaptive: 0.68)
SHARE_429_CEILING = 0.025
TWO_PROCESS_EFFICIENCY_FLOOR = 0.8  # the target is 0.85: not met yet on a sliding window at 50/s (see the README)
TWO_PROCESS_SHARE_429_CEILING = 0.05


def load_for(shape: Shape) -> int:
    """About 20 s of the quota (at least 1,000 requests); a 60 s window gets two and a half windows."""
    seconds = 150 if shape.window_s >= 60 else 20
    return int(max(1000, seconds * shape.rate))


def jitter_bound(shape: Shape) -> bool:
    """A bucket of one request at 200/s: arrivals 5 ms apart at most, against the simulation's arrival jitter
    (measured: a few ms now and then), so no pace reaches the floor (see the test of the best fixed pace)."""
    return shape.kind == "bucket" and shape.burst_s == 0.0 and shape.rate >= 200


@pytest.mark.parametrize("shape", SHAPES, ids=[s.name for s in SHAPES])
def test_the_adaptive_limiter_uses_most_of_any_quota_shape_with_few_429s(shape):
    outcome = simulate(shape, load_for(shape), workers=64)
    print(f"{shape.name}: efficiency {outcome.efficiency:.2f}, 429s {100 * outcome.share_429:.1f}%")
    assert outcome.answered == load_for(shape)
    assert outcome.efficiency >= (JITTER_BOUND_FLOOR if jitter_bound(shape) else EFFICIENCY_FLOOR)
    assert outcome.share_429 <= SHARE_429_CEILING


@pytest.mark.parametrize("rate", [50, 200])
def test_on_a_bucket_of_one_request_it_does_about_as_well_as_the_best_fixed_pace(rate):
    """Where the arrival jitter, not the limiter, bounds what any client gets: a limiter told the rate and
    pacing at a fixed share of it (the best of several) does little better than the adaptive one."""
    shape = Shape(kind="bucket", rate=rate, burst_s=0.0)
    fixed = []
    for share in (0.6, 0.7, 0.8, 0.9):
        clock = FakeClock()
        outcome = simulate(shape, load_for(shape), workers=64, limiter=RateLimiter(share * rate, clock=clock),
                           clock=clock)
        if outcome.share_429 <= SHARE_429_CEILING:
            fixed.append(outcome.efficiency)
    adaptive = simulate(shape, load_for(shape), workers=64)
    print(f"{shape.name}: adaptive {adaptive.efficiency:.2f}, the best fixed pace {max(fixed):.2f}")
    assert adaptive.efficiency >= max(fixed) - 0.08


def test_the_simulation_can_tell_a_limiter_that_ignores_429s():
    """The same harness fails a client that paces at nothing: every shape would throttle it heavily."""

    class Deaf(RateLimiter):
        def throttled(self, sent_at, retry_after):  # hears no 429
            self.throttles += 1

    clock = FakeClock()
    outcome = simulate(Shape(kind="bucket", rate=20, burst_s=0.2), 400, workers=64, limiter=Deaf(clock=clock),
                       clock=clock)
    assert outcome.share_429 > SHARE_429_CEILING


TWO_PROCESS_SHAPES = [Shape(rate=rate, **kind) for rate in (20, 50, 200)
                      for kind in ({"kind": "bucket", "burst_s": 0.2}, {"kind": "fixed"}, {"kind": "sliding"})]


@pytest.mark.parametrize("shape", TWO_PROCESS_SHAPES, ids=[s.name for s in TWO_PROCESS_SHAPES])
def test_two_adaptive_processes_on_one_quota_use_most_of_it_together(shape):
    """Two processes on one credential pair, neither told the limit, each seeing 429s the other caused."""
    clock = FakeClock()
    outcome = simulate_processes(shape, [RateLimiter(clock=clock), RateLimiter(clock=clock)],
                                 load_for(shape) // 2, workers=64, clock=clock)
    print(f"two processes, {shape.name}: efficiency {outcome.efficiency:.2f}, 429s {100 * outcome.share_429:.1f}%")
    assert outcome.answered == 2 * (load_for(shape) // 2)
    assert outcome.efficiency >= TWO_PROCESS_EFFICIENCY_FLOOR
    assert outcome.share_429 <= TWO_PROCESS_SHARE_429_CEILING
