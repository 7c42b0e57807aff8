"""The rate limiter every SpotDraft request waits at (`SpotDraftClient.send`), retries included.

One limiter per credentials and host, shared by every thread of the process (`limiter_for`): a fixed
rate (`SPOTDRAFT_RATE_LIMIT`, optionally shared across processes) or an adaptive one (a ramp, then a
margin under the quota estimated at each 429 and a slow climb, or a small cut for a lone 429, back
within a few hundred requests); a 429 holds every thread, briefly
with a probe when its Retry-After is a second or less. Small parts composed in `limiter.py`, as
botocore's `retries/` does: `pacing`, `climb`, `measure`, `adaptive`, `feeder`. Nothing here imports
Prefect. Design, and how it differs from botocore: docs/design/rate-limiting.md.
"""

from client.ratelimit.adaptive import (
    BETA,
    CLOSED,
    ESTIMATE_HORIZON,
    FIRST_BLIND_PAUSE,
    LONE_AFTER,
    MAX_BLIND_PAUSE,
    MIN_PROBE_HOLD,
    RAMP_DOUBLING,
    RAMP_START,
    AdaptiveRate,
    Reaction,
)
from client.ratelimit.climb import (
    CLIMB,
    CLIMB_ROUGH,
    CLIMB_UNSURE,
    LONE_429_SHARE,
    LONE_CUT,
    MARGIN,
    MIN_RATE,
    RECOVER,
    Climb,
)
from client.ratelimit.clock import Clock, SystemClock
from client.ratelimit.feeder import SHARE_AGAIN_AFTER, SharedFeeder, SharedQuota
from client.ratelimit.limiter import RateLimiter, _limiters, _limiters_lock, limiter_for, log
from client.ratelimit.measure import SEND_WINDOW, AnswerTime, SendRate
from client.ratelimit.pacing import MAX_PAUSE, Pacer
from client.ratelimit.turns import PACED, PAUSED, SHARED, NoTurnInTime

__all__ = [
    "BETA",
    "CLIMB",
    "CLIMB_ROUGH",
    "CLIMB_UNSURE",
    "CLOSED",
    "ESTIMATE_HORIZON",
    "FIRST_BLIND_PAUSE",
    "LONE_429_SHARE",
    "LONE_AFTER",
    "LONE_CUT",
    "MARGIN",
    "MAX_BLIND_PAUSE",
    "MAX_PAUSE",
    "MIN_PROBE_HOLD",
    "MIN_RATE",
    "PACED",
    "PAUSED",
    "RAMP_DOUBLING",
    "RAMP_START",
    "RECOVER",
    "SEND_WINDOW",
    "SHARED",
    "SHARE_AGAIN_AFTER",
    "AdaptiveRate",
    "AnswerTime",
    "Climb",
    "Clock",
    "NoTurnInTime",
    "Pacer",
    "RateLimiter",
    "Reaction",
    "SendRate",
    "SharedFeeder",
    "SharedQuota",
    "SystemClock",
    "_limiters",
    "_limiters_lock",
    "limiter_for",
    "log",
]
