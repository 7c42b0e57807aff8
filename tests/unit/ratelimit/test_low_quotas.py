"""A very low quota (one request a second, or one every two): the adaptive limiter finds it and stays under
it, as it does at 20/s and more (test_quota_shapes.py), rather than meeting a 429 with every other request.

Simulated on a fake clock (tests/support/quota_sim.py): a few minutes of traffic in milliseconds.
"""

from __future__ import annotations

import pytest

from tests.support.quota_sim import Shape, simulate

SHARE_429_CEILING = 0.10  # lenient: the shapes' ceiling at 20/s and more is 0.025
LOW = [Shape(kind="bucket", rate=1.0), Shape(kind="bucket", rate=0.5), Shape(kind="sliding", rate=1.0),
       Shape(kind="fixed", rate=0.5, window_s=2.0)]


@pytest.mark.xfail(strict=True, reason="known, not yet fixed: under a second between cuts each 429 looks like a "
                   "short measurement and cuts about 10%, and the rough climb is scaled from CLIMB_FLOOR (20/s); "
                   "44-53% of requests meet a 429 (the same before the lone-429 change)")
@pytest.mark.parametrize("shape", LOW, ids=[s.name for s in LOW])
def test_at_a_quota_of_a_request_a_second_or_less_few_requests_meet_a_429(shape):
    outcome = simulate(shape, 200, workers=16)
    print(f"{shape.name}: efficiency {outcome.efficiency:.2f}, 429s {100 * outcome.share_429:.1f}%")
    assert outcome.answered == 200
    assert outcome.share_429 <= SHARE_429_CEILING
