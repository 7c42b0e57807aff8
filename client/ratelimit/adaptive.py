"""The adaptive rate: a ramp until the first 429, then one cut per throttling event to a margin under
the quota estimated from what the server let through, and a slow climb; and how long a 429 holds everyone.

No lock, no clock: the limiter passes `now` (and a request's `sent_at`) under its own lock, so a test
drives it with plain numbers. Design, and how it differs from botocore: docs/design/rate-limiting.md.
"""

from __future__ import annotations

from dataclasses import dataclass

from client.ratelimit.climb import MARGIN, MIN_RATE, Climb
from client.ratelimit.measure import AnswerTime, SendRate

RAMP_START = 20.0  # requests/second before any 429: the rate the first second starts at...
RAMP_DOUBLING = 0.25  # ...doubling every this many seconds, so a burst past the quota stays small
BETA = 0.85  # the first cut takes the rate to this share of what was being sent (above the quota)
ESTIMATE_HORIZON = 30.0  # past this since the last cut, answers counted since it say little about the quota
MEASURE_SPAN = 1.0  # seconds between two cuts over which what got through measures the quota
FIRST_BLIND_PAUSE = 0.25  # seconds: a probe refused without Retry-After waits this, doubling each time...
MAX_BLIND_PAUSE = 5.0  # ...up to this
MIN_PROBE_HOLD = 0.02  # seconds: the least a probe is given to come back before the others follow it


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
        self.failed_probes = 0  # probes refused since that event began
        self.answered_since_cut = 0
        self.sent = SendRate()
        self.answer_time = AnswerTime()
        self.cuts = 0  # throttling events that cut the rate

    def rate(self, now: float) -> float:
        """Requests per second allowed at `now`."""
        if self.climb is None:
            if self.ramp_from is None:
                self.ramp_from = now
            return RAMP_START * 2 ** min(40.0, (now - self.ramp_from) / RAMP_DOUBLING)
        # Past the estimate, climb only while the requests use it: at most twice the rate they are sent.
        return min(self.climb.at(now), max(self.climb.estimate, 2 * self.sent.rate(now)))

    def answered(self, sent_at: float, now: float) -> None:
        """A request that left at `sent_at` got an answer other than 429 at `now` (the server let it through)."""
        self.answer_time.note(sent_at, now)
        if self.event_at is None or sent_at >= self.event_at:
            self.answered_since_cut += 1
            self.recovering, self.failed_probes = False, 0

    def throttled(self, sent_at: float, now: float, retry_after: float | None) -> Reaction | None:
        """A request that left at `sent_at` got a 429 at `now`: what every request must do now, or None
        when it was already in flight as the current throttling event began (an echo of it)."""
        if self.event_at is not None and sent_at < self.event_at:
            return None
        if self.recovering:  # the probe was refused: the quota is closed, not merely at its rate
            self.failed_probes += 1
            return Reaction(self._closed_pause(retry_after), self._probe_hold())
        paced = self.rate(now)  # the rate that met the 429: at or above the quota
        since = None if self.event_at is None else now - self.event_at
        if since is None or since > ESTIMATE_HORIZON:
            # The first 429 (or the first in a long while): the quota is below the pace just met, or below
            # what was sent when the requests did not keep up with that pace.
            sent = self.sent.rate(now, RAMP_DOUBLING)
            estimate = paced if sent >= paced / 2 else max(MIN_RATE, sent)
        elif since < MEASURE_SPAN:
            estimate = paced  # too soon after the last cut to measure: below the pace just met, as far as we know
        else:
            # The quota was spent at the last cut and is spent now: what it let through in between is its
            # rate, or less if the requests did not use it all. Never below BETA of the rate that met the 429:
            # a measurement that low is the requests', not the quota's.
            let_through = self.answered_since_cut / since
            estimate = max(MIN_RATE, min(paced, max(let_through, BETA * paced)))
        self.climb = Climb(estimate=estimate, start=BETA * estimate, target=MARGIN * estimate, cut_at=now)
        self.event_at, self.recovering, self.failed_probes, self.answered_since_cut = now, True, 0, 0
        self.cuts += 1
        # Retry-After comes in whole seconds: "1" may mean 5 ms (a token) or a whole second (a window).
        # Believed for everyone when it says more; otherwise a short pause and a probe find out.
        pause = retry_after if retry_after is not None and retry_after > 1 else 1 / self.climb.start
        return Reaction(pause, self._probe_hold(), self.climb)

    def _closed_pause(self, retry_after: float | None) -> float:
        """How long a refused probe holds everyone: a Retry-After over a second as given; a shorter one
        (the wait is anything up to it) or none, a pause doubling from FIRST_BLIND_PAUSE up to it."""
        if retry_after is not None and retry_after > 1:
            return retry_after
        blind = FIRST_BLIND_PAUSE * 2 ** (self.failed_probes - 1)
        return min(blind, retry_after if retry_after is not None and retry_after > 0 else MAX_BLIND_PAUSE)

    def _probe_hold(self) -> float:
        took = self.answer_time.seconds
        return max(MIN_PROBE_HOLD, 1.25 * took) if took is not None else FIRST_BLIND_PAUSE
