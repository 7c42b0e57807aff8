"""Pacing and pauses: requests leave 1/rate apart, and a Retry-After holds every one of them.

A token bucket of one token (botocore's `retries/bucket.py`, reduced to what a single slot needs).
It keeps no lock and reads no clock: the limiter passes `now` under its own lock, so a test drives
it with plain numbers. Design: docs/design/rate-limiting.md.
"""

from __future__ import annotations

from client.ratelimit.turns import PACED, PAUSED, NoTurnInTime

MAX_PAUSE = 3600.0  # seconds: a longer Retry-After is not believed for every thread (see `Pacer.pause`)


class Pacer:
    """The next slot a request may leave at, and the time a Retry-After holds everyone until."""

    def __init__(self) -> None:
        self.next_slot = 0.0  # the earliest time the next request may leave
        self.paused_until = 0.0  # a Retry-After holds every thread until then

    def pause_left(self, now: float) -> float:
        """Seconds every request must still wait for a Retry-After (0 when none holds them)."""
        return max(0.0, self.paused_until - now)

    def paused(self, now: float) -> bool:
        return now < self.paused_until

    def pause(self, now: float, retry_after: float | None) -> None:
        """Hold every request for `retry_after` seconds from `now`.

        A Retry-After beyond MAX_PAUSE (a proxy's bug, "1e12") fails the call that got it (no window
        holds it) but is not believed for everyone: it would stop every run on these credentials.
        """
        if retry_after and 0 < retry_after <= MAX_PAUSE:
            self.paused_until = max(self.paused_until, now + retry_after)
            self.next_slot = max(self.next_slot, self.paused_until)

    def check_pause(self, now: float, deadline: float | None) -> None:
        """NoTurnInTime (PAUSED) when a pause holds requests past `deadline`."""
        if deadline is not None and self.paused_until > max(deadline, now):
            raise NoTurnInTime(PAUSED, self.paused_until - now)

    def reserve(self, now: float, rate: float | None, deadline: float | None = None) -> float:
        """The time a request may leave at `rate` (None: no limit, only pauses), its slot taken;
        NoTurnInTime (and no slot taken) when that is past `deadline`."""
        start = max(now, self.paused_until)
        if rate is not None:
            start = max(start, self.next_slot)
        # A turn that is now is taken, even past the deadline: stopping an operation whose window is spent is
        # the retry policy's to decide, and its last error (a 503, say) says more than this would.
        if deadline is not None and start > max(deadline, now):
            raise NoTurnInTime(PAUSED if self.paused_until > deadline else PACED, start - now)
        if rate is not None:
            self.next_slot = start + 1 / rate
        return start
