"""Pacing and pauses: requests leave 1/rate apart, a 429 holds every one of them, and after the hold
one request (the probe) goes ahead of the others.

A token bucket of one token (botocore's `retries/bucket.py`, reduced to what a single slot needs). The
next slot is set when a request leaves, at the rate of that moment, not reserved ahead: a rate that
changes (a cut, the ramp) applies to the very next request. It keeps no lock and reads no clock: the
limiter passes `now` under its own lock, so a test drives it with plain numbers.
Design: docs/design/rate-limiting.md.
"""

from __future__ import annotations

from client.ratelimit.turns import PACED, PAUSED, NoTurnInTime

MAX_PAUSE = 3600.0  # seconds: a longer Retry-After is not believed for every thread (see `Pacer.pause`)
WOKE_LATE = 0.002  # seconds: a request leaving this late after its slot was woken late, not idle


class Pacer:
    """When the next request may leave, and the time a 429 holds everyone until."""

    def __init__(self) -> None:
        self.next_slot = 0.0  # the earliest time the next request may leave at the rate
        self.paused_until = 0.0  # a 429 holds every thread until then
        self.probe_hold = 0.0  # the request after the next one leaves at least this much after it
        self.unused = 0.0  # seconds, in all, that a turn was free and no request took it

    def pause_left(self, now: float) -> float:
        """Seconds every request must still wait for a 429 (0 when none holds them)."""
        return max(0.0, self.paused_until - now)

    def paused(self, now: float) -> bool:
        return now < self.paused_until

    def pause(self, now: float, seconds: float | None, probe_hold: float = 0.0) -> None:
        """Hold every request for `seconds` from `now`; then the first to leave is a probe, and the next
        one leaves `probe_hold` after it at the earliest (by then the probe's answer is known).

        A pause beyond MAX_PAUSE (a Retry-After of "1e12": a proxy's bug) fails the call that got it (no
        window holds it) but is not believed for everyone: it would stop every run on these credentials.
        """
        if seconds and 0 < seconds <= MAX_PAUSE:
            self.paused_until = max(self.paused_until, now + seconds)
            self.probe_hold = max(self.probe_hold, probe_hold)

    def check_pause(self, now: float, deadline: float | None) -> None:
        """NoTurnInTime (PAUSED) when a pause holds requests past `deadline`."""
        if deadline is not None and self.paused_until > max(deadline, now):
            raise NoTurnInTime(PAUSED, self.paused_until - now)

    def next_turn(self, now: float, rate: float | None) -> float:
        """When the next request may leave at `rate` (None: no limit, only pauses)."""
        start = max(now, self.paused_until)
        return max(start, self.next_slot) if rate is not None else start

    def check(self, now: float, rate: float | None, deadline: float | None, ahead: int = 0) -> None:
        """NoTurnInTime when the turn of a request with `ahead` others before it comes past `deadline`.

        A turn that is now is taken, even past the deadline: stopping an operation whose window is spent is
        the retry policy's to decide, and its last error (a 503, say) says more than this would.
        """
        start = self.next_turn(now, rate) + (ahead / rate if rate else 0.0)
        if deadline is not None and start > max(deadline, now):
            raise NoTurnInTime(PAUSED if self.paused_until > deadline else PACED, start - now)

    def take(self, now: float, rate: float | None) -> None:
        """A request leaves at `now`: the next one may leave 1/rate later (and after the probe's hold)."""
        if self.next_slot:  # not the first turn
            self.unused += max(0.0, now - max(self.next_slot, self.paused_until))
        if rate is not None:
            # A sleep that woke a little late does not slow the rate: the next slot counts from the one due.
            on_time = self.next_slot if now - self.next_slot <= WOKE_LATE else now
            self.next_slot = max(on_time, now - 1 / rate) + 1 / rate
        if self.probe_hold:  # this one is the probe: the others wait for its answer
            self.next_slot = max(self.next_slot, now + self.probe_hold)
            self.probe_hold = 0.0

    def reserve(self, now: float, rate: float | None, deadline: float | None = None) -> float:
        """The next turn, taken at once (one caller at a time: a test's, or the simulation's)."""
        self.check(now, rate, deadline)
        start = self.next_turn(now, rate)
        self.take(start, rate)
        return start
