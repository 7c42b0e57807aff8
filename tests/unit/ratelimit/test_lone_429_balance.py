"""After a lone 429 the pace is back where it was within 1 / LONE_429_SHARE requests, so one lone 429 in that
many holds it there: at a low pace too (a quota of a few requests a second), not only from CLIMB_FLOOR (20/s)
up; and not past it at once. Pure arithmetic on `Climb` (client/ratelimit/climb.py)."""

from __future__ import annotations

import pytest

from client.ratelimit import LONE_429_SHARE, Climb


@pytest.mark.parametrize("paced", [3.0, 5.0, 10.0, 30.0, 150.0])
def test_after_a_lone_429_the_cut_is_climbed_back_in_one_429s_worth_of_requests_at_any_pace(paced):
    climb = Climb.after_lone_429(paced, now=0.0)
    requests, t = 0.0, 0.0
    while climb.at(t) < paced * 0.999 and t < 1000:  # count the requests sent at the pace of each moment
        requests += climb.at(t) * 0.01
        t += 0.01
    print(f"{paced:g}/s: back after {requests:.0f} requests")
    assert requests <= 1 / LONE_429_SHARE
    assert climb.at(t + 1.0) <= paced * 1.01  # then the slow climb beyond it, not a race past it
