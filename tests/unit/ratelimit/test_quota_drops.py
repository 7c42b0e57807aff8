"""A quota that drops tenfold mid-run (200/s to 20/s, another client on the account, a plan changed): the
adaptive limiter follows it down within a few seconds, without a storm of 429s.

Simulated on a fake clock (tests/support/quota_sim.py) against the sandbox's own shapes (sandbox/quotas.py).
"""

from __future__ import annotations

import pytest

from sandbox.quotas import quota
from tests.support.clocks import FakeClock
from tests.support.quota_sim import Pauses, RecordingLimiter, Shape, simulate

WINDOWS_SLOW = ("known, not yet fixed: on a window the descent after a tenfold drop takes several seconds, 11-14% "
                "of requests meet a 429 in the 10 s after it (12% before the lone-429 change too)")

BEFORE, AFTER = 200, 20  # requests/second
DROP_AT = 30.0  # seconds into the run: the limiter has settled at the first quota by then
FOLLOW_S = 10.0  # the seconds after the drop whose requests are counted
STORM_SHARE = 0.10  # more of those requests than this meeting a 429 is a storm


class DroppingQuota:
    """A quota of one shape that drops from BEFORE to AFTER requests/s at `drop_at`, starting afresh then."""

    def __init__(self, kind: str, start: float) -> None:
        self.kind, self.drop_at = kind, start + DROP_AT
        self.now = quota(kind, BEFORE, now=start)
        self.dropped = False

    def take(self, now: float) -> float:
        if not self.dropped and now >= self.drop_at:
            self.now, self.dropped = quota(self.kind, AFTER, now=now), True
        return self.now.take(now)


@pytest.mark.parametrize("kind", ["bucket",
                                  pytest.param("fixed", marks=pytest.mark.xfail(strict=True, reason=WINDOWS_SLOW)),
                                  pytest.param("sliding", marks=pytest.mark.xfail(strict=True, reason=WINDOWS_SLOW))])
def test_after_the_quota_drops_tenfold_few_requests_meet_a_429(kind):
    clock = FakeClock()
    limiter = RecordingLimiter(clock)
    server = DroppingQuota(kind, clock.t)
    requests = int(DROP_AT * BEFORE + 2 * FOLLOW_S * AFTER)
    simulate(Shape(kind=kind, rate=AFTER), requests, workers=64, limiter=limiter, clock=clock, server=server)
    after = [through for sent, through in limiter.told if server.drop_at <= sent < server.drop_at + FOLLOW_S]
    refused = after.count(False) / len(after)
    print(f"{kind} {BEFORE}/s to {AFTER}/s: {after.count(False)} of {len(after)} requests in the next "
          f"{FOLLOW_S:g}s met a 429; rate now {limiter.rate():.1f}/s")
    assert refused <= STORM_SHARE


class DroppingBucket:
    """A bucket of `burst_s` seconds of its rate (at least one request) that drops from BEFORE to AFTER at `drop_at`."""

    def __init__(self, burst_s: float, start: float) -> None:
        self.burst_s, self.drop_at = burst_s, start + DROP_AT
        self.now = quota("bucket", BEFORE, burst=max(1.0, round(BEFORE * burst_s)), now=start)
        self.dropped = False

    def take(self, now: float) -> float:
        if not self.dropped and now >= self.drop_at:
            self.now = quota("bucket", AFTER, burst=max(1.0, round(AFTER * self.burst_s)), now=now)
            self.dropped = True
        return self.now.take(now)


ONE_REQUEST_DROP = pytest.mark.xfail(strict=True, reason=(
    "known, a trade-off: since a 429 to a request that left after the probe is an event of its own (not the "
    "probe refused), a tenfold drop on a bucket of one request is followed 15% a 429 at a time: 12.6% of "
    "requests meet a 429 in the 10 s after it (6.6% before). Holding such 429s as refused probes, or carrying "
    "the closed time across them, brings it back under 10% but costs two processes on one quota their fair "
    "shares (tests/unit/ratelimit/test_processes_sharing_a_quota.py) and up to 0.2 of their efficiency"))


@pytest.mark.parametrize("burst_s", [pytest.param(0.0, marks=ONE_REQUEST_DROP), 0.2],
                         ids=["bucket of one request", "bucket of 0.2 s"])
def test_after_a_small_bucket_drops_tenfold_few_requests_meet_a_429(burst_s):
    """On a small bucket a 429 after a refused probe (the next one refused too, before the probe's answer)
    must still follow the quota down fast, not 15% a 429 at a time (6.9% of requests on a 0.2 s bucket
    before that 429 was an event of its own, 9.8% since)."""
    clock = FakeClock()
    limiter = RecordingLimiter(clock)
    server = DroppingBucket(burst_s, clock.t)
    requests = int(DROP_AT * BEFORE + 2 * FOLLOW_S * AFTER)
    simulate(Shape(kind="bucket", rate=AFTER), requests, workers=64, limiter=limiter, clock=clock, server=server)
    after = [through for sent, through in limiter.told if server.drop_at <= sent < server.drop_at + FOLLOW_S]
    refused = after.count(False) / len(after)
    print(f"bucket of {burst_s:g}s {BEFORE}/s to {AFTER}/s: {after.count(False)} of {len(after)} requests in the "
          f"next {FOLLOW_S:g}s met a 429; rate now {limiter.rate():.1f}/s")
    assert refused <= STORM_SHARE


GC_PHASES = 8  # where in the garbage collections' cycle the drop comes: as many runs


def test_after_a_small_bucket_drops_tenfold_with_garbage_collections_few_requests_meet_a_429():
    """The drop on a bucket of 0.2 s, as above, with every thread stopped 0.3 s every 2 s (a garbage collection):
    the dips must not slow the descent (7.0-9.6% of requests meet a 429 in the 10 s after it, at 8 points of the
    collections' cycle; a 429 after a dip measured over the time requests were there made it 9.0-10.8%)."""
    refused = []
    for phase in range(GC_PHASES):
        clock = FakeClock()
        limiter = RecordingLimiter(clock)
        server = DroppingBucket(0.2, clock.t)
        dips = Pauses(1, length_s=(0.3, 0.3), gap_s=(1.7, 1.7), start=clock.t, phase_s=2.0 * phase / GC_PHASES)
        requests = int(DROP_AT * BEFORE + 2 * FOLLOW_S * AFTER)
        simulate(Shape(kind="bucket", rate=AFTER), requests, workers=64, limiter=limiter, clock=clock, server=server,
                 dips=dips)
        after = [through for sent, through in limiter.told if server.drop_at <= sent < server.drop_at + FOLLOW_S]
        refused.append(after.count(False) / len(after))
    print(f"bucket of 0.2s {BEFORE}/s to {AFTER}/s, garbage collections: "
          f"{' '.join(f'{100 * share:.1f}%' for share in refused)} of requests met a 429 in the next {FOLLOW_S:g}s")
    assert max(refused) <= STORM_SHARE
