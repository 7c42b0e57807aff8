"""What the limiter measures of its own traffic: the send rate over the last second (botocore's
RateClocker, simpler) and how long answers take.

No lock, no clock: the limiter passes `now` under its own lock.
"""

from __future__ import annotations

from collections import deque

SEND_WINDOW = 1.0  # seconds over which the send rate is measured
ANSWER_TIME_WEIGHT = 0.2  # weight of the newest answer in the moving average of answer times


class SendRate:
    """Send times within SEND_WINDOW, and the rate they make."""

    def __init__(self) -> None:
        self._sent: deque[float] = deque()  # send times within SEND_WINDOW
        self._first_send: float | None = None

    @property
    def first_send(self) -> float | None:
        return self._first_send

    def note(self, now: float) -> None:
        """A request left at `now`."""
        if self._first_send is None:
            self._first_send = now
        self._sent.append(now)
        self._forget(now)

    def rate(self, now: float, window: float = SEND_WINDOW) -> float:
        """Requests per second sent over the last `window` (at most SEND_WINDOW; since the first, when sooner)."""
        self._forget(now)
        if self._first_send is None:
            return 0.0
        window = min(window, SEND_WINDOW)
        sent = sum(1 for at in reversed(self._sent) if at >= now - window) if window < SEND_WINDOW else len(self._sent)
        return sent / max(min(window, now - self._first_send), 0.05)

    def _forget(self, now: float) -> None:
        while self._sent and self._sent[0] < now - SEND_WINDOW:
            self._sent.popleft()


class AnswerTime:
    """A moving average of the time from a request's send to its answer (None before the first)."""

    def __init__(self) -> None:
        self.seconds: float | None = None

    def note(self, sent_at: float, now: float) -> None:
        took = max(0.0, now - sent_at)
        self.seconds = took if self.seconds is None else (
            (1 - ANSWER_TIME_WEIGHT) * self.seconds + ANSWER_TIME_WEIGHT * took)
