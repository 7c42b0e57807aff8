"""The rate limiter's parts on their own (client/ratelimit/: pacing, cubic, measure, adaptive, feeder), time
given as plain numbers or a clock moved by hand. The composed limiter: test_ratelimit.py."""

from __future__ import annotations

import threading

import pytest

from client.ratelimit import (
    BETA,
    GROWTH_FLOOR,
    MAX_PAUSE,
    MIN_RATE,
    PACED,
    PAUSED,
    SEND_WINDOW,
    SHARE_AGAIN_AFTER,
    SHARED,
    AdaptiveRate,
    CubicRate,
    NoTurnInTime,
    Pacer,
    RateLimiter,
    SendRate,
    SharedFeeder,
)


class Clock:
    def __init__(self, t: float = 1000.0) -> None:
        self.t = t

    def now(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.t += seconds


# -- pacing ------------------------------------------------------------------------------------------------
def test_the_pacer_spaces_slots_one_over_the_rate_apart():
    pacer = Pacer()
    starts = [pacer.reserve(100.0, 4.0) for _ in range(5)]
    assert starts == pytest.approx([100.0, 100.25, 100.5, 100.75, 101.0])


def test_with_no_rate_the_pacer_only_holds_for_pauses():
    pacer = Pacer()
    assert [pacer.reserve(100.0, None) for _ in range(3)] == [100.0, 100.0, 100.0]
    pacer.pause(100.0, 2.0)
    assert pacer.paused(101.0) and not pacer.paused(102.0)
    assert pacer.reserve(100.5, None) == 102.0 and pacer.pause_left(101.5) == pytest.approx(0.5)


@pytest.mark.parametrize("retry_after", [None, 0, -1, MAX_PAUSE + 1])
def test_no_pause_for_a_retry_after_that_is_absent_not_positive_or_absurd(retry_after):
    pacer = Pacer()
    pacer.pause(100.0, retry_after)
    assert pacer.pause_left(100.0) == 0 and pacer.reserve(100.0, 1.0) == 100.0


def test_a_slot_past_the_deadline_is_refused_and_not_taken():
    pacer = Pacer()
    pacer.reserve(100.0, 1.0)
    with pytest.raises(NoTurnInTime) as late:
        pacer.reserve(100.0, 1.0, deadline=100.5)
    assert late.value.cause == PACED and late.value.wait == pytest.approx(1.0)
    assert pacer.reserve(100.0, 1.0, deadline=101.0) == 101.0  # the refused one took nothing


def test_a_pause_past_the_deadline_is_refused_as_paused():
    pacer = Pacer()
    pacer.pause(100.0, 30.0)
    pacer.check_pause(100.0, deadline=None)
    pacer.check_pause(100.0, deadline=131.0)
    with pytest.raises(NoTurnInTime) as late:
        pacer.check_pause(100.0, deadline=110.0)
    assert late.value.cause == PAUSED and late.value.wait == pytest.approx(30.0)
    with pytest.raises(NoTurnInTime) as late:
        pacer.reserve(100.0, 1.0, deadline=110.0)
    assert late.value.cause == PAUSED


# -- cubic -------------------------------------------------------------------------------------------------
def test_the_cubic_rate_starts_at_the_cut_reaches_the_estimate_then_probes_beyond():
    cubic = CubicRate(estimate=100.0, start=85.0, cut_at=50.0)
    assert cubic.at(50.0) == pytest.approx(85.0)
    assert cubic.at(50.0 + cubic.rise) == pytest.approx(100.0)
    assert cubic.at(50.0 + cubic.rise / 2) < 100.0 < cubic.at(50.0 + cubic.rise + 2)
    rates = [cubic.at(50.0 + t / 10) for t in range(200)]
    assert rates == sorted(rates)


def test_a_small_estimate_grows_as_if_it_were_the_floor():
    small = CubicRate(estimate=1.0, start=1.0, cut_at=0.0)
    floor = CubicRate(estimate=GROWTH_FLOOR, start=GROWTH_FLOOR, cut_at=0.0)
    assert small.growth == floor.growth
    assert CubicRate(estimate=MIN_RATE, start=MIN_RATE, cut_at=0.0).at(0.0) == MIN_RATE


# -- measure -----------------------------------------------------------------------------------------------
def test_the_send_rate_is_measured_over_the_last_window():
    sent = SendRate()
    assert sent.rate(100.0) == 0.0
    for i in range(20):
        sent.note(100.0 + i * 0.1)  # 10/s for 2 s
    assert sent.rate(101.95) == pytest.approx(10 / SEND_WINDOW, rel=0.1)
    assert sent.rate(110.0) == 0.0  # all forgotten


# -- adaptive ----------------------------------------------------------------------------------------------
def _sending(adaptive: AdaptiveRate, start: float, rate: float, seconds: float) -> float:
    t = start
    while t < start + seconds:
        adaptive.sent.note(t)
        adaptive.answered(t)
        t += 1 / rate
    return t


def test_no_limit_until_the_first_429_then_a_cut_below_what_was_sent():
    adaptive = AdaptiveRate()
    t = _sending(adaptive, 100.0, 50.0, 2.0)
    assert adaptive.rate(t) is None
    cubic = adaptive.throttled(t, t)
    assert cubic is not None and adaptive.cuts == 1
    assert adaptive.rate(t) == pytest.approx(BETA * cubic.estimate) and cubic.estimate == pytest.approx(50, rel=0.05)


def test_429s_of_the_same_event_cut_once():
    adaptive = AdaptiveRate()
    t = _sending(adaptive, 100.0, 50.0, 2.0)
    adaptive.throttled(t, t)
    assert adaptive.throttled(t - 0.1, t + 0.05) is None  # in flight when the cut was made
    assert adaptive.throttled(t + 0.01, t + 0.5) is None  # too soon: nothing measured since
    assert adaptive.cuts == 1


def test_a_later_cut_starts_from_what_got_through():
    adaptive = AdaptiveRate()
    t = _sending(adaptive, 100.0, 50.0, 2.0)
    adaptive.throttled(t, t)
    end = _sending(adaptive, t, 20.0, 5.0)  # 20/s got through for 5 s
    cubic = adaptive.throttled(end, end)
    assert cubic is not None and adaptive.cuts == 2
    assert cubic.start == cubic.estimate == pytest.approx(20, rel=0.1)


# -- feeder ------------------------------------------------------------------------------------------------
class Quota:
    def __init__(self, batch: int = 4, fail: bool = False) -> None:
        self.name, self.batch, self.fail, self.taken = "test-quota", batch, fail, 0

    def take(self, n: int) -> None:
        if self.fail:
            raise RuntimeError("unreachable")
        self.taken += n


def test_the_feeder_hands_out_tokens_fetched_in_batches_and_takes_back_one_unused():
    clock = Clock()
    feeder = SharedFeeder(10.0, clock.now)
    quota = Quota(batch=4)
    feeder.share(quota)
    assert all(feeder.take(deadline=None) for _ in range(10))
    assert quota.taken >= 10 and feeder.tokens == quota.taken - 10
    before = feeder.tokens
    feeder.give_back()
    assert feeder.tokens == before + 1


def test_a_quota_that_fails_is_let_go_and_not_shared_again_too_soon():
    clock = Clock()
    feeder = SharedFeeder(10.0, clock.now)
    feeder.share(Quota(fail=True))
    assert feeder.take(deadline=None) is False and feeder.quota is None
    again = Quota()
    feeder.share(again)
    assert feeder.quota is None
    clock.t += SHARE_AGAIN_AFTER
    feeder.share(again)
    assert feeder.quota is again


def test_no_token_by_the_deadline_is_refused_as_shared():
    release = threading.Event()

    class Slow(Quota):
        def take(self, n: int) -> None:
            release.wait(5)
            super().take(n)

    clock = Clock()
    feeder = SharedFeeder(10.0, clock.now)
    feeder.share(Slow())
    with pytest.raises(NoTurnInTime) as late:
        feeder.take(deadline=clock.t + 0.05)
    assert late.value.cause == SHARED and late.value.quota == "test-quota"
    release.set()
    assert feeder.take(deadline=clock.t + 5)


# -- composed ----------------------------------------------------------------------------------------------
def test_a_clock_swapped_into_the_limiter_is_the_one_its_parts_read():
    limiter = RateLimiter(1.0, clock=Clock(1000.0))
    limiter._clock = later = Clock(5000.0)
    assert limiter.acquire() == 5000.0
    limiter.share(Quota(fail=True))
    assert limiter.acquire() == 5001.0 and limiter.shared_quota is None  # failed at 5000: paced alone
    later.t = 5000.0 + SHARE_AGAIN_AFTER - 1
    limiter.share(Quota())
    assert limiter.shared_quota is None  # the failure's time was read on the swapped clock: not yet
    later.t = 5000.0 + SHARE_AGAIN_AFTER
    limiter.share(again := Quota())
    assert limiter.shared_quota is again
