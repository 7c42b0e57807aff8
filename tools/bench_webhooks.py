"""How long a change in SpotDraft takes to reach its row in the database, through the webhook path.

The production path, set up as tests/e2e/test_prefect_server.py sets it up: a sandbox process (SpotDraft),
the block type registered and a credentials document 'spotdraft', a process work pool 'spotdraft',
`prefect deploy` of the sync-contract-on-change deployment (its database_url pointed at a fresh
SQLite file), a process worker polling every second, the receiver subscribed with
flows.register_webhook and started as `python -m webhooks --key-block spotdraft-webhook-key`.
Only that deployment is deployed: the others' schedules would write the repository's spotdraft.db.

What is measured. Every contract starts as DRAFT, and is already in the database (one full sync
first), as a contract is when it changes in production. A change is one lifecycle step, `send`
(DRAFT -> REDLINING), each to a different contract, so no two runs share a contract and the
per-contract debounce merges nothing. Its latency runs from the change (the contract's
last_updated_on, stamped by the sandbox) to the write of its row showing REDLINING
(contracts.synced_at; committed a few milliseconds later). Every clock is this machine's.

Two loads:
- steady: a new change whenever fewer than IN_FLIGHT (3) changes still wait for their row. Each
  run is a new Python process that imports Prefect and the flows, about 4 s of CPU before the flow
  starts (3.7 s for the imports alone on this 2-core machine, which others share). A fixed rate
  either idles a fast machine or queues a slow one (one change every 5 s did: the last third of
  100 waited 104 s against the first third's 14 s), so the stream paces itself: a few runs overlap,
  as in a busy workspace, and no queue builds in front of the worker (the report compares the
  first third's median with the last third's). The median, p95 and max come from this load.
- burst: BURST (20) changes at once, a bulk action in SpotDraft: 20 processes start together,
  and the last row shows how long such a queue takes to drain.

Where the time goes, per change, from the sandbox's delivery log and the run's states in Prefect:
  change -> delivery posted         the sandbox's per-URL lane takes it
  posted -> answered                the receiver verifies it and hands the event to Prefect
  answered -> flow run created      Prefect's trigger matches the event and creates the run
  created -> submitted              the worker's next poll (every 1 s) picks it up: Pending
  submitted -> running              a new Python process starts the flow
  running -> row written            ticket, turn, settle_seconds (its default, 2 s), read, write
The run completes after its row is written; that tail is shown, not counted.

The stack is tools/bench_webhooks_stack.py; the changes and their moments, tools/bench_webhooks_changes.py.
"""

from __future__ import annotations

import math
import os
import statistics
import sys
import time
from pathlib import Path

from tools.bench_webhooks_changes import MOMENTS, ROW_TIMEOUT_S, STAGES, TAIL, Change, measure
from tools.bench_webhooks_stack import settle_seconds, webhook_stack

DELIVERIES = 100
IN_FLIGHT = 3
BURST = 20


def percentile(values: list[float], share: float) -> float:
    """Nearest rank: the smallest value at least `share` of the values are not above."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


def spans(changes: list[Change], start: str, end: str) -> list[float]:
    pairs = [(getattr(c, start), getattr(c, end)) for c in changes]
    return [b - a for a, b in pairs if a is not None and b is not None]


def report(title: str, changes: list[Change], settle: float, *, trend: bool) -> bool:
    """Print the latency and where it goes; False when a change never reached its row."""
    latencies = [c.latency for c in changes if c.latency is not None]
    lost = len(changes) - len(latencies)
    print(f"  {title}")
    if latencies:
        median = statistics.median(latencies)
        print(f"    change -> row   median {median:6.2f} s   p95 {percentile(latencies, 0.95):6.2f} s   "
              f"max {max(latencies):6.2f} s   ({len(latencies)} of {len(changes)} changes)")
        print_stages(changes, trend)
        print(f"    settle_seconds ({settle:g} s, in 'running -> row written') is {settle / median:.0%} of the median")
    if lost:
        print(f"    LOST: {lost} change(s) had no row {ROW_TIMEOUT_S:.0f} s after the change:", file=sys.stderr)
        for change in (c for c in changes if c.row is None):
            reached = [name for name in MOMENTS if getattr(change, name) is not None][-1]
            print(f"      contract {change.contract_id}: last seen '{reached}', run {change.run_state}",
                  file=sys.stderr)
    return lost == 0


def print_stages(changes: list[Change], trend: bool) -> None:
    """Median and p95 of each stage, and its share of the mean latency (means add up; medians need not)."""
    complete = [c for c in changes if c.seen_at_every_step]
    if not complete:
        return
    mean_latency = statistics.fmean(c.latency for c in complete)
    print(f"    where it goes ({len(complete)} changes seen at every step)   median       p95   share")
    for label, start, end in [*STAGES, TAIL]:
        values = spans(complete, start, end)
        share = "(after)" if (label, start, end) == TAIL else f"{statistics.fmean(values) / mean_latency:7.0%}"
        print(f"      {label:32s} {statistics.median(values):7.2f} s {percentile(values, 0.95):7.2f} s  {share}")
    thirds = len(complete) // 3
    if trend and thirds >= 5:  # a latency that grows through the stream means runs queued: the pace was too fast
        first, last = (statistics.median(c.latency for c in part) for part in (complete[:thirds], complete[-thirds:]))
        print(f"    median of the first third {first:.2f} s, of the last third {last:.2f} s")


def load_average() -> str:
    return " ".join(f"{value:.1f}" for value in os.getloadavg()) + f" on {os.cpu_count()} cores"


def run(prefect_env: dict[str, str], home: Path, deliveries: int = DELIVERIES) -> bool:
    """The section: `deliveries` steady changes, then a burst of BURST; False when a change was lost."""
    began = time.monotonic()
    home.mkdir(parents=True, exist_ok=True)
    print(f"webhooks: a change in SpotDraft -> its row in SQLite (receiver, Prefect event, trigger, process worker, "
          f"sync_contract); {deliveries} changes at most {IN_FLIGHT} in flight, then {BURST} at once:", flush=True)
    with webhook_stack(prefect_env, home, deliveries + BURST) as (sb, env, database_url, ids):
        print(f"  stack ready in {time.monotonic() - began:.0f} s; load average {load_average()}", flush=True)
        settle = settle_seconds(env)
        steady = measure(sb, env, database_url, ids[:deliveries], IN_FLIGHT)
        ok = report(f"steady: {deliveries} changes, each to its own contract, a new one whenever fewer than "
                    f"{IN_FLIGHT} rows are still to come", steady, settle, trend=True)
        burst = measure(sb, env, database_url, ids[deliveries:], BURST)
        ok = report(f"burst: {BURST} changes at once, each to its own contract", burst, settle, trend=False) and ok
    print(f"  the section took {time.monotonic() - began:.0f} s; load average {load_average()} "
          f"(the figures are this machine's, shared with whatever else ran)")
    return ok
