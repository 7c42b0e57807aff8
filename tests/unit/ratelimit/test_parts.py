"""The rate limiter's parts on their own (client/ratelimit/: pacing, climb, measure, adaptive, feeder), time
given as plain numbers or a clock moved by hand. The composed limiter: test_ratelimit.py."""

from __future__ import annotations

import threading

import pytest

from client.ratelimit import (
    BETA,
    CLIMB,
    CLOSED,
    FIRST_BLIND_PAUSE,
    LONE_429_SHARE,
    LONE_AFTER,
    LONE_CUT,
    MARGIN,
    MAX_PAUSE,
    MIN_PROBE_HOLD,
    MIN_RATE,
    PACED,
    PAUSED,
    RAMP_DOUBLING,
    RAMP_START,
    SEND_WINDOW,
    SHARE_AGAIN_AFTER,
    SHARED,
    AdaptiveRate,
    AnswerTime,
    Climb,
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


def test_after_a_pause_the_first_request_is_a_probe_and_the_next_waits_for_its_answer():
    pacer = Pacer()
    pacer.pause(100.0, 0.5, probe_hold=0.2)
    assert pacer.reserve(100.0, 100.0) == 100.5  # the probe, when the pause ends
    assert pacer.reserve(100.0, 100.0) == pytest.approx(100.7)  # the next, once its answer is in
    assert pacer.reserve(100.0, 100.0) == pytest.approx(100.71)  # then at the rate again


def test_a_rate_cut_applies_to_the_very_next_request():
    pacer = Pacer()
    assert pacer.reserve(100.0, 100.0) == 100.0
    assert pacer.next_turn(100.0, 100.0) == pytest.approx(100.01)
    pacer.take(100.01, 10.0)  # it left at 10/s: the next is 0.1 s later, not 0.01
    assert pacer.next_turn(100.01, 10.0) == pytest.approx(100.11)


# -- climb -------------------------------------------------------------------------------------------------
def test_the_climb_comes_back_to_its_target_fast_then_probes_slowly_beyond():
    climb = Climb(estimate=100.0, start=85.0, target=95.0, cut_at=50.0)
    assert climb.at(50.0) == pytest.approx(85.0)
    assert climb.at(51.0) - climb.at(50.0) > climb.at(52.0) - climb.at(51.0) > 0  # concave on the way back
    assert climb.at(53.0) == pytest.approx(95.0)
    assert climb.at(63.0) == pytest.approx(95.0 * (1 + CLIMB * 10))  # then linear, CLIMB of it a second
    rates = [climb.at(50.0 + t / 10) for t in range(200)]
    assert rates == sorted(rates)
    assert Climb(estimate=MIN_RATE, start=MIN_RATE / 2, target=MIN_RATE / 2, cut_at=0.0).at(0.0) == MIN_RATE


def test_after_a_lone_429_the_pace_is_cut_a_little_and_back_at_it_soon():
    climb = Climb.after_lone_429(150.0, now=10.0)
    assert climb.estimate == 150.0 and climb.at(10.0) == pytest.approx((1 - LONE_CUT) * 150.0)
    assert climb.at(10.5) > climb.at(10.0)  # climbing at once, not held a while
    assert climb.at(10.0 + 1 / (LONE_429_SHARE * 150.0)) == pytest.approx(150.0)  # 1 / LONE_429_SHARE requests


# -- measure -----------------------------------------------------------------------------------------------
def test_the_send_rate_is_measured_over_the_last_window():
    sent = SendRate()
    assert sent.rate(100.0) == 0.0
    for i in range(20):
        sent.note(100.0 + i * 0.1)  # 10/s for 2 s
    assert sent.rate(101.95) == pytest.approx(10 / SEND_WINDOW, rel=0.1)
    assert sent.rate(110.0) == 0.0  # all forgotten


def test_the_answer_time_is_a_moving_average():
    took = AnswerTime()
    assert took.seconds is None
    took.note(10.0, 10.1)
    assert took.seconds == pytest.approx(0.1)
    for _ in range(50):
        took.note(10.0, 10.3)
    assert took.seconds == pytest.approx(0.3, rel=0.01)


# -- adaptive ----------------------------------------------------------------------------------------------
def _sending(adaptive: AdaptiveRate, start: float, rate: float, seconds: float, latency: float = 0.05) -> float:
    t = start
    while t < start + seconds:
        adaptive.rate(t)  # asked at each turn, as the limiter does
        adaptive.left(t)
        adaptive.answered(t, t + latency)
        t += 1 / rate
    return t


def test_before_the_first_429_the_rate_ramps_up_doubling_while_requests_keep_up_with_it():
    adaptive = AdaptiveRate()
    assert adaptive.rate(100.0) == RAMP_START
    t = _sending(adaptive, 100.0, RAMP_START, RAMP_DOUBLING)
    t = _sending(adaptive, t, 2 * RAMP_START, RAMP_DOUBLING)
    assert adaptive.rate(100.0 + 2 * RAMP_DOUBLING) == pytest.approx(4 * RAMP_START, rel=0.1)
    assert adaptive.cuts == 0 and adaptive.climb is None
    # With no requests to send (a sync listing its first pages) it does not run ahead of them.
    idle = AdaptiveRate()
    idle.rate(100.0)
    idle.left(100.0)
    assert idle.rate(100.0 + 4 * RAMP_DOUBLING) == RAMP_START


def test_the_first_429_cuts_below_the_pace_it_met_and_holds_everyone_briefly_for_a_probe():
    adaptive = AdaptiveRate()
    t = _sending(adaptive, 100.0, 50.0, 2.0)
    paced = adaptive.rate(t)
    reaction = adaptive.throttled(t, t, retry_after=1)
    assert reaction is not None and reaction.cut is not None and adaptive.cuts == 1
    # 50/s were sent while the ramp allowed twice that: the quota is below what got through, not the pace.
    assert paced > 90 and reaction.cut.estimate == pytest.approx(50, rel=0.1)
    assert reaction.cut.start == pytest.approx(BETA * reaction.cut.estimate)
    assert reaction.cut.target == pytest.approx(MARGIN * reaction.cut.estimate)
    # "Retry-After: 1" may mean a few ms: a pause of one request's interval, then a probe, and the others
    # wait as long as its 429 would take to come back (this one came back at once: the least hold).
    assert reaction.pause == pytest.approx(1 / reaction.cut.start)
    assert reaction.probe_hold == MIN_PROBE_HOLD
    later = adaptive.throttled(t + 2.0, t + 2.1, retry_after=None)  # the probe, refused after 100 ms
    assert later.probe_hold == pytest.approx(2 * 0.2 * 0.1)  # twice the moving average of refusal times


def test_a_retry_after_over_a_second_holds_everyone_for_all_of_it():
    adaptive = AdaptiveRate()
    t = _sending(adaptive, 100.0, 50.0, 2.0)
    assert adaptive.throttled(t, t, retry_after=7).pause == 7


def test_429s_in_flight_when_the_event_began_are_its_echoes():
    adaptive = AdaptiveRate()
    t = _sending(adaptive, 100.0, 50.0, 2.0)
    adaptive.throttled(t, t, retry_after=1)
    assert adaptive.throttled(t - 0.1, t + 0.05, retry_after=1) is None  # in flight when the cut was made
    assert adaptive.cuts == 1


def test_a_refused_probe_holds_everyone_longer_without_another_cut():
    adaptive = AdaptiveRate()
    t = _sending(adaptive, 100.0, 50.0, 2.0)
    adaptive.throttled(t, t, retry_after=None)
    first = adaptive.throttled(t + 0.1, t + 0.11, retry_after=None)  # the probe, refused: the quota is closed
    second = adaptive.throttled(t + 0.4, t + 0.41, retry_after=None)
    assert (first.pause, second.pause) == (FIRST_BLIND_PAUSE, 2 * FIRST_BLIND_PAUSE) and first.cut is None
    assert adaptive.throttled(t + 1, t + 1.01, retry_after=30).pause == 30  # a long Retry-After, as given
    assert adaptive.cuts == 1


def _ramped_then_cut(adaptive: AdaptiveRate) -> float:
    t = _sending(adaptive, 100.0, 50.0, 2.0)
    adaptive.throttled(t, t, retry_after=1)
    return t


def test_a_lone_429_after_many_requests_at_the_pace_cuts_it_a_little():
    adaptive = AdaptiveRate()
    t = _ramped_then_cut(adaptive)
    end = _sending(adaptive, t, 60.0, 5.0)  # requests kept to the pace for 5 s, and all got through
    paced = adaptive.rate(end)
    reaction = adaptive.throttled(end, end, retry_after=1)
    assert reaction.cut is not None and adaptive.cuts == 2
    assert reaction.cut.estimate == pytest.approx(paced)
    assert reaction.cut.start == pytest.approx((1 - LONE_CUT) * paced)  # a lone 429: jitter, or just over
    assert reaction.cut.at(end + 1.0) > reaction.cut.start  # and back up at once


def test_a_quota_that_held_up_to_the_pace_for_few_requests_is_estimated_at_that_pace():
    adaptive = AdaptiveRate()
    t = _ramped_then_cut(adaptive)
    end = _sending(adaptive, t, LONE_AFTER / 2, 1.5)  # a few requests, at the pace, all through
    paced = adaptive.rate(end)
    reaction = adaptive.throttled(end, end, retry_after=1)
    assert reaction.cut.estimate == pytest.approx(paced)
    assert reaction.cut.start == reaction.cut.target == pytest.approx(MARGIN * paced)  # measured: at the margin


def test_the_first_429_with_answers_slower_than_the_ramp_is_not_estimated_from_the_few_answered():
    """300 ms an answer: when the ramp meets the quota, the answers known are of the first few requests."""
    adaptive = AdaptiveRate()
    t = _sending(adaptive, 100.0, 50.0, 1.0, latency=0.3)
    # Only requests sent up to 0.3 s before the 429 are answered yet; they say nothing of the quota.
    adaptive.last_answered_sent, adaptive.answered_since_cut = 100.05, 2
    reaction = adaptive.throttled(t, t, retry_after=1)
    # Under what was sent (the requests, fewer than the pace, bound it), not the 2 answered in 0.05 s.
    assert reaction.cut.estimate == pytest.approx(50, rel=0.1)


def test_a_quota_that_closed_is_estimated_from_what_got_through():
    adaptive = AdaptiveRate()
    t = _ramped_then_cut(adaptive)
    probe = adaptive.throttled(t + 0.05, t + 0.06, retry_after=1)  # refused: the window is spent...
    second = adaptive.throttled(t + 0.2, t + 0.21, retry_after=1)
    third = adaptive.throttled(t + 0.4, t + 0.41, retry_after=3)  # a long Retry-After, believed
    assert probe.pause + second.pause + third.pause > CLOSED  # ...and stays closed a while
    end = _sending(adaptive, t + 3.5, 40.0, 4.0)  # then 40/s got through
    held, paced = adaptive.held_at_cut, adaptive.rate(end)
    reaction = adaptive.throttled(end, end, retry_after=1)
    got_through = 160 / (end - t - held)  # the closed time counts: the quota was spent
    # ...at most halving the pace just met at once (this one was climbing fast after a rough first cut).
    assert reaction.cut.estimate == pytest.approx(max(got_through, paced / 2), rel=0.1)
    assert reaction.cut.estimate < BETA * paced


def test_a_measurement_of_requests_too_few_for_the_pace_is_not_believed_below_beta_of_it():
    adaptive = AdaptiveRate()
    t = _ramped_then_cut(adaptive)
    end = _sending(adaptive, t, 5.0, 5.0)  # the requests used little of the pace: 5/s
    paced = adaptive.rate(end)
    reaction = adaptive.throttled(end, end, retry_after=1, unused=4.0)  # turns went unused for 4 of the 5 s
    assert reaction.cut.estimate == pytest.approx(BETA * paced)


def test_a_429_of_a_request_that_left_after_the_probe_is_a_new_one_not_the_probe_refused():
    """The probe went, its hold passed and the others followed: a 429 for one of them, before any answer
    is back, is a 429 of its own (another cut), not the quota closed (a longer pause)."""
    probe_refused, after_probe = AdaptiveRate(), AdaptiveRate()
    for adaptive in (probe_refused, after_probe):
        t = _ramped_then_cut(adaptive)
        adaptive.left(t + 0.02)  # the probe
        adaptive.left(t + 0.05)  # the next one, once the probe's hold is over
    refused = probe_refused.throttled(t + 0.02, t + 0.021, retry_after=1)
    assert refused.cut is None and probe_refused.failed_probes == 1 and probe_refused.cuts == 1
    new = after_probe.throttled(t + 0.05, t + 0.051, retry_after=1)
    assert new.cut is not None and after_probe.failed_probes == 0 and after_probe.cuts == 2


def test_after_a_lone_cut_turns_left_unused_do_not_make_the_next_429_a_measurement():
    adaptive = AdaptiveRate()
    t = _ramped_then_cut(adaptive)
    end = _sending(adaptive, t, 60.0, 5.0)
    paced = adaptive.rate(end)
    assert adaptive.throttled(end, end, retry_after=1).cut.start == pytest.approx((1 - LONE_CUT) * paced)  # lone
    later = _sending(adaptive, end + 0.1, 20.0, 5.0)  # fewer requests than the pace for a while, all through
    paced = adaptive.rate(later)
    reaction = adaptive.throttled(later, later, retry_after=1, unused=4.0)
    # One more small cut: the quota held at that pace before; what got through since measures the requests.
    assert reaction.cut.estimate == pytest.approx(paced)
    assert reaction.cut.start == pytest.approx((1 - LONE_CUT) * paced)


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
