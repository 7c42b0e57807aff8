"""The rate requests are being sent at, over the last SEND_WINDOW seconds (botocore's RateClocker, simpler).

No lock, no clock: the limiter passes `now` under its own lock.
"""

from __future__ import annotations

from collections import deque

SEND_WINDOW = 1.0  # seconds over which the send rate is measured


class SendRate:
    """Send times within SEND_WINDOW, and the rate they make."""

    def __init__(self) -> None:
        self._sent: deque[float] = deque()  # send times within SEND_WINDOW
        self._first_send: float | None = None

    def note(self, now: float) -> None:
        """A request left at `now`."""
        if self._first_send is None:
            self._first_send = now
        self._sent.append(now)
        self._forget(now)

    def rate(self, now: float) -> float:
        """Requests per second sent over the last SEND_WINDOW (or since the first, when sooner)."""
        self._forget(now)
        if self._first_send is None:
            return 0.0
        return len(self._sent) / max(min(SEND_WINDOW, now - self._first_send), 0.05)

    def _forget(self, now: float) -> None:
        while self._sent and self._sent[0] < now - SEND_WINDOW:
            self._sent.popleft()
