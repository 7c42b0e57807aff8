"""The rate limiter on a fake clock: backs off on 429, grows back, honours Retry-After for everyone,
and a fixed rate is never exceeded. (Against a rate-limited sandbox:
tests/unit/client/test_rate_limited.py and `make bench`.)"""

from __future__ import annotations

import threading
import time

import pytest

from client.ratelimit import (
    BETA,
    MIN_RATE,
    PACED,
    PAUSED,
    RAMP_DOUBLING,
    RAMP_START,
    SHARED,
    NoTurnInTime,
    RateLimiter,
    limiter_for,
)
from sandbox.quotas import TokenBucket
from tests.support.clocks import FakeClock


class TokenBucketServer:
    """SpotDraft's side, as the sandbox models it (sandbox.faults.TokenBucket): rate tokens a second, up to burst."""

    def __init__(self, rate: float, burst: float, now: float) -> None:
        self.bucket = TokenBucket(rate, burst, now)

    def answer(self, now: float) -> int:
        return 200 if self.bucket.take(now) == 0 else 429


def drive(limiter: RateLimiter, clock: FakeClock, server: TokenBucketServer, seconds: float,
          retry_after: float = 1.0, spacing: float = 0.001) -> tuple[int, int]:
    """One caller sending as fast as the limiter lets it (at most one request per `spacing`s, like a
    pool of threads at 50 ms latency would) for `seconds`; returns (answered, throttled)."""
    answered = throttled = 0
    end = clock.t + seconds
    while clock.t < end:
        sent_at = limiter.acquire()
        if server.answer(sent_at) == 429:
            throttled += 1
            limiter.throttled(sent_at, retry_after)
        else:
            answered += 1
            limiter.answered(sent_at)
        clock.sleep(spacing)
    return answered, throttled


# -- adaptive ------------------------------------------------------------------------------------------------
def test_before_the_first_429_the_pace_ramps_up_and_soon_holds_no_one():
    clock = FakeClock()
    limiter = RateLimiter(clock=clock)
    first = [limiter.acquire() for _ in range(3)]
    assert first[1] - first[0] == pytest.approx(1 / RAMP_START, rel=0.01)  # a burst past a quota stays small
    for _ in range(1000):
        limiter.answered(limiter.acquire())
    assert clock.t - first[0] < 12 * RAMP_DOUBLING  # 1,000 requests: the ramp is soon past any quota
    assert limiter.climb is None and limiter.describe() == "adaptive, never throttled"


def test_a_429_cuts_the_rate_below_what_was_sent_and_it_grows_back():
    clock = FakeClock()
    limiter = RateLimiter(clock=clock)
    for _ in range(3000):  # past the ramp, then 200/s for a second
        limiter.answered(limiter.acquire())
        clock.sleep(0.005)
    limiter.throttled(clock.now(), retry_after=None)
    cut = limiter.rate()
    assert cut == pytest.approx(BETA * 200, rel=0.05)
    # It comes back to a margin under the estimate, then climbs slowly beyond it, while requests use it.
    rates = []
    for _ in range(30):
        for _ in range(100):
            limiter.answered(limiter.acquire())
        rates.append(limiter.rate())
    assert rates == sorted(rates) and rates[-1] > cut
    assert max(rates) > 200  # found its way past the old estimate: the quota may have grown


def test_later_429s_measure_the_quota_from_what_the_server_let_through():
    """Between two 429s the server's bucket went from empty to empty: answered / time = its rate."""
    clock = FakeClock()
    server = TokenBucketServer(rate=20, burst=20, now=clock.t)
    limiter = RateLimiter(clock=clock)
    drive(limiter, clock, server, seconds=10, spacing=0.005)  # up to 200/s offered to a 20/s quota
    assert limiter.climb.estimate == pytest.approx(20, rel=0.15)
    answered, throttled = drive(limiter, clock, server, seconds=30, spacing=0.005)
    assert answered / 30 >= 0.9 * 20 and throttled <= 0.02 * (answered + throttled)


def test_in_flight_429s_of_one_event_cut_once():
    clock = FakeClock()
    limiter = RateLimiter(clock=clock)
    sent = [limiter.acquire() for _ in range(10)]  # ten requests in flight together
    clock.sleep(0.05)
    for at in sent:
        limiter.throttled(at, retry_after=1)
    assert limiter.throttles == 10 and limiter.cuts == 1
    clock.sleep(1.0)
    retried = limiter.acquire()
    clock.sleep(0.02)
    limiter.throttled(retried, retry_after=None)  # sent after the cut, but nothing measured since: same event
    assert limiter.cuts == 1
    for _ in range(20):
        limiter.answered(limiter.acquire())
    later = limiter.acquire()
    clock.sleep(0.05)
    limiter.throttled(later, retry_after=1)  # sent after the cut, with answers since: a new event
    assert limiter.cuts == 2


def test_the_rate_is_never_cut_below_the_floor():
    clock = FakeClock()
    limiter = RateLimiter(clock=clock)
    for _ in range(30):
        at = limiter.acquire()
        limiter.throttled(at, retry_after=None)
    assert limiter.rate() >= MIN_RATE


@pytest.mark.parametrize("quota", [20, 50, 200])
def test_against_a_token_bucket_the_adaptive_rate_runs_at_the_quota_with_few_429s(quota):
    """After the first seconds, at least 90% of the quota is used and at most 2% of requests get a 429 (the
    pace settles where about LONE_429_SHARE of them do: a 429 now and then costs less than a margin kept)."""
    clock = FakeClock()
    server = TokenBucketServer(rate=quota, burst=quota, now=clock.t)
    limiter = RateLimiter(clock=clock)
    drive(limiter, clock, server, seconds=10)  # discovery
    seconds = 120
    answered, throttled = drive(limiter, clock, server, seconds=seconds)
    efficiency = answered / quota / seconds
    share = throttled / (answered + throttled)
    print(f"quota {quota}/s: efficiency {efficiency:.3f}, 429 share {share:.4f}")
    assert efficiency >= 0.9
    assert share <= 0.02


# -- Retry-After --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("rate", [None, 10.0])
def test_retry_after_holds_every_caller_not_just_the_one_that_got_it(rate):
    clock = FakeClock()
    limiter = RateLimiter(rate, clock=clock)
    at = limiter.acquire()
    limiter.throttled(at, retry_after=2.0)
    start = clock.t
    for _ in range(3):  # other callers, arriving after the 429
        assert limiter.acquire() >= start + 2.0


def test_retry_after_pauses_threads_already_waiting_for_their_slot():
    """Real threads, real clock: a thread already waiting for its turn when the 429 comes still waits it out."""
    # A slot every 500 ms: the threads are still waiting for theirs when the 429 comes, also when this thread's
    # 10 ms sleep takes a few hundred ms on a loaded machine (at 50 ms a slot, once the first had left by then).
    limiter = RateLimiter(2.0)
    limiter.acquire()
    sent: list[float] = []
    threads = [threading.Thread(target=lambda: sent.append(limiter.acquire())) for _ in range(4)]
    for thread in threads:
        thread.start()
    time.sleep(0.01)  # they wait for slots 0.5..2 s from now
    paused_at = time.monotonic()
    limiter.throttled(paused_at, retry_after=1.5)  # over a second: believed for everyone
    for thread in threads:
        thread.join(5)
    assert len(sent) == 4 and min(sent) >= paused_at + 1.5


# -- deadlines: a request waits at most until its retry window ends --------------------------------------------
class ThrottledWhileSleeping(FakeClock):
    """A fake clock on which another thread's 429 (Retry-After `retry_after`) arrives during the first sleep."""

    def __init__(self, limiter_ref: list[RateLimiter], retry_after: float) -> None:
        super().__init__()
        self.limiter_ref, self.retry_after, self.sleeps = limiter_ref, retry_after, []

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        first = len(self.sleeps) == 1
        super().sleep(seconds)
        if first:
            self.limiter_ref[0].throttled(self.t - 0.2, retry_after=self.retry_after)


def test_a_request_already_waiting_when_a_pause_begins_is_not_held_past_its_deadline():
    ref: list[RateLimiter] = []
    clock = ThrottledWhileSleeping(ref, retry_after=30)
    limiter = RateLimiter(1.0, clock=clock)
    ref.append(limiter)
    limiter.acquire()  # the request that will get the 429; the next slot is 1 s away
    began = clock.t
    with pytest.raises(NoTurnInTime) as caught:
        limiter.acquire(deadline=began + 5)  # waits for its slot; the 429 comes back meanwhile
    assert caught.value.cause == PAUSED and caught.value.wait == pytest.approx(30, abs=0.5)
    assert clock.t <= began + 5  # not slept to the pause's end (before the fix: began + 30)
    assert "not sent" in str(caught.value) and "Retry-After" in str(caught.value)


def test_a_pause_past_the_deadline_fails_at_once_and_takes_no_slot():
    clock = FakeClock()
    limiter = RateLimiter(2.0, clock=clock)
    at = limiter.acquire()
    limiter.throttled(at, retry_after=10)
    with pytest.raises(NoTurnInTime) as caught:
        limiter.acquire(deadline=clock.t + 3)
    assert caught.value.cause == PAUSED and clock.t == at  # no sleep at all
    assert limiter.acquire(deadline=clock.t + 10) == pytest.approx(at + 10)  # the slot it would have had


def test_a_pacing_slot_past_the_deadline_fails_at_once_and_takes_no_slot():
    clock = FakeClock()
    limiter = RateLimiter(1.0, clock=clock)
    for _ in range(5):
        limiter.acquire()  # the next slot is 5 s after the first
    now = clock.t
    with pytest.raises(NoTurnInTime) as caught:
        limiter.acquire(deadline=now + 0.5)
    assert caught.value.cause == PACED and caught.value.wait == pytest.approx(1.0) and clock.t == now
    assert limiter.acquire(deadline=now + 1) == pytest.approx(now + 1)  # the slot was not lost


@pytest.mark.parametrize("fixed_rate", [None, 1.0])
def test_a_turn_that_is_now_is_taken_even_past_the_deadline(fixed_rate):
    """An operation whose window is spent while it retried is stopped by the retry policy with its own last
    error (a 503, say), not by the limiter with a RateLimitedError about a wait of 0 s."""
    clock = FakeClock()
    limiter = RateLimiter(fixed_rate, clock=clock)
    clock.t += 5
    assert limiter.acquire(deadline=clock.t - 1) == clock.t
    limiter.throttled(clock.t, retry_after=1)
    clock.t += 2  # the pause is over
    assert limiter.acquire(deadline=clock.t - 1) == clock.t


class BlockedQuota:
    """A shared quota that grants nothing until released (another process holds the Prefect limit)."""

    name = "held-elsewhere"
    batch = 5

    def __init__(self) -> None:
        self.release = threading.Event()

    def take(self, n: int) -> None:
        self.release.wait(30)


def test_the_wait_for_a_shared_token_ends_at_the_deadline():
    limiter = RateLimiter(1000.0)
    quota = BlockedQuota()
    limiter.share(quota)
    began = time.monotonic()
    with pytest.raises(NoTurnInTime) as caught:
        limiter.acquire(deadline=began + 0.3)
    waited = time.monotonic() - began
    assert caught.value.cause == SHARED and quota.name in str(caught.value)
    assert 0.29 <= waited < 2
    assert limiter.shared_quota is quota  # a slow quota is still the one shared
    quota.release.set()  # the batch arrives: the next request takes one of its tokens
    limiter.acquire(deadline=time.monotonic() + 5)


def test_a_token_taken_by_a_request_that_cannot_leave_in_time_goes_back():
    clock = FakeClock()
    limiter = RateLimiter(1.0, clock=clock)
    limiter.share(CountingQuota(batch=5))
    limiter.acquire()
    tokens = limiter._tokens
    with pytest.raises(NoTurnInTime):
        limiter.acquire(deadline=clock.t + 0.5)  # its slot is 1 s away
    assert limiter._tokens == tokens


# -- fixed ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("rate", [0.5, 3.0, 200.0])
def test_a_fixed_rate_is_never_exceeded_in_any_window(rate):
    clock = FakeClock()
    limiter = RateLimiter(rate, clock=clock)
    sent = [limiter.acquire() for _ in range(500)]
    for window in (1.0, 1 / rate, 10 / rate):
        j = 0
        for i, start in enumerate(sent):
            while j < len(sent) and sent[j] < start + window:
                j += 1
            assert j - i <= window * rate + 1 + 1e-9
    assert sent[-1] - sent[0] == pytest.approx(499 / rate)


def test_a_fixed_rate_is_not_cut_by_429s_but_honours_their_retry_after():
    clock = FakeClock()
    limiter = RateLimiter(5.0, clock=clock)
    at = limiter.acquire()
    limiter.throttled(at, retry_after=3)
    assert limiter.rate() == 5.0 and limiter.cuts == 0
    assert limiter.acquire() >= at + 3


def test_a_fixed_rate_must_be_a_positive_number():
    for bad in (0, -1, float("inf"), float("nan")):
        with pytest.raises(ValueError, match="positive"):
            RateLimiter(bad)


# -- sharing -------------------------------------------------------------------------------------------------
def test_one_limiter_per_credentials_host_and_mode():
    a = limiter_for("id", "secret", "https://api.us.spotdraft.com", None)
    assert limiter_for("id", "secret", "https://api.us.spotdraft.com", None) is a
    assert limiter_for("id", "secret", "https://api.eu.spotdraft.com", None) is not a
    assert limiter_for("id", "other", "https://api.us.spotdraft.com", None) is not a
    assert limiter_for("id", "secret", "https://api.us.spotdraft.com", 10.0) is not a
    assert "secret" not in a.name


class CountingQuota:
    """A shared quota granting `rate` tokens a second, as a Prefect rate limit would (blocks/shared_quota.py)."""

    name = "test-quota"

    def __init__(self, batch: int, fail_after: int | None = None) -> None:
        self.batch, self.granted, self.calls, self.fail_after = batch, 0, 0, fail_after

    def take(self, n: int) -> None:
        self.calls += 1
        if self.fail_after is not None and self.calls > self.fail_after:
            raise ConnectionError("the Prefect API is gone")
        self.granted += n


def test_a_shared_quota_is_drawn_in_batches_and_every_request_takes_a_token():
    limiter = RateLimiter(1000.0)
    quota = CountingQuota(batch=10)
    limiter.share(quota)
    for _ in range(95):
        limiter.acquire()
    assert 95 <= quota.granted <= 95 + 2 * quota.batch
    assert quota.calls <= 12  # one round trip per batch, not per request


def test_an_unreachable_shared_quota_leaves_the_process_pacing_alone(caplog):
    limiter = RateLimiter(1000.0)
    limiter.share(CountingQuota(batch=5, fail_after=1))
    for _ in range(20):  # the first batch, then the quota fails: requests still go, at the fixed rate
        limiter.acquire()
    assert limiter.shared_quota is None
    assert "cannot be used" in caplog.text


def test_only_a_fixed_rate_can_be_shared():
    with pytest.raises(ValueError, match="SPOTDRAFT_RATE_LIMIT"):
        RateLimiter().share(CountingQuota(batch=1))


def test_a_shared_quota_that_failed_is_not_tried_again_at_once():
    clock = FakeClock()
    limiter = RateLimiter(1000.0, clock=clock)
    limiter.share(CountingQuota(batch=5, fail_after=0))
    limiter.acquire()  # the quota fails: paced alone
    assert limiter.shared_quota is None
    limiter.share(CountingQuota(batch=5))
    assert limiter.shared_quota is None  # a task asking for its client a moment later does not retry it
    clock.sleep(61)
    again = CountingQuota(batch=5)
    limiter.share(again)
    limiter.acquire()
    assert limiter.shared_quota is again and again.granted == 5
