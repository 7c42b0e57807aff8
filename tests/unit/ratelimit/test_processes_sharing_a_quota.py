"""Two adaptive processes on one credential pair, over minutes: neither takes the quota from the other.

Each process hears only its own 429s, so a 429 one of them caused may land on the other. Simulated on a fake
clock (tests/support/quota_sim.py): ten minutes of a 200/s window run in about a second.
"""

from __future__ import annotations

import pytest

from tests.support.clocks import FakeClock
from tests.support.quota_sim import GARBAGE_COLLECTIONS, Pauses, RecordingLimiter, Shape, simulate_processes

SECONDS = 600  # long enough for one process to drift ahead of the other, if it can
FAIR_SHARE_FLOOR = 1 / 3  # of the answers in the last minute both ran, for the process that got fewer


@pytest.mark.parametrize("kind", ["fixed", "sliding"])
def test_two_adaptive_processes_keep_sharing_a_window_after_ten_minutes(kind):
    shape = Shape(kind=kind, rate=200)
    clock = FakeClock()
    processes = [RecordingLimiter(clock), RecordingLimiter(clock)]
    simulate_processes(shape, processes, SECONDS * 200 // 2, workers=64, seed=2, clock=clock)
    # The last minute before the first of them finished its requests (the other then has the quota alone).
    end = min(max(sent for sent, through in p.told if through) for p in processes)
    answers = [sum(1 for sent, through in p.told if through and end - 60 <= sent <= end) for p in processes]
    rates = [round(p.rate() or 0.0) for p in processes]
    print(f"two processes, {shape.name}: answers in the last minute {answers}, rates now {rates}/s")
    assert min(answers) >= FAIR_SHARE_FLOOR * sum(answers)


@pytest.mark.xfail(strict=True, reason=(
    "known, not yet fixed: a process whose threads stop for garbage collections (0.2-0.35 s every 1-4 s) beside "
    "one whose requests never stop gets 3% of the answers in the last minute on a bucket at 200/s, 13% on a "
    "sliding window"))
@pytest.mark.parametrize("kind", ["bucket", "sliding"])
def test_a_process_with_garbage_collections_keeps_its_share_beside_a_steady_one(kind):
    shape = Shape(kind=kind, rate=200, burst_s=0.2)
    clock = FakeClock()
    processes = [RecordingLimiter(clock), RecordingLimiter(clock)]
    pauses = Pauses(1, **GARBAGE_COLLECTIONS, start=clock.t, seed=2)
    simulate_processes(shape, processes, SECONDS * 200 // 2, workers=64, seed=2, clock=clock,
                       dips=lambda p, now: pauses(p, now) if p == 0 else now)
    end = min(max(sent for sent, through in p.told if through) for p in processes)
    answers = [sum(1 for sent, through in p.told if through and end - 60 <= sent <= end) for p in processes]
    print(f"{shape.name}, the first with garbage collections: answers in the last minute {answers}")
    assert min(answers) >= FAIR_SHARE_FLOOR * sum(answers)
