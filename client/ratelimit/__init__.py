"""The rate limiter every SpotDraft request waits at (`SpotDraftClient.send`), retries included.

One limiter per credentials and host, shared by every thread of the process (`limiter_for`): a fixed
rate (`SPOTDRAFT_RATE_LIMIT`, optionally shared across processes) or an adaptive one (CUBIC after a
429), and a 429's Retry-After pauses every thread. Small parts composed in `limiter.py`, as botocore's
`retries/` does: `pacing`, `cubic`, `measure`, `adaptive`, `feeder`. Nothing here imports Prefect.
Design, and how it differs from botocore: docs/design/rate-limiting.md.
"""

from client.ratelimit.adaptive import ESTIMATE_HORIZON, SAME_EVENT, AdaptiveRate
from client.ratelimit.clock import Clock, SystemClock
from client.ratelimit.cubic import BETA, GROWTH, GROWTH_FLOOR, MIN_RATE, CubicRate
from client.ratelimit.feeder import SHARE_AGAIN_AFTER, SharedFeeder, SharedQuota
from client.ratelimit.limiter import RateLimiter, _limiters, _limiters_lock, limiter_for, log
from client.ratelimit.measure import SEND_WINDOW, SendRate
from client.ratelimit.pacing import MAX_PAUSE, Pacer
from client.ratelimit.turns import PACED, PAUSED, SHARED, NoTurnInTime

__all__ = [
    "BETA",
    "ESTIMATE_HORIZON",
    "GROWTH",
    "GROWTH_FLOOR",
    "MAX_PAUSE",
    "MIN_RATE",
    "PACED",
    "PAUSED",
    "SAME_EVENT",
    "SEND_WINDOW",
    "SHARED",
    "SHARE_AGAIN_AFTER",
    "AdaptiveRate",
    "Clock",
    "CubicRate",
    "NoTurnInTime",
    "Pacer",
    "RateLimiter",
    "SendRate",
    "SharedFeeder",
    "SharedQuota",
    "SystemClock",
    "_limiters",
    "_limiters_lock",
    "limiter_for",
    "log",
]
