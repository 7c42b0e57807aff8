"""The quota shapes the sandbox enforces (sandbox/quotas.py), on plain numbers for time, and one of each
over HTTP: the client's limiter is measured against these (make bench; tests/unit/ratelimit/test_quota_shapes.py)."""

from __future__ import annotations

import pytest

from sandbox import Faults, Sandbox
from sandbox.quotas import FixedWindow, SlidingWindow, TokenBucket, quota
from tests.support.sandbox_http import V21, api_client


def test_a_token_bucket_lets_its_burst_through_then_its_rate():
    bucket = TokenBucket(rate=10, burst=3, now=0.0)
    assert [bucket.take(0.0) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert bucket.take(0.0) == pytest.approx(0.1)  # the next token in 1/rate
    assert bucket.take(0.1) == 0.0


def test_a_fixed_window_resets_on_its_boundary_and_says_how_far_it_is():
    window = FixedWindow(limit=2, window_s=1.0)
    assert [window.take(5.2), window.take(5.3)] == [0.0, 0.0]
    assert window.take(5.9) == pytest.approx(0.1)  # refused until 6.0
    assert window.take(6.0) == 0.0


def test_a_sliding_window_counts_the_last_window_s_from_any_moment():
    window = SlidingWindow(limit=2, window_s=1.0)
    assert [window.take(5.9), window.take(6.1)] == [0.0, 0.0]
    assert window.take(6.5) == pytest.approx(0.4)  # a fixed window would have let it through (a new second)
    assert window.take(6.9) == 0.0


def test_a_window_lets_its_rate_times_its_length_through_and_an_unknown_shape_is_refused():
    assert quota("fixed", 50, window_s=60).limit == 3000
    assert quota("bucket", 0.5).burst == 1.0  # at least one request
    with pytest.raises(ValueError, match="rate_shape"):
        quota("leaky", 5)
    with pytest.raises(ValueError, match="rate_shape"):
        Faults(rate_shape="leaky")


@pytest.mark.parametrize("retry_after", [True, False])
def test_a_window_spent_answers_429_over_http_with_or_without_retry_after(retry_after):
    faults = Faults(rate_limit=5, rate_shape="fixed", rate_window_s=60, rate_retry_after=retry_after)
    with Sandbox(contracts=3, seed=1, faults=faults) as sb, api_client(sb) as c:
        answers = [c.get(f"{V21}/templates/") for _ in range(301)]
    assert [a.status_code for a in answers[:300]] == [200] * 300  # 5/s for 60 s, all at once
    refused = answers[300]
    assert refused.status_code == 429
    if retry_after:
        assert 1 <= int(refused.headers["Retry-After"]) <= 60  # whole seconds, up to the window's end
    else:
        assert "Retry-After" not in refused.headers
