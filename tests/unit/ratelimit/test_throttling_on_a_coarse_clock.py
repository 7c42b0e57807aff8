"""`AdaptiveRate` on a clock that can give the same time twice (time.monotonic ticks every 15.6 ms on Windows
before Python 3.13): a request sent, answered and another refused within one tick of the cut before them is
reacted to, not an error. Plain numbers, as the limiter passes them (client/ratelimit/adaptive.py)."""

from __future__ import annotations

import math

from client.ratelimit import MAX_PAUSE, AdaptiveRate


def test_a_429_in_the_same_clock_tick_as_the_cut_before_it_is_reacted_to():
    adaptive = AdaptiveRate()
    t = 100.0
    for _ in range(50):  # 50/s, all let through
        adaptive.rate(t)
        adaptive.left(t)
        adaptive.answered(t, t + 0.05)
        t += 0.02
    # A Retry-After past MAX_PAUSE is not believed for everyone (nobody is held), but the quota counts as closed.
    first = adaptive.throttled(t, t, retry_after=2 * MAX_PAUSE)
    assert first is not None and first.cut is not None
    adaptive.left(t)
    adaptive.answered(t, t)  # sent and answered in the tick of the cut
    reaction = adaptive.throttled(t, t, retry_after=None)  # and the next one refused in it too
    assert reaction is not None and reaction.cut is not None
    assert reaction.pause >= 0 and 0 < adaptive.rate(t) < math.inf
