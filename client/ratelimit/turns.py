"""Why a request's turn at the limiter could not come before its deadline: `NoTurnInTime`."""

from __future__ import annotations

# Why a request's turn could not come before its deadline (NoTurnInTime.cause).
PAUSED = "paused"  # a Retry-After holds every request past it
PACED = "paced"  # its slot at the rate comes after it
SHARED = "shared"  # no token from the shared quota came by then


class NoTurnInTime(Exception):
    """A request's turn cannot come before its deadline (`RateLimiter.acquire`): it was not sent.

    `cause` is PAUSED, PACED or SHARED; `wait` the seconds its turn was still away, when known.
    The client turns it into a RateLimitedError with the request's context (`SpotDraftClient.send`).
    """

    def __init__(self, cause: str, wait: float | None, quota: str = "") -> None:
        self.cause, self.wait, self.quota = cause, wait, quota
        if cause == PAUSED:
            text = (f"SpotDraft asked every request on these credentials to wait {wait or 0:.0f}s (Retry-After), "
                    "longer than this operation's retry window")
        elif cause == PACED:
            text = (f"at the rate set for these credentials this request's turn is {wait or 0:.1f}s away, "
                    "past this operation's retry window")
        else:
            text = (f"no token came from the shared rate limit {quota} (a Prefect global concurrency limit) "
                    "within this operation's retry window")
        super().__init__(text + "; it was not sent")
