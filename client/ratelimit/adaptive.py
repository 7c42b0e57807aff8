"""The adaptive rate: a ramp until the first 429, then one cut per throttling event to a margin under
the quota estimated from what the server let through, and a slow climb; a lone 429 (jitter, or a pace a
little over) cuts a little, and the pace is back within a few hundred requests; and how long a 429 holds everyone.

No lock, no clock: the limiter passes `now` (and a request's `sent_at`) under its own lock, so a test
drives it with plain numbers. Design, and how it differs from botocore: docs/design/rate-limiting.md.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

from client.ratelimit.climb import CLIMB, CLIMB_ROUGH, CLIMB_UNSURE, MARGIN, MIN_RATE, Climb
from client.ratelimit.measure import AnswerTime, SendRate

RAMP_START = 20.0  # requests/second before any 429: the rate the first second starts at...
RAMP_DOUBLING = 0.25  # ...doubling every this many seconds, so a burst past the quota stays small
RAMP_END = 2 * math.log(2)  # the pace at the end of a doubling, to the pace it averaged over it
RAMP_KEPT = 0.6  # sent at this share of the ramp's pace or more (1 / RAMP_END kept up with it): the requests kept up
BETA = 0.85  # the first cut takes the rate to this share of what was being sent (above the quota)
ESTIMATE_HORIZON = 30.0  # past this since the last cut, answers counted since it say little about the quota
MEASUREMENTS = 3  # the quota is estimated as the best of this many last measurements
IDLE_SHARE = 0.1  # turns unused for more than this share of the time between two cuts: requests were too few
MEASURE_SPAN = 1.0  # seconds between two cuts over which what got through measures the quota
FIRST_BLIND_PAUSE = 0.1  # seconds: a probe refused without Retry-After waits this, doubling each time...
MAX_BLIND_PAUSE = 5.0  # ...up to this
CLOSED = 0.2  # seconds: refused probes held everyone longer than this since a cut: the quota was closed (a window)
MIN_PROBE_HOLD = 0.02  # seconds: the least a probe is given to come back before the others follow it
# A 429 after at least this many requests got through since the last cut, at the pace, the quota never closed
# meanwhile, is a lone one (Climb.after_lone_429); sooner, the pace is above the quota, not merely near it.
LONE_AFTER = 60
# How a throttling event knows the quota (`AdaptiveRate._estimate`).
ROUGH, MEASURED, LONE = "rough", "measured", "lone"


@dataclass(frozen=True)
class Reaction:
    """What a 429 asks of every request: wait `pause` seconds, then one request (the probe) goes and
    the next follows `probe_hold` later, by when the probe's answer tells whether the quota is open."""

    pause: float
    probe_hold: float
    cut: Climb | None = None  # the rate after the cut, when this 429 began a throttling event


class AdaptiveRate:
    """What the 429s so far tell of the quota, the rate to send at now, and how long a 429 holds everyone."""

    def __init__(self) -> None:
        self.climb: Climb | None = None  # None until the first 429 (the ramp)
        self.ramp_from: float | None = None  # when the first request asked for a turn
        self.event_at: float | None = None  # when the last throttling event began
        self.recovering = False  # no request sent since that event has been answered yet
        self.probe_left: float | None = None  # when the probe (the first request after the pause) left
        self.failed_probes = 0  # probes refused since that event began
        self.answered_since_cut = 0
        self.last_answered_sent: float | None = None  # when the latest request answered since the cut left
        self.let_through: deque[float] = deque(maxlen=MEASUREMENTS)  # per second, between cuts the quota bound
        self.estimates: deque[float] = deque(maxlen=2)  # the last two measured estimates
        self.closed_since_cut = 0.0  # seconds every request was held since the last cut because the quota was closed
        self.unused_at_cut = 0.0  # the pacer's unused seconds when the last cut was made
        self.held_at_cut = 0.0  # seconds the last cut held every request on the limiter's own account
        self.sent = SendRate()
        self.got_through = SendRate()  # the send times of requests the server let through
        self.refusal_time = AnswerTime()  # how long a 429 takes to come back
        self.cuts = 0  # throttling events that cut the rate
        self.kind = ROUGH  # how the last cut knew the quota

    def rate(self, now: float) -> float:
        """Requests per second allowed at `now`."""
        if self.climb is None:
            if self.ramp_from is None:
                self.ramp_from = now
            # Doubling in time, but never past twice the rate requests are sent at: a ramp that ran ahead
            # of the requests (a sync listing its first pages) would meet the quota far above it.
            ramp = RAMP_START * 2 ** min(40.0, (now - self.ramp_from) / RAMP_DOUBLING)
            return min(ramp, max(RAMP_START, 2 * self.sent.rate(now, RAMP_DOUBLING)))
        # Past the estimate, climb only while the requests use it: at most twice the rate they are sent.
        return min(self.climb.at(now), max(self.climb.estimate, 2 * self.sent.rate(now)))

    def left(self, now: float) -> None:
        """A request leaves at `now`: the probe, when it is the first since the pause."""
        self.sent.note(now)
        if self.recovering and self.probe_left is None:
            self.probe_left = now

    def answered(self, sent_at: float, now: float) -> None:
        """A request that left at `sent_at` got an answer other than 429 at `now` (the server let it through)."""
        self.got_through.note(sent_at)
        if self.event_at is None or sent_at >= self.event_at:
            self.answered_since_cut += 1
            self.last_answered_sent = max(sent_at, self.last_answered_sent or sent_at)
            self.recovering, self.failed_probes = False, 0

    def throttled(self, sent_at: float, now: float, retry_after: float | None, unused: float = 0.0) -> Reaction | None:
        """A request that left at `sent_at` got a 429 at `now`: what every request must do now, or None
        when it was already in flight as the current throttling event began (an echo of it). `unused`:
        the pacer's seconds of turns no request took, so far (see `Pacer.unused`)."""
        self.refusal_time.note(sent_at, now)
        if self.event_at is not None and sent_at < self.event_at:
            return None
        if self.recovering and (self.probe_left is None or sent_at <= self.probe_left):
            # The probe was refused: the quota is closed, not merely at its rate. (A request that left after
            # the probe, once its hold was over, is not it: the probe went through, and this is a new 429.)
            self.failed_probes += 1
            self.probe_left = None
            if self.kind == LONE and self.climb is not None:
                # Not a lone 429 after all but a window spent (perhaps by another process on these
                # credentials): cut to the margin, as for a measured quota, or the two would not share it.
                self.kind = MEASURED
                self.climb = self._climb(self.climb.estimate, MEASURED, self.climb.cut_at)
            pause = self._closed_pause(retry_after)
            self.closed_since_cut += pause
            return Reaction(pause, self._probe_hold())
        estimate, self.kind = self._estimate(sent_at, now, unused)
        self.climb = self._climb(estimate, self.kind, now)
        # Retry-After comes in whole seconds: "1" may mean 5 ms (a token) or a whole second (a window).
        # Believed for everyone when it says more; otherwise a short pause and a probe find out.
        told = retry_after is not None and retry_after > 1
        pause, hold = (retry_after if told else 1 / self.climb.start), self._probe_hold()
        self.event_at, self.recovering, self.failed_probes, self.answered_since_cut = now, True, 0, 0
        self.probe_left = None
        self.last_answered_sent, self.unused_at_cut = None, unused
        self.held_at_cut = hold + (0.0 if told else pause)  # the limiter's own hold, not the quota's
        self.closed_since_cut = pause if told else 0.0
        self.cuts += 1
        return Reaction(pause, hold, self.climb)

    def _climb(self, estimate: float, kind: str, cut_at: float) -> Climb:
        """The rate after a cut that estimated the quota at `estimate`, known as `kind` says."""
        if kind == LONE:  # a little under the pace met, back at it soon (see Climb.after_lone_429)
            return Climb.after_lone_429(estimate, cut_at)
        # Below a measured quota by a margin at once; below a pace found too high, by BETA, then back up.
        measured = kind == MEASURED
        return Climb(estimate=estimate, start=(MARGIN if measured else BETA) * estimate, target=MARGIN * estimate,
                     cut_at=cut_at, climb=CLIMB_ROUGH if not measured else CLIMB if self._sure() else CLIMB_UNSURE)

    def _estimate(self, sent_at: float, now: float, unused: float) -> tuple[float, str]:
        """The quota, and how it is known: ROUGH (only under the pace just met), MEASURED (from what got
        through since the last cut), or LONE (the pace just met, which held since the last cut)."""
        paced = self.rate(now)  # the rate that met the 429: at or above the quota
        if self.event_at is None or now - self.event_at > ESTIMATE_HORIZON:
            # The first 429 (or the first in a long while): the quota is below the pace just met, or below
            # what was sent when the requests did not keep up with that pace...
            sent = self.sent.rate(now, RAMP_DOUBLING)
            # Requests that kept up with a ramp doubling every RAMP_DOUBLING were sent, over the last one, at
            # 1 / RAMP_END = 0.72 of the pace it ended at; requests fewer than the pace, at most at half of it.
            ramping = sent >= RAMP_KEPT * paced
            estimate = paced if ramping else max(MIN_RATE, sent)
            if (self.event_at is None and self.last_answered_sent is not None and self.ramp_from is not None
                    and sent_at - self.last_answered_sent <= RAMP_DOUBLING):
                # ...and at most what got through: since the first request (a low figure: the ramp began
                # slow), or over its last quarter second (a high one: the quota's first burst), the higher.
                # Only when the answers known reach close to the refused request: with answers slower than
                # that, what got through by then is the few requests there were when the ramp began.
                ramped = self.last_answered_sent - self.ramp_from
                if ramped >= RAMP_DOUBLING:
                    # (What got through at the end of a last quarter second in which requests ramped up.)
                    at_end = RAMP_END if ramping else 1.0
                    got_through = max(self.answered_since_cut / ramped,
                                      at_end * self.got_through.rate(self.last_answered_sent, RAMP_DOUBLING))
                    estimate = min(estimate, max(MIN_RATE, got_through))
            return estimate, ROUGH
        # What got through is known for the requests sent up to the last one answered (the rest are in
        # flight), over the time the quota was offered them: less the limiter's own hold after the last cut.
        span = 0.0 if self.last_answered_sent is None else (
            self.last_answered_sent - self.event_at - self.held_at_cut)
        let_through = self.answered_since_cut / span if span > 0 else paced
        closed = self.closed_since_cut > CLOSED  # a window spent since the last cut
        idle = unused - self.unused_at_cut > IDLE_SHARE * (now - self.event_at)  # requests fewer than the pace
        if not closed and self.answered_since_cut >= LONE_AFTER and (not idle or self.kind == LONE):
            # Many requests got through at the pace since the last cut: a lone 429. A pace more than about
            # 1 / LONE_AFTER above a bucket's rate is refused sooner once the bucket is empty. After a lone
            # cut, turns left unused (the requests fewer than the pace a while) do not make it a measurement:
            # the quota held at that pace before, and what got through measures the requests, not it. Lone
            # cuts add up, so a pace over a bucket's rate comes under it within a few 429s.
            self.estimates.append(paced)
            return paced, LONE
        if span < MEASURE_SPAN:
            # Too soon after the last cut to measure the quota: it is below the pace just met. When it was
            # never closed since (a bucket, not a window spent), a rough measurement says how far below
            # (at most half of it at once: the measurement is short).
            # After a measured cut, no lower than BETA of the pace: so soon after it, a 429 is more likely a
            # window still full of the requests before that cut than a measurement far off.
            floor = BETA * paced if self.kind != ROUGH else paced / 2
            rough = max(self.answered_since_cut / max(now - self.event_at, 1e-6) if closed else let_through, floor)
            return max(MIN_RATE, min(paced, rough)), ROUGH
        if self.closed_since_cut > max(CLOSED, IDLE_SHARE * span):
            # The quota was closed for a while (a window spent): it, not the pace, bound the requests, and
            # what got through is its rate. The best of the last few such measurements: one may fall short
            # (a window that opened some time before the probe that found it open).
            self.let_through.append(let_through)
            estimate = max(self.let_through)
        elif idle:
            # Turns went unused: the requests were fewer than the pace, and what got through was their rate.
            estimate = max(let_through, BETA * paced)
        else:
            estimate = paced  # the requests kept to the pace and the quota held up to it: it is about there
        # Never below half the pace just met at once: a measurement that low is more likely other traffic on
        # these credentials (another process) than the quota, and the next cut can go lower still.
        estimate = max(MIN_RATE, paced / 2, min(paced, estimate))
        self.estimates.append(estimate)
        return estimate, MEASURED

    def _sure(self) -> bool:
        """Whether the last two measured estimates of the quota agree (within 1 - BETA of each other)."""
        if len(self.estimates) < 2:
            return False
        last, before = self.estimates[-1], self.estimates[-2]
        return abs(last - before) <= (1 - BETA) * max(last, before)

    def _closed_pause(self, retry_after: float | None) -> float:
        """How long a refused probe holds everyone: a Retry-After over a second as given; a shorter one
        (the wait is anything up to it) or none, a pause doubling from FIRST_BLIND_PAUSE up to it."""
        if retry_after is not None and retry_after > 1:
            return retry_after
        blind = FIRST_BLIND_PAUSE * 2 ** (self.failed_probes - 1)
        return min(blind, retry_after if retry_after is not None and retry_after > 0 else MAX_BLIND_PAUSE)

    def _probe_hold(self) -> float:
        """How long the others wait behind a probe: until its 429 would have come back (a 429 is refused at
        the door, usually long before an answer is ready), so a probe not refused by then went through."""
        return max(MIN_PROBE_HOLD, 2 * (self.refusal_time.seconds or 0.0))
